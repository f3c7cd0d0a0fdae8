"""The PV forecast file: a service's forecast as hourly kWh, stamped with the moment of its download.

One JSON object, written by ``python -m solar3p fetch --source forecast.solar|solcast``::

    {"provider": "solcast", "issued": "1765108800", "parts": 2,
     "hours": [{"time": 1765108800, "kwh": 0.412, "kwh_p10": 0.301, "kwh_p90": 0.522}, ...]}

- ``provider``: ``forecast.solar`` or ``solcast`` (first in the file: ``sniff`` recognises the file by it);
- ``issued``: unix seconds of the download, as a string (as in a Meteoserver-layout forecast file);
- ``parts``: how many answers were summed (planes of PV_ARRAYS, or Solcast sites);
- ``hours``: sorted by ``time``, the unix second the local clock hour starts; ``kwh`` the energy expected
  in that hour, ``kwh_p10``/``kwh_p90`` its 10 %/90 % quantiles (null where the service gives none).

Pure apart from ``read``/``sniff`` (which read a file, size-capped) and ``write`` (atomic).
"""

from __future__ import annotations

import json
import math
import os
import stat
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solar3p.errors import ConfigError, DataError, shown
from solar3p.files import write_atomic
from solar3p.providers import PV_PROVIDERS

MAX_FILE_BYTES = 4 * 1024 * 1024  # 14 days of hours are ~25 KB; anything far bigger is not ours
MAX_KWH = 1e6  # an hour's energy beyond this is no rooftop's: the file is damaged
SNIFF_BYTES = 4096
_SNIFF = re.compile(r'^\s*\{\s*"provider"\s*:\s*"(forecast\.solar|solcast)"')


class PVFileError(DataError):
    """A PV forecast file that cannot be understood (exit 65); nothing is stored from it."""

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"PV forecast file {path}: {problem}")


@dataclass(frozen=True, slots=True)
class PVHour:
    """One hour of a service's forecast: ``time`` the unix second the hour starts; kWh in the hour."""

    time: int
    kwh: float
    kwh_p10: float | None = None
    kwh_p90: float | None = None


@dataclass(frozen=True)
class PVForecast:
    provider: str
    issued: int  # unix seconds of the download
    hours: tuple[PVHour, ...]
    parts: int = 1

    @property
    def total_kwh(self) -> float:
        return math.fsum(h.kwh for h in self.hours)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def dumps(forecast: PVForecast) -> str:
    """The file's text: the head on the first line, one hour a line."""
    head = json.dumps(
        {"provider": forecast.provider, "issued": str(forecast.issued), "parts": forecast.parts},
        separators=(",", ":"),
    )[:-1]
    lines = [
        json.dumps(
            {"time": h.time, "kwh": _rounded(h.kwh), "kwh_p10": _rounded(h.kwh_p10), "kwh_p90": _rounded(h.kwh_p90)},
            separators=(",", ":"),
        )
        for h in forecast.hours
    ]
    return head + ',"hours":[\n' + ",\n".join(lines) + "\n]}\n"


def write(path: Path, forecast: PVForecast) -> None:
    """Whole or not at all; 0644 (a forecast is no secret). A path that cannot be written: ConfigError."""
    try:
        write_atomic(Path(path), dumps(forecast), mode=0o644)
    except OSError as exc:
        raise _unwritable(Path(path), exc) from exc


def check_writable(path: Path) -> None:
    """ConfigError unless ``path``'s folder exists or can be made and takes a file: checked before a
    download, so a wrong STATE_DIR or --out costs no call of the services' small quotas."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(Path(path), exc) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _unwritable(Path(path), PermissionError(13, "Permission denied"))


def _unwritable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write the PV forecast to {path}: {exc.strerror or exc}; "
        "set STATE_DIR (or --out) to a folder this user can write"
    )


def sniff(path: Path) -> str | None:
    """The provider when ``path`` looks like a PV forecast file (its first bytes), else None. Only a
    regular file is opened: opening a FIFO would wait for a writer (the forecast reader refuses it)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with Path(path).open("rb") as handle:
            start = handle.read(SNIFF_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    match = _SNIFF.match(start)
    return match.group(1) if match else None


def _number(value: Any, path: object, where: str, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PVFileError(path, f"{where} is {shown(value)}, not a number of kWh")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= MAX_KWH:
        raise PVFileError(path, f"{where} is {shown(value)}, not an hour's energy in kWh (0 to {MAX_KWH:g})")
    return number


def parse(document: object, path: object = "<document>") -> PVForecast:
    """A decoded PV forecast file, checked; PVFileError (65) says what is wrong."""
    if not isinstance(document, dict):
        raise PVFileError(path, "is not a JSON object")
    provider = document.get("provider")
    if provider not in PV_PROVIDERS:
        raise PVFileError(path, f"has provider {shown(provider)}, not one of {', '.join(PV_PROVIDERS)}")
    issued_text = document.get("issued")
    if not isinstance(issued_text, (str, int)) or isinstance(issued_text, bool) or not str(issued_text).isdigit():
        raise PVFileError(path, f"has issued {shown(issued_text)}, not unix seconds")
    issued = int(issued_text)
    parts = document.get("parts", 1)
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise PVFileError(path, f"has parts {shown(parts)}, not a count of answers")
    rows = document.get("hours")
    if not isinstance(rows, list):
        raise PVFileError(path, "has no list of hours")
    hours: list[PVHour] = []
    seen: set[int] = set()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise PVFileError(path, f"hour {index} is not an object")
        start = row.get("time")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0 or start % 900:
            raise PVFileError(path, f"hour {index} has time {shown(start)}, not the unix second an hour starts")
        if start in seen:
            raise PVFileError(path, f"hour {index} repeats time {start}")
        seen.add(start)
        where = f"hour {index}"
        kwh = _number(row.get("kwh"), path, f"{where} kwh", optional=False)
        assert kwh is not None
        p10 = _number(row.get("kwh_p10"), path, f"{where} kwh_p10", optional=True)
        p90 = _number(row.get("kwh_p90"), path, f"{where} kwh_p90", optional=True)
        hours.append(PVHour(start, kwh, p10, p90))
    hours.sort(key=lambda h: h.time)
    return PVForecast(str(provider), issued, tuple(hours), parts)


def read(path: Path) -> PVForecast:
    """Read and check a PV forecast file (at most MAX_FILE_BYTES)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise PVFileError(path, "is not a file" if path.exists() else "does not exist")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PVFileError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise PVFileError(path, f"is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB: not a PV forecast file")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise PVFileError(path, "is not complete JSON (truncated?)") from exc
    return parse(document, path)
