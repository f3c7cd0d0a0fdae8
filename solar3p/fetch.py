"""``python -m solar3p fetch``: download a forecast file, written atomically in Meteoserver "solar" layout and
stamped with top-level ``"issued"`` (unix seconds of the download, a string) and ``"provider"``.

Sources (base URLs are settings, so tests point them at a local server):
- ``meteoserver``: ``{METEOSERVER_URL}/solar.php?locatie=NAME&key=KEY`` (or ``lat``/``long``), needs
  METEOSERVER_KEY. Meteoserver writes ``-`` for a value it lacks (the file reader makes it NULL, the row
  stays) and now and then answers without a ``forecast`` list: that answer is retried after 1, 2, 4 s.
- ``open-meteo``: ``{OPEN_METEO_URL}/v1/forecast`` with hourly radiation, temperature and clouds, no key,
  from local midnight of the day the download starts in (``past_days=1``, trimmed) for FORECAST_DAYS days.
- ``open-meteo`` with a date range: ``{OPEN_METEO_HISTORY_URL}/v1/forecast`` (the historical forecast API:
  the forecast API's parameters plus ``start_date``/``end_date``), in chunks of HISTORY_CHUNK_DAYS local
  days, each row stamped with its own ``issued`` (see HISTORY_LEAD_S), written once at the end.

Bounded: every body is capped (``download.MAX_BODY_BYTES``) and the whole fetch has one wall-clock
deadline. The download is checked (parsed as a forecast) before it replaces the previous file; a failed or
bad download leaves the last good file in place. The key never appears in a message.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo

from solar3p.environment import http_url, read_environment
from solar3p.errors import ConfigError, DataError, Solar3pError, UsageError
from solar3p import download
from solar3p.download import Deadline, ServiceError
from solar3p.files import DUTCH, dump_lines, write_forecast
from solar3p.errors import MeteoFileError, shown
from solar3p.settings import FORECAST_FILE_PROVIDERS
from solar3p.meteo import MISSING, parse_meteo, parse_row

log = logging.getLogger(__name__)

# what --source names (the archive's forecast_provider): every provider a forecast file may say but "file"
PROVIDERS = tuple(name for name in FORECAST_FILE_PROVIDERS if name != "file")
DEFAULT_URLS = {
    "METEOSERVER_URL": "https://data.meteoserver.nl/api",
    "OPEN_METEO_URL": "https://api.open-meteo.com",
    "OPEN_METEO_HISTORY_URL": "https://historical-forecast-api.open-meteo.com",
}
DEADLINE_S = 60.0  # a whole forecast fetch, retries included
HISTORY_CHUNK_S = 20.0  # the deadline grows by this much for every further chunk of a range
METEOSERVER_PAUSES_S = (1.0, 2.0, 4.0)  # before each retry of an answer without a forecast list
FORECAST_DAYS = 5
HISTORY_CHUNK_DAYS = 31  # ~70 KB an answer with our 9 variables, far below the body cap
MAX_HISTORY_DAYS = 5 * 366  # one run's file stays a few MB; run again for more years
# open-meteo.com/en/docs/historical-forecast-api: "Past weather forecasts from 2022 onwards are available."
HISTORY_FIRST_DAY = date(2022, 1, 1)
# The historical forecast series is stitched from the first hours of each model run (runs every 1-3 h for
# the Central-European models Best Match uses here, 6 h for the global ones): an hour's value was computed
# by a run initialised at most a few hours before it. Rows are stamped issued = hour start - 3 h.
HISTORY_LEAD_S = 3 * 3600
OPEN_METEO_HOURLY = (
    "shortwave_radiation",
    "temperature_2m",
    "cloud_cover",
    "cloud_cover_low",
    "cloud_cover_mid",
    "cloud_cover_high",
    "visibility",
    "precipitation",
    "sunshine_duration",
)
OPEN_METEO_REQUIRED = ("shortwave_radiation", "temperature_2m", "cloud_cover")


@dataclass(frozen=True)
class Fetched:
    """What a fetch wrote: ``hours`` rows; ``repeated`` entries left out because the service sent their
    hour more than once (the last of each is kept)."""

    hours: int
    repeated: int = 0

    def summary(self) -> str:
        extra = f" ({self.repeated} repeated hour(s) left out: the last of each kept)" if self.repeated else ""
        return f"{self.hours} forecast hours{extra}"


@dataclass(frozen=True)
class Site:
    """Where to fetch for: ``place`` names it in the file; ``tz`` is SITE_TIMEZONE (the local day)."""

    lat: float
    lon: float
    tz: ZoneInfo
    place: str


def base_url(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A source's base URL from the environment / .env or its default."""
    return http_url(read_environment(environ=environ), name, DEFAULT_URLS[name])


def meteoserver_query(key: str, location: str | None, lat: float | None, lon: float | None) -> dict:
    if location:
        return {"locatie": location, "key": key}
    return {"lat": f"{lat:.4f}", "long": f"{lon:.4f}", "key": key}


def open_meteo_query(lat: float, lon: float) -> dict:
    # GMT and unix times: no local-time ambiguity to undo; the local day is cut here.
    return {
        "latitude": f"{lat:.4f}",
        "longitude": f"{lon:.4f}",
        "hourly": ",".join(OPEN_METEO_HOURLY),
        "timezone": "GMT",
        "timeformat": "unixtime",
    }


def local_midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, clock(0), tzinfo=tz).timestamp())


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"  # "-": Meteoserver's "no value"


def _series(hourly: dict, name: str, n: int) -> list[float | None]:
    values = hourly.get(name)
    if values is None:
        if name in OPEN_METEO_REQUIRED:
            raise DataError(f"Open-Meteo answer lacks hourly {name}: cannot make a forecast file")
        return [None] * n
    if not isinstance(values, list) or len(values) != n:
        raise DataError(f"Open-Meteo hourly {name} is not a list as long as its times")
    out: list[float | None] = []
    for value in values:
        if value is None:
            out.append(None)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
        else:
            what = shown(value) if isinstance(value, (str, int, float)) else f"a {type(value).__name__}"
            raise DataError(f"Open-Meteo hourly {name} has {what}, not a number")
    return out


def open_meteo_rows(document: object, latitude: float, longitude: float) -> list[dict]:
    """Open-Meteo hourly JSON (unix times) -> Meteoserver "solar" rows (every value a string).

    Open-Meteo stamps ``shortwave_radiation`` (and precipitation, sunshine) at the END of the hour it
    averages; Meteoserver stamps an hour at its start. So the row for the hour starting at T takes the
    radiation stamped T+1h; temperature and clouds, instantaneous, are the mean of T and T+1h (the hour's
    middle). An hour that lacks a value (not yet computed, or outside the archive) keeps its row with ``-``
    there, as Meteoserver writes it; an hour with none of radiation, temperature and cloud cover has no row."""
    hourly = document.get("hourly") if isinstance(document, dict) else None
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise DataError("Open-Meteo answer has no hourly times: cannot make a forecast file")
    times = hourly["time"]
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in times):
        raise DataError("Open-Meteo hourly times are not unix seconds")
    if any(b - a != 3600 for a, b in zip(times, times[1:], strict=False)):
        raise DataError("Open-Meteo hourly times are not consecutive hours")
    series = {name: _series(hourly, name, len(times)) for name in OPEN_METEO_HOURLY}

    def mid(name: str, i: int) -> float | None:
        known = [v for v in series[name][i : i + 2] if v is not None]
        return sum(known) / len(known) if known else None

    # An hour stays when any of the weather the collector stores is known; "-" for what is not.
    def known(i: int) -> bool:
        return series["shortwave_radiation"][i + 1] is not None or any(
            mid(name, i) is not None for name in ("temperature_2m", "cloud_cover")
        )

    starts = [i for i in range(len(times) - 1) if known(i)]
    if not starts:
        return []

    import pandas as pd
    import pvlib

    index = pd.to_datetime([times[i] for i in starts], unit="s", utc=True)
    sun = pvlib.solarposition.get_solarposition(index, latitude, longitude)
    rows = []
    for k, i in enumerate(starts):
        start = times[i]
        ghi = series["shortwave_radiation"][i + 1]
        sunshine = series["sunshine_duration"][i + 1]
        rows.append(
            {
                "time": str(start),
                "cet": datetime.fromtimestamp(start, timezone.utc).astimezone(DUTCH).strftime("%d-%m-%Y %H:%M"),
                "elev": f"{sun['apparent_elevation'].iloc[k]:.1f}",
                "az": f"{sun['azimuth'].iloc[k]:.0f}",
                "temp": _fmt(mid("temperature_2m", i)),
                "gr": _fmt(None if ghi is None else ghi * 0.36, 0),  # W/m² over an hour -> J/cm²
                "gr_w": _fmt(ghi, 0),
                "sd": _fmt(None if sunshine is None else sunshine / 60, 0),  # s -> minutes
                "tc": _fmt(mid("cloud_cover", i), 0),
                "lc": _fmt(mid("cloud_cover_low", i), 0),
                "mc": _fmt(mid("cloud_cover_mid", i), 0),
                "hc": _fmt(mid("cloud_cover_high", i), 0),
                "vis": _fmt(series["visibility"][i], 0),
                "prec": _fmt(series["precipitation"][i + 1]),
            }
        )
    return rows


def _checked(document: dict, service: str, url: str) -> int:
    """Check a downloaded document as a forecast file is checked (``parse_meteo``), after putting its rows
    in order, one per hour (``one_row_per_hour``: Meteoserver sends an hour twice now and then). One that is
    not a forecast of the layout is the service's bad answer (65), named by its URL, never written (a bad
    forecast never replaces a good file). Returns how many repeated hours were dropped."""
    try:
        repeated = 0
        if isinstance(document.get("forecast"), list):
            document["forecast"], repeated = one_row_per_hour(document["forecast"])
        parse_meteo(document, url)
    except MeteoFileError as exc:
        where = f" (field {exc.field!r})" if exc.field else ""
        problem = exc.problem or str(exc)
        raise ServiceError(
            f"{service} {url} sent an answer{where} that is no forecast: {problem}", service, url, 200, problem
        ) from exc
    return repeated


def one_row_per_hour(items: list) -> tuple[list, int]:
    """Forecast entries sorted by time, one per hour: of an hour sent more than once the last entry is
    kept. Returns them and how many repeats were dropped."""
    last = {parse_row(Path("<answer>"), i, item).time: item for i, item in enumerate(items)}
    return [last[t] for t in sorted(last)], len(items) - len(last)


def _head(place: str, issued: int, provider: str) -> dict:
    return {"plaatsnaam": [{"plaats": place}], "current": [], "issued": str(issued), "provider": provider}


def _kept(err: Solar3pError, out: Path) -> Solar3pError:
    """The error with what became of the target said, its type and fields unchanged."""
    tail = f"nothing written, {out} is kept as it was" if out.exists() else f"nothing written to {out}"
    err.args = (f"{err}; {tail}",)
    return err


def _write(out: Path, text_or_document: str | dict) -> None:
    try:
        if isinstance(text_or_document, str):
            from solar3p.files import write_atomic

            write_atomic(out, text_or_document, mode=0o644)
        else:
            write_forecast(out, text_or_document)
    except OSError as exc:
        raise ConfigError(f"cannot write the forecast to {out}: {exc.strerror or exc}") from exc


def fetch(
    source: str,
    out: Path,
    location: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    key: str | None = None,
    environ: Mapping[str, str] | None = None,
    tz: ZoneInfo | None = None,
    timeout: float | None = None,
) -> Fetched:
    """Download the latest forecast to ``out`` (atomically); returns what it wrote.
    Nothing is written on any error."""
    if source not in PROVIDERS:
        raise ConfigError(f"unknown forecast source {source!r}: use {' or '.join(PROVIDERS)}")
    lat = 51.92 if lat is None else lat
    lon = 4.48 if lon is None else lon
    site = Site(lat=lat, lon=lon, tz=tz or ZoneInfo("UTC"), place=location or f"{lat:.4f},{lon:.4f}")
    deadline = Deadline(timeout or DEADLINE_S)
    repeated = 0
    try:
        if source == "meteoserver":
            document, repeated = _meteoserver(key, location, lat, lon, environ, deadline)
        else:
            document = _open_meteo(site, environ, deadline)
    except Solar3pError as err:
        _kept(err, out)
        raise
    except RecursionError as exc:  # a structure deeper than any forecast, past the JSON decoder
        raise _kept(DataError(f"{source} answered a structure nested too deep to be a forecast"), out) from exc
    _write(out, document)
    return Fetched(len(document["forecast"]), repeated)  # the caller says it, once


def _meteoserver(
    key: str | None,
    location: str | None,
    lat: float | None,
    lon: float | None,
    environ: Mapping[str, str] | None,
    deadline: Deadline,
) -> tuple[dict, int]:
    if not key:
        raise ConfigError(
            "METEOSERVER_KEY is not set: get a key at meteoserver.nl, or use --source open-meteo (no key)"
        )
    url = base_url("METEOSERVER_URL", environ) + "/solar.php"
    service = "Meteoserver"
    params = meteoserver_query(key, location, lat, lon)
    pauses = list(METEOSERVER_PAUSES_S)
    with deadline.enforced(service, url):
        while True:
            body = download.get(service, url, params, deadline, secret=key, key_name="METEOSERVER_KEY")
            issued = int(time.time())
            document = download.decode_json(body, service, url)
            if not isinstance(document, dict):
                raise ServiceError(f"{service} {url} answered JSON that is not an object", service, url)
            if isinstance(document.get("forecast"), list) and document["forecast"]:
                break
            # Meteoserver sends an answer without a forecast now and then; clients retry.
            reason = download.reason_of(json.dumps(document).encode())
            said = f" ({reason})" if reason else ""
            if not pauses or not deadline.sleep(pauses[0]):
                tries = len(METEOSERVER_PAUSES_S) + 1 - len(pauses)
                raise ServiceError(
                    f"{service} {url} answered without a forecast list {tries} time(s){said}; "
                    f"try again later, or use --source open-meteo",
                    service,
                    url,
                    200,
                    reason,
                )
            log.info("%s answered without a forecast list%s; retrying in %g s", service, said, pauses[0])
            pauses.pop(0)
    repeated = _checked(document, service, url)
    if all(row.get("gr_w") in (None, *MISSING) for row in document["forecast"] if isinstance(row, dict)):
        # Every irradiance "-" (it lacks them now and then): no forecast to plan with, so the last good file stays.
        raise ServiceError(
            f"{service} {url} answered no forecast hour with irradiance (every gr_w is '-'); try again later, "
            "or use --source open-meteo",
            service,
            url,
            200,
            "no irradiance",
        )
    document["issued"] = str(issued)
    document["provider"] = "meteoserver"
    return document, repeated


def _open_meteo(site: Site, environ: Mapping[str, str] | None, deadline: Deadline) -> dict:
    url = base_url("OPEN_METEO_URL", environ) + "/v1/forecast"
    service = "Open-Meteo"
    # past_days=1 and a cut at local midnight: with timezone=GMT the series starts at 00:00 UTC, so without
    # it the first local hours of today (east of Greenwich) would have no row.
    params = dict(open_meteo_query(site.lat, site.lon), past_days="1", forecast_days=str(FORECAST_DAYS))
    with deadline.enforced(service, url):
        started = time.time()
        body = download.get(service, url, params, deadline)
        issued = int(time.time())
        raw = download.decode_json(body, service, url)
        rows = open_meteo_rows(raw, site.lat, site.lon)
    today = datetime.fromtimestamp(started, site.tz).date()
    first = local_midnight(today, site.tz)
    rows = [row for row in rows if int(row["time"]) >= first]
    if not rows:
        raise ServiceError(f"{service} {url} answered no forecast hour from today on", service, url)
    document = dict(_head(site.place, issued, "open-meteo"), forecast=rows)
    _checked(document, service, url)
    return document


def history_chunks(
    first: date, end: date, tz: ZoneInfo, days: int = HISTORY_CHUNK_DAYS
) -> Iterator[tuple[int, int, date, date]]:
    """[first, end) in local days as (lo, hi, start_date, end_date): unix bounds of the local days and the
    GMT dates to ask for (inclusive; the day of ``hi`` too, for the last hour's end-stamped radiation)."""
    day = first
    while day < end:
        stop = min(end, day + timedelta(days=days))
        lo, hi = local_midnight(day, tz), local_midnight(stop, tz)
        utc = lambda t: datetime.fromtimestamp(t, timezone.utc).date()  # noqa: E731
        yield lo, hi, utc(lo), utc(hi)
        day = stop


def fetch_history(
    out: Path,
    first: date,
    end: date,
    lat: float,
    lon: float,
    tz: ZoneInfo,
    place: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> int:
    """Past forecasts of the local days [first, end) from Open-Meteo's historical forecast API, fetched in
    chunks and written to ``out`` once, each row with its own ``issued``. Returns the hours written."""
    days = (end - first).days
    if days < 1:
        raise UsageError(f"--to {end} must be after --from {first} (the range is [from, to), local days)")
    if first < HISTORY_FIRST_DAY:
        raise UsageError(
            f"--from {first} is before {HISTORY_FIRST_DAY}: Open-Meteo's historical forecast service has past "
            f"forecasts from {HISTORY_FIRST_DAY} on"
        )
    today = datetime.now(tz).date()
    if end > today:
        raise UsageError(
            f"--to {end} is in the future (today is {today}, {tz.key}): past forecasts cover whole local days up to "
            f"today (--to {today} at the latest); for today's forecast, fetch without --from/--to"
        )
    if days > MAX_HISTORY_DAYS:
        raise UsageError(
            f"{days} days is more than {MAX_HISTORY_DAYS} in one run: split the range (one file per run, "
            f"each stored with history_collector.py --archive)"
        )
    chunks = list(history_chunks(first, end, tz))
    url = base_url("OPEN_METEO_HISTORY_URL", environ) + "/v1/forecast"
    service = "Open-Meteo historical forecast"
    deadline = Deadline(timeout or DEADLINE_S + HISTORY_CHUNK_S * (len(chunks) - 1))
    lines: list[str] = []  # rows as text: a multi-year range stays a few MB
    try:
        with deadline.enforced(service, url):
            for lo, hi, start_date, end_date in chunks:
                # East of Greenwich the first local day begins on the GMT day before: never ask before the first.
                start_date = max(start_date, HISTORY_FIRST_DAY)
                params = dict(open_meteo_query(lat, lon), start_date=str(start_date), end_date=str(end_date))
                raw = download.decode_json(download.get(service, url, params, deadline), service, url)
                rows = [row for row in open_meteo_rows(raw, lat, lon) if lo <= int(row["time"]) < hi]
                for row in rows:
                    row["issued"] = str(int(row["time"]) - HISTORY_LEAD_S)
                if rows:
                    _checked({"forecast": rows}, service, url)
                lines.extend(json.dumps(row, separators=(",", ":")) for row in rows)
                log.info("%s: %d hours from %s to %s", service, len(rows), start_date, end_date)
        if not lines:
            raise ServiceError(
                f"{service} {url} has no forecast hour for {first} to {end} (its archive starts in 2022)",
                service,
                url,
            )
    except Solar3pError as err:
        _kept(err, out)
        raise
    except RecursionError as exc:
        raise _kept(DataError(f"{service} answered a structure nested too deep to be a forecast"), out) from exc
    head = _head(place or f"{lat:.4f},{lon:.4f}", int(time.time()), "open-meteo")
    _write(out, dump_lines(head, lines))
    return len(lines)  # the caller says it, once
