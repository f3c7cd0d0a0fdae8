"""The forecast file's rows and the checks every reading makes. Light on purpose (stdlib only): the
collector imports it.

There is one reader of forecast files, ``solar3p.meteostream`` (streaming, bounded memory), with the checks
here (``RowChecks``): the model and ``python -m solar3p`` read through ``read_meteo_file`` (the stream's rows,
one per hour), the archive (``history_collector.py``) stores the stream's rows as they come, and ``fetch``
checks a download with ``parse_meteo_file`` (a decoded document, the same checks). So a file is good or bad
for all of them alike, with the same message.

Layout: ``{"issued": unix, "provider": …, "plaatsnaam": [{"plaats": …}], "current": […], "forecast": [{"time":
unix, "issued": unix, "cet": …, "elev", "az", "temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis",
"prec"}]}``, every value a string. A row covers the hour starting at ``time`` (the truth; ``cet`` is Dutch
local time and is kept only for display). ``gr_w`` is the hour's mean global horizontal irradiance (W/m²),
``tc`` total cloud cover (%), ``temp`` air temperature (°C).

``issued`` (top level: when the file was downloaded; in a row: when that row was forecast, for past
forecasts) and ``provider`` (``meteoserver``, ``open-meteo``) are written by ``python -m solar3p fetch``;
older files lack them (None here; the archive then uses the file's mtime and provider ``file``).
A file holds one forecast per hour and issue: an hour may come several times only with different
``issued`` (past forecasts), and ``read_meteo_file`` then gives the model the newest of them.
Meteoserver writes ``-`` for a value it lacks: that field is None and the row stays (no kWh for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from solar3p.errors import MeteoFileError, shown
from solar3p.settings import FORECAST_FILE_PROVIDERS as PROVIDERS

NUMERIC_FIELDS = ("elev", "az", "temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis", "prec")
# The fields the collector stores: a file where no row has any of them is not a forecast of the contract's
# layout (a row may lack them, or give "-": that hour's value is unknown).
WEATHER_FIELDS = ("gr_w", "tc", "temp")
# What each of them can be (an hour's mean irradiance stays far below 2000 W/m² even under broken clouds; the
# coldest and hottest air measured on Earth, -89 and 57 °C): beyond is a broken file or a "no value" marker
# such as -999999, which would poison every hour joined with it.
WEATHER_RANGES = {"gr_w": (-50.0, 2000.0, "W/m²"), "tc": (0.0, 100.0, "%"), "temp": (-100.0, 100.0, "°C")}
MISSING = ("", "-", "null")  # Meteoserver's "-", and what other writers put for "no value"
# Bounds on what one file may hold (memory stays bounded whatever the input): five years of hours, as
# `fetch --from --to` writes at most in one run, are ~44,000 rows and ~9.4 MB.
MAX_BYTES = 12 * 1024 * 1024
MAX_ROWS = 60_000


@dataclass(frozen=True, slots=True)  # slots: years of rows stay small in memory
class MeteoRow:
    """One forecast hour. ``time``: unix seconds of the hour's start. Values None where the file has none."""

    time: int
    cet: str
    elev: float | None  # sun elevation at the hour's start, degrees
    az: float | None  # sun azimuth at the hour's start, degrees
    temp: float | None  # air temperature, °C
    gr: float | None  # global radiation as Meteoserver gives it (J/cm² over the hour)
    gr_w: float | None  # mean global horizontal irradiance over the hour, W/m²
    sd: float | None  # sunshine duration, minutes
    tc: float | None  # total cloud cover, %
    lc: float | None  # low cloud cover, %
    mc: float | None  # middle cloud cover, %
    hc: float | None  # high cloud cover, %
    vis: float | None  # visibility, m
    prec: float | None  # precipitation, mm
    issued: int | None = None  # unix seconds this row was forecast, where the row says (past forecasts)


@dataclass(frozen=True)
class MeteoFile:
    """A whole forecast file: its top-level stamps (None where absent) and its rows, sorted by time."""

    issued: int | None  # unix seconds of the download (top-level "issued")
    provider: str | None  # top-level "provider", lower case
    rows: list[MeteoRow]


def _missing(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip().lower() in MISSING)


def _field_number(path: Path, where: str, name: str, raw: object) -> float | None:
    try:  # the common case first: a number as a string, read once (a year's file has ~100,000 of them)
        if raw is None or isinstance(raw, bool):
            raise TypeError
        value = float(raw)  # type: ignore[arg-type]  # a string or number; anything else is caught below
    except (TypeError, ValueError):
        if _missing(raw):
            return None
        raise MeteoFileError(path, f"{where} has {shown(raw)}, not a number", name) from None
    if not math.isfinite(value):
        raise MeteoFileError(path, f"{where} has {shown(raw)}, not a finite number", name)
    return value


def _unix(path: Path, where: str, name: str, raw: object) -> int | None:
    value = _field_number(path, where, name, raw)
    if value is None:
        return None
    # Whole seconds between 1970 and 2200: a millisecond stamp or a stray number is not a time.
    if value != int(value) or not 0 <= value < 7_258_118_400:
        raise MeteoFileError(path, f"{where} has {shown(raw)}, not a whole unix time in seconds", name)
    return int(value)


def parse_row(path: Path, index: int, item: object) -> MeteoRow:
    """One ``forecast`` entry as a MeteoRow; MeteoFileError names the field that is missing or bad."""
    where = f"forecast row {index}"
    if not isinstance(item, dict):
        raise MeteoFileError(path, f"{where} is not an object")
    if _missing(item.get("time")):
        raise MeteoFileError(path, f"{where} has no value", "time")
    time = _unix(path, where, "time", item["time"])
    assert time is not None  # checked just above
    if time % 3600:  # a row covers the hour starting at ``time``: the archive's join looks for hour starts
        when = datetime.fromtimestamp(time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        raise MeteoFileError(path, f"{where} has time {time} ({when} UTC), not the start of an hour", "time")
    values = {name: _field_number(path, where, name, item.get(name)) for name in NUMERIC_FIELDS}
    for name, (lo, hi, unit) in WEATHER_RANGES.items():
        value = values[name]
        if value is not None and not lo <= value <= hi:
            raise MeteoFileError(
                path, f"{where} has {shown(item.get(name))}, out of range ({lo:g} to {hi:g} {unit})", name
            )
    issued = _unix(path, where, "issued", item.get("issued"))
    return MeteoRow(time=time, cet=str(item.get("cet") or ""), issued=issued, **values)


def parse_provider(path: Path, raw: object) -> str | None:
    """The top-level ``provider``, lower case; None when absent."""
    if _missing(raw):
        return None
    text = raw.strip().lower() if isinstance(raw, str) else ""
    if text not in PROVIDERS:
        raise MeteoFileError(path, f"has provider {shown(raw)}, not one of {', '.join(PROVIDERS)}", "provider")
    return text


def parse_issued(path: Path, raw: object) -> int | None:
    """The top-level ``issued`` (unix seconds); None when absent."""
    return _unix(path, "the file", "issued", raw)


class RowChecks:
    """The checks of a file's ``forecast`` list, made as its rows come one at a time: each row well formed
    and at an hour start, at most MAX_ROWS of them, no hour twice with the same ``issued``; at the end
    (``finish``) exactly one list, not empty, and each of WEATHER_FIELDS in some row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.fields: set[str] = set()
        self.seen: dict[tuple[int, int | None], int] = {}  # (time, issued) -> row index: MAX_ROWS at most

    def row(self, item: object) -> MeteoRow:
        if self.count >= MAX_ROWS:
            raise MeteoFileError(self.path, f"has more than {MAX_ROWS:,} forecast rows: split it", "forecast")
        row = parse_row(self.path, self.count, item)
        first = self.seen.setdefault((row.time, row.issued), self.count)
        if first != self.count:
            issue = "" if row.issued is None else f" issued {row.issued}"
            raise MeteoFileError(
                self.path,
                f"forecast row {self.count} repeats row {first}: the hour {row.time}{issue} twice (one forecast "
                "per hour and issue)",
                "time",
            )
        if len(self.fields) < len(WEATHER_FIELDS) and isinstance(item, dict):
            self.fields.update(name for name in WEATHER_FIELDS if name in item)
        self.count += 1
        return row

    def finish(self, lists: int) -> None:
        if lists != 1:
            problem = "has no forecast list" if not lists else "has two forecast lists"
            raise MeteoFileError(self.path, problem, "forecast")
        if not self.count:
            raise MeteoFileError(self.path, "has an empty or malformed forecast list", "forecast")
        for name in WEATHER_FIELDS:
            if name not in self.fields:
                raise MeteoFileError(self.path, "no forecast row has it", name)


def one_per_hour(rows: Iterable[MeteoRow]) -> list[MeteoRow]:
    """The model's rows: one per hour, sorted by time; of several issues of an hour, the newest (a row
    without its own ``issued`` is the file's, older than any row that has one)."""
    newest: dict[int, MeteoRow] = {}
    for row in rows:
        kept = newest.get(row.time)
        if kept is None or (row.issued or -1) > (kept.issued or -1):
            newest[row.time] = row
    return [newest[t] for t in sorted(newest)]


def parse_meteo_file(document: object, path: Path | str = "<forecast>") -> MeteoFile:
    """A decoded Meteoserver document (a download being checked) as a MeteoFile, with the checks of a file
    (``RowChecks``): rows one per hour (``one_per_hour``). Anything not of the layout -> MeteoFileError (65)
    naming the field."""
    path = Path(path)
    if not isinstance(document, dict):
        raise MeteoFileError(path, "is not a JSON object")
    checks = RowChecks(path)
    rows = []
    if "forecast" in document:
        items = document["forecast"]
        if not isinstance(items, list):
            raise MeteoFileError(path, "has an empty or malformed forecast list", "forecast")
        rows = [checks.row(item) for item in items]
    checks.finish(1 if "forecast" in document else 0)
    issued, provider = parse_issued(path, document.get("issued")), parse_provider(path, document.get("provider"))
    return MeteoFile(issued=issued, provider=provider, rows=one_per_hour(rows))


def parse_meteo(document: object, path: Path | str = "<forecast>") -> list[MeteoRow]:
    """The rows of a decoded Meteoserver document (see ``parse_meteo_file``)."""
    return parse_meteo_file(document, path).rows


def read_meteo_file(path: Path | str) -> MeteoFile:
    """Read and check a forecast file (``solar3p.meteostream``, the one reader): its stamps and its rows,
    one per hour (``one_per_hour``). Any problem -> MeteoFileError (65) naming the file."""
    from solar3p.meteostream import open_meteo_stream

    with open_meteo_stream(path) as stream:
        rows = one_per_hour(row for _, row in stream.rows())
        return MeteoFile(issued=stream.issued, provider=stream.provider, rows=rows)


def read_meteo(path: Path | str) -> list[MeteoRow]:
    """Read and check a forecast file: its rows (see ``read_meteo_file``)."""
    return read_meteo_file(path).rows


def in_range(name: str, value: float | None) -> float | None:
    """``value`` of weather field ``name`` where it lies in WEATHER_RANGES, else None (for values stored
    before the reader checked them)."""
    lo, hi, _ = WEATHER_RANGES[name]
    return value if value is None or lo <= value <= hi else None
