"""What the hourly run would otherwise import pandas, pvlib and numpy for, remembered in STATE_DIR.

Two files, written whole (temp file + rename), each a JSON envelope ``{"sha256": digest of body, "body":
text}`` whose body has a ``head``: everything the numbers depend on besides the forecast itself.

- ``solar3p-cache.json`` (``homepower.forecast.s3p_kwh``): solar3p's kWh per forecast value (hour start,
  gr_w, temp); head: the PV_* settings, solar3p's code, the versions of pvlib, numpy and pandas.
- ``calibrated-cache.json`` (``InForce`` here): kwh_fc, P10 and P90 per forecast value (hour start, issued,
  gr_w, temp, tc); head: the same, plus every stored calibration (fitted time and a digest of its
  parameters), homepower's calibration code and numpy's version; with the warnings the computation gave.

A file whose digest fails (torn, garbled) or whose head differs (a new calibration, changed settings, new
code) is ignored (a debug line) and its numbers computed anew; an entry that is not a number is a miss.
A miss costs the import once, and then every hour ahead that the join picks from the archive as it is
(``AHEAD_HOURS``) is computed with it: the next cron runs, until a new download or calibration, find
theirs. The forecast an hour is joined with is part of each entry's key, so only the very forecast the
join chose can hit. Deleting either file is always safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from homepower import hours as H

if TYPE_CHECKING:
    from homepower.calibration import Band
    from homepower.settings import Settings
    from homepower.store.calibration import StoredCalibration

log = logging.getLogger(__name__)

BANDS_NAME = "calibrated-cache.json"
BANDS_MAX = 4_000  # entries kept (the newest hours): a cron run reads the file every hour
AHEAD_HOURS = 16 * 24  # a forecast download covers at most this far ahead


# -- the envelope ---------------------------------------------------------------------------------------
def read_envelope(path: Path, head: str) -> dict | None:
    """The body of the cache file at ``path`` if it is whole and made under ``head``; None otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.debug("cannot read %s (%s): computed again", path, exc)
        return None
    try:
        doc = json.loads(raw)
        body = doc["body"]
        whole = isinstance(body, str) and hashlib.sha256(body.encode()).hexdigest() == doc["sha256"]
        data = json.loads(body) if whole else None
    except (ValueError, TypeError, KeyError):
        data = None
    if not isinstance(data, dict):
        log.debug("%s is torn or garbled: ignored, computed again", path)
        return None
    if data.get("head") != head:
        log.debug("%s was made under other settings, code or calibrations: computed again", path)
        return None
    return data


def write_envelope(path: Path, data: dict, then: str) -> None:
    """Write ``data`` (with its ``head``) atomically; a warning ending in ``then`` if it cannot be."""
    from homepower.files import write_atomic

    body = json.dumps(data, separators=(",", ":"))
    text = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "body": body}, separators=(",", ":"))
    try:
        write_atomic(path, text, mode=0o644)
    except OSError as exc:
        log.warning("cannot write %s (%s): %s", path, exc, then)


def number(value: Any) -> bool:
    """Whether a cached value is a finite number (a garbled entry is a miss, never a number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def newest(entries: dict[str, Any], keep: int) -> dict[str, Any]:
    """At most ``keep`` entries, the newest hours (keys start with the hour's unix seconds)."""
    if len(entries) <= keep:
        return entries
    kept = sorted(entries, key=lambda k: int(k.split("|", 1)[0]), reverse=True)[:keep]
    return {k: entries[k] for k in kept}


@lru_cache(maxsize=None)
def code_digest(package: Path, *files: Path) -> str | None:
    """sha256 of the package's modules and ``files``: a cached number is only as good as the code that made it."""
    digest = hashlib.sha256()
    try:
        for source in [*sorted(package.glob("*.py")), *files]:
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    except OSError:
        return None
    return digest.hexdigest()


# -- kwh_fc and its band ---------------------------------------------------------------------------------
def band_key(row: Any) -> str | None:
    """The forecast a band is computed from (None: no forecast weather, no band)."""
    if row.gr_w is None or row.temp is None:
        return None
    issued = "" if row.forecast_issued is None else str(int(H.epoch_s(row.forecast_issued)))
    return f"{int(H.epoch_s(row.ts_utc))}|{issued}|{row.gr_w!r}|{row.temp!r}|{row.tc!r}"


def _band(value: Any) -> bool:
    """A cached band: None (no calibration fitted before the hour) or [median, P10, P90] (bands may be None)."""
    if value is None:
        return True
    return (
        isinstance(value, list)
        and len(value) == 3
        and number(value[0])
        and all(v is None or number(v) for v in value[1:])
    )


class InForce:
    """The stored calibrations and the bands they give collector rows, from the cache where it has them.

    Reading costs no numpy: the calibrations are parsed (and solar3p.calibrate imported) only for a miss."""

    def __init__(self, stored: Sequence[StoredCalibration], settings: Settings) -> None:
        self.stored = list(stored)
        self.settings = settings
        self.path = Path(settings.state_dir) / BANDS_NAME
        self.head = self._head()
        data = read_envelope(self.path, self.head) if self.head is not None else None
        notes = data.get("notes") if data is not None else None
        entries = data.get("bands") if data is not None else None
        if isinstance(notes, list) and all(isinstance(n, str) for n in notes) and isinstance(entries, dict):
            self.notes: list[str] | None = notes
            self.entries: dict[str, Any] = entries
        else:
            self.notes, self.entries = None, {}
        self._parsed: list | None = None

    def _head(self) -> str | None:
        import importlib.metadata

        import solar3p
        from homepower import calibration
        from homepower.forecast import model_head

        model = model_head(self.settings.pv)
        code = code_digest(Path(solar3p.__file__).resolve().parent, Path(calibration.__file__).resolve())
        try:
            numpy = importlib.metadata.version("numpy")
        except importlib.metadata.PackageNotFoundError:
            return None
        if model is None or code is None:
            return None
        fits = [[H.epoch_s(c.fitted_utc), hashlib.sha256((c.params or "").encode()).hexdigest()] for c in self.stored]
        head = {"model": model, "code": code, "numpy": numpy, "calibrations": fits}
        return hashlib.sha256(json.dumps(head, sort_keys=True).encode()).hexdigest()

    def calibrations(self) -> list:
        """``load_calibrations``' list (parsed once; the notes kept for the cache)."""
        if self._parsed is None:
            from homepower.calibration import other_settings_note, parse_calibrations

            self._parsed, notes = parse_calibrations(self.stored)
            note = other_settings_note(self._parsed, self.settings)
            self.notes = notes + ([note] if note else [])
        return self._parsed

    def warn(self) -> None:
        """The warnings of the calibrations in force (unusable rows, other PV_* settings), once a run."""
        if self.notes is None:
            self.calibrations()
        for note in self.notes or ():
            log.warning("%s", note)

    def _has(self, key: str) -> bool:
        return key in self.entries and _band(self.entries[key])

    def bands(self, rows: Sequence[Any], ahead: Callable[[], Sequence[Any]]) -> list[Band | None]:
        """(kwh_fc, P10, P90) for collector rows as ``homepower.calibration.bands_for`` gives them. On a
        miss, the rows ``ahead()`` gives (the hours the next runs will ask for) are computed with them."""
        from homepower.calibration import bands_for

        keys = [band_key(r) for r in rows]
        missing = {k: r for k, r in zip(keys, rows, strict=True) if k is not None and not self._has(k)}
        if missing:
            later = {k: r for r in ahead() if (k := band_key(r)) is not None and k not in missing}
            todo = [*missing.items(), *later.items()]
            done = bands_for(self.calibrations(), [r for _, r in todo])
            self.entries.update({k: None if b is None else list(b) for (k, _), b in zip(todo, done, strict=True)})
            if self.head is not None:
                data = {"head": self.head, "notes": self.notes or [], "bands": newest(self.entries, BANDS_MAX)}
                write_envelope(self.path, data, "kwh_fc will be computed again next run")
        out: list[Band | None] = []
        for k in keys:
            value = None if k is None else self.entries[k]
            out.append(None if value is None else (value[0], value[1], value[2]))
        return out
