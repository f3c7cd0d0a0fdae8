"""Reading a Meteoserver "solar" forecast file. Light on purpose (stdlib only): the collector imports it.

Layout: ``{"issued": unix, "provider": …, "plaatsnaam": [{"plaats": …}], "current": […], "forecast": [{"time":
unix, "issued": unix, "cet": …, "elev", "az", "temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis",
"prec"}]}``, every value a string. A row covers the hour starting at ``time`` (the truth; ``cet`` is Dutch
local time and is kept only for display). ``gr_w`` is the hour's mean global horizontal irradiance (W/m²),
``tc`` total cloud cover (%), ``temp`` air temperature (°C).

``issued`` (top level: when the file was downloaded; in a row: when that row was forecast, for past
forecasts) and ``provider`` (``meteoserver``, ``open-meteo``) are written by ``python -m solar3p fetch``;
older files lack them (None here; the archive then uses the file's mtime and provider ``file``).
Meteoserver writes ``-`` for a value it lacks: that field is None and the row stays (no kWh for it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from solar3p.errors import MeteoFileError, shown

NUMERIC_FIELDS = ("elev", "az", "temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis", "prec")
# The fields the collector stores: a file where no row has any of them is not a forecast of the contract's
# layout (a row may lack them, or give "-": that hour's value is unknown).
WEATHER_FIELDS = ("gr_w", "tc", "temp")
MISSING = ("", "-", "null")  # Meteoserver's "-", and what other writers put for "no value"
# Bounds on what one file may hold (memory stays bounded whatever the input): five years of hours, as
# `fetch --from --to` writes at most in one run, are ~44,000 rows and ~9.4 MB.
MAX_BYTES = 12 * 1024 * 1024
MAX_ROWS = 60_000
PROVIDER = re.compile(r"^[a-z0-9][a-z0-9-]{0,15}$")  # fits forecast.provider VARCHAR(16)


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
    if _missing(raw):
        return None
    if isinstance(raw, bool):
        raise MeteoFileError(path, f"{where} has {shown(raw)}, not a number", name)
    try:
        value = float(raw)  # type: ignore[arg-type]  # a string or number; anything else is caught below
    except (TypeError, ValueError):
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
    values = {name: _field_number(path, where, name, item.get(name)) for name in NUMERIC_FIELDS}
    issued = _unix(path, where, "issued", item.get("issued"))
    return MeteoRow(time=time, cet=str(item.get("cet") or ""), issued=issued, **values)


def _provider(path: Path, raw: object) -> str | None:
    if _missing(raw):
        return None
    text = str(raw).strip().lower() if isinstance(raw, str) else ""
    if not PROVIDER.match(text):
        raise MeteoFileError(path, f"has provider {shown(raw)}, not a service name such as meteoserver", "provider")
    return text


class _Rows:
    """Forecast rows as they are parsed, one at a time: one per hour (a later duplicate wins)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_time: dict[int, MeteoRow] = {}
        self.count = 0
        self.fields: set[str] = set()

    def add(self, item: object) -> None:
        if self.count >= MAX_ROWS:
            raise MeteoFileError(self.path, f"has more than {MAX_ROWS:,} forecast rows: split it", "forecast")
        row = parse_row(self.path, self.count, item)
        self.count += 1
        if len(self.fields) < len(WEATHER_FIELDS) and isinstance(item, dict):
            self.fields.update(name for name in WEATHER_FIELDS if name in item)
        self.by_time[row.time] = row


def _finish(path: Path, header: dict, rows: _Rows | None) -> MeteoFile:
    if rows is None:
        raise MeteoFileError(path, "has no forecast list", "forecast")
    if not rows.count:
        raise MeteoFileError(path, "has an empty or malformed forecast list", "forecast")
    for name in WEATHER_FIELDS:
        if name not in rows.fields:
            raise MeteoFileError(path, "no forecast row has it", name)
    issued = _unix(path, "the file", "issued", header.get("issued"))
    by_time = rows.by_time
    return MeteoFile(
        issued=issued, provider=_provider(path, header.get("provider")), rows=[by_time[t] for t in sorted(by_time)]
    )


def parse_meteo_file(document: object, path: Path | str = "<forecast>") -> MeteoFile:
    """A decoded Meteoserver document as a MeteoFile: rows sorted by time, one per hour (a later duplicate
    wins). Anything not of the layout -> MeteoFileError (65) naming the field."""
    path = Path(path)
    if not isinstance(document, dict):
        raise MeteoFileError(path, "is not a JSON object")
    rows = None
    if "forecast" in document:
        items = document["forecast"]
        if not isinstance(items, list):
            raise MeteoFileError(path, "has an empty or malformed forecast list", "forecast")
        rows = _Rows(path)
        for item in items:
            rows.add(item)
    return _finish(path, document, rows)


_WS = re.compile(r"[ \t\n\r]*")


def _scan_file(path: Path, text: str) -> MeteoFile:
    """``parse_meteo_file(json.loads(text))`` without holding the decoded document: the top-level object
    is read member by member and the forecast list row by row, so a file of years of hours needs memory
    for its rows, not for a tree of every string in it."""
    try:
        return _scan_object(path, text)
    except json.JSONDecodeError as exc:
        raise MeteoFileError(path, f"is not complete JSON (truncated?) at line {exc.lineno}") from None
    except RecursionError:
        raise MeteoFileError(path, "is nested too deeply to be a forecast file") from None


def _bad(text: str, pos: int) -> json.JSONDecodeError:
    return json.JSONDecodeError("unexpected character", text, pos)


def _scan_object(path: Path, text: str) -> MeteoFile:
    decoder = json.JSONDecoder()
    header: dict = {}
    rows: _Rows | None = None

    def skip(pos: int) -> int:
        match = _WS.match(text, pos)
        return match.end() if match else pos

    pos = skip(0)
    if not text.startswith("{", pos):
        decoder.raw_decode(text, pos)  # not JSON at all: says where
        raise MeteoFileError(path, "is not a JSON object")
    pos = skip(pos + 1)
    if text.startswith("}", pos):
        return _finish(path, header, rows)
    while True:
        key, pos = decoder.raw_decode(text, pos)
        if not isinstance(key, str):
            raise _bad(text, pos)
        pos = skip(pos)
        if not text.startswith(":", pos):
            raise _bad(text, pos)
        pos = skip(pos + 1)
        if key == "forecast" and text.startswith("[", pos):
            rows = _Rows(path)  # a repeated key: the last one counts, as in json.loads
            pos = skip(pos + 1)
            if text.startswith("]", pos):
                pos += 1
            else:
                while True:
                    item, pos = decoder.raw_decode(text, pos)
                    rows.add(item)
                    pos = skip(pos)
                    if text.startswith(",", pos):
                        pos = skip(pos + 1)
                    elif text.startswith("]", pos):
                        pos += 1
                        break
                    else:
                        raise _bad(text, pos)
        else:
            value, pos = decoder.raw_decode(text, pos)
            if key == "forecast":
                raise MeteoFileError(path, "has an empty or malformed forecast list", "forecast")
            header[key] = value
        pos = skip(pos)
        if text.startswith(",", pos):
            pos = skip(pos + 1)
        elif text.startswith("}", pos):
            if skip(pos + 1) != len(text):
                raise _bad(text, pos)  # more after the object
            return _finish(path, header, rows)
        else:
            raise _bad(text, pos)


def parse_meteo(document: object, path: Path | str = "<forecast>") -> list[MeteoRow]:
    """The rows of a decoded Meteoserver document (see ``parse_meteo_file``)."""
    return parse_meteo_file(document, path).rows


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise MeteoFileError(path, f"is larger than {MAX_BYTES // 1024 // 1024} MiB: not a forecast file")
        return data.decode("utf-8")
    except FileNotFoundError:
        raise MeteoFileError(path, "does not exist (set METEO_FILE or run `python -m solar3p fetch`)") from None
    except IsADirectoryError:
        raise MeteoFileError(path, "is a directory, not a forecast file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MeteoFileError(path, f"cannot be read: {exc.__class__.__name__}") from None


def _decode(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeteoFileError(path, f"is not complete JSON (truncated?) at line {exc.lineno}") from None
    except RecursionError:
        raise MeteoFileError(path, "is nested too deeply to be a forecast file") from None


def load_document(path: Path | str) -> object:
    """The decoded JSON of a forecast file. Missing, unreadable or truncated -> MeteoFileError (65)."""
    path = Path(path)
    return _decode(path, _read_text(path))


def read_meteo_file(path: Path | str) -> MeteoFile:
    """Read and check a forecast file, stamps and rows. Any problem -> MeteoFileError (65) naming the file."""
    path = Path(path)
    return _scan_file(path, _read_text(path))


def read_meteo(path: Path | str) -> list[MeteoRow]:
    """Read and check a forecast file: its rows (see ``read_meteo_file``)."""
    return read_meteo_file(path).rows
