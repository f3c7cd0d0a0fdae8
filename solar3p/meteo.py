"""Reading a Meteoserver "solar" forecast file. Light on purpose (stdlib only): the collector imports it.

Layout: ``{"plaatsnaam": [{"plaats": …}], "current": […], "forecast": [{"time": unix, "cet": …, "elev", "az",
"temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis", "prec"}]}``, every value a string. A row covers
the hour starting at ``time`` (the truth; ``cet`` is Dutch local time and is kept only for display).
``gr_w`` is the hour's mean global horizontal irradiance (W/m²), ``tc`` total cloud cover (%), ``temp``
air temperature (°C).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from solar3p.errors import MeteoFileError

NUMERIC_FIELDS = ("elev", "az", "temp", "gr", "gr_w", "sd", "tc", "lc", "mc", "hc", "vis", "prec")
# A row without these cannot be forecast; the rest may be absent or empty (then None).
REQUIRED_FIELDS = ("time", "gr_w", "temp")
# These must at least be there (a value may be empty): the collector stores gr_w, tc and temp, and a row
# without the field is a file that is not what the contract describes, not an hour of unknown cloud.
PRESENT_FIELDS = ("time", "gr_w", "tc", "temp")


@dataclass(frozen=True)
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


def _number(path: Path, index: int, name: str, raw: object) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "-", "null")):
        if name in REQUIRED_FIELDS:
            raise MeteoFileError(path, f"forecast row {index} has no value", name)
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise MeteoFileError(path, f"forecast row {index} has {raw!r}, not a number", name) from None
    if not math.isfinite(value):
        raise MeteoFileError(path, f"forecast row {index} has {raw!r}, not a finite number", name)
    return value


def parse_row(path: Path, index: int, item: object) -> MeteoRow:
    """One ``forecast`` entry as a MeteoRow; MeteoFileError names the field that is missing or bad."""
    if not isinstance(item, dict):
        raise MeteoFileError(path, f"forecast row {index} is not an object")
    for name in PRESENT_FIELDS:
        if name not in item:
            raise MeteoFileError(path, f"forecast row {index} lacks it", name)
    time = _number(path, index, "time", item["time"])
    if time is None or time != int(time):
        raise MeteoFileError(path, f"forecast row {index} has {item['time']!r}, not a whole unix time", "time")
    values = {name: _number(path, index, name, item.get(name)) for name in NUMERIC_FIELDS}
    return MeteoRow(time=int(time), cet=str(item.get("cet") or ""), **values)


def parse_meteo(document: object, path: Path | str = "<forecast>") -> list[MeteoRow]:
    """The rows of a decoded Meteoserver document, sorted by time, one per hour (a later duplicate wins)."""
    path = Path(path)
    if not isinstance(document, dict):
        raise MeteoFileError(path, "is not a JSON object")
    if "forecast" not in document:
        raise MeteoFileError(path, "has no forecast list", "forecast")
    items = document["forecast"]
    if not isinstance(items, list) or not items:
        raise MeteoFileError(path, "has an empty or malformed forecast list", "forecast")
    rows = {row.time: row for row in (parse_row(path, i, item) for i, item in enumerate(items))}
    return [rows[t] for t in sorted(rows)]


def read_meteo(path: Path | str) -> list[MeteoRow]:
    """Read and check a forecast file. Missing, unreadable, truncated or incomplete -> MeteoFileError (65)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeteoFileError(path, "does not exist (set METEO_FILE or run `python -m solar3p fetch`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MeteoFileError(path, f"cannot be read: {exc.__class__.__name__}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MeteoFileError(path, f"is not complete JSON (truncated?) at line {exc.lineno}") from None
    return parse_meteo(document, path)
