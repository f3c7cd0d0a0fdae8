"""The hourly collector's use case: which hours, their samples, the forecast join, the upsert.

I/O lives here; the arithmetic is in ``homepower.hours`` (pure). A run reads every sample it needs in one
range query (plus at most a few small ones for the nearest samples outside it), loads the forecast file
once, computes solar3p's forecast once for all hours (remembered in STATE_DIR per forecast file, so
the hourly cron run does not load pandas/pvlib again), and writes ``pvhistory`` in batches.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence, TextIO

from homepower import hours as H
from homepower.dialects import parse_utc
from homepower.hours import Hour, Series
from homepower.settings import PVSettings, Settings

log = logging.getLogger(__name__)

WINDOW_MARGIN = timedelta(hours=3)  # samples read around the hours; nearer ones outside are looked up
CHUNK_HOURS = 366 * 24  # hours computed and written per read (a leap year in one)
BACKFILL_HOURS = 48  # the no-argument run looks back this far for missing or NULL hours
SAMPLE_COLS = ("ts_utc", "wattHoursLifetime", "whExportedLifetime", "source")


# -- what to collect ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """``kind``: "recent" (no arguments), "hour" or "range"; local naive times for the others."""

    kind: str = "recent"
    hour: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    dry_run: bool = False


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def last_completed_start(now_utc: datetime, tz) -> datetime:
    """Start (naive UTC) of the last local hour that has ended by ``now_utc``."""
    # The local hour now running starts at local HH:00 (HH:30 UTC in a +05:30 zone); the one before
    # it started exactly an hour earlier in UTC, DST or not.
    local = now_utc.replace(tzinfo=timezone.utc).astimezone(tz)
    current = (local.replace(minute=0, second=0, microsecond=0)).astimezone(timezone.utc)
    return current.replace(tzinfo=None) - H.HOUR


def select_hours(request: Request, tz, now_utc: datetime) -> list[Hour]:
    """The hours a request names (completed ones only: an hour still running has no end sample)."""
    if request.kind == "hour":
        chosen = H.hours_of_local_hour(request.hour, tz)
    elif request.kind == "range":
        chosen = H.local_hours(request.start, request.end, tz)
    else:
        last = last_completed_start(now_utc, tz)
        chosen = H.utc_hours(last - (BACKFILL_HOURS - 1) * H.HOUR, last + H.HOUR, tz)
    done = [h for h in chosen if h.end <= now_utc]
    if len(done) < len(chosen):
        log.warning("skipping %d hour(s) that are not over yet", len(chosen) - len(done))
    return done


# -- samples ---------------------------------------------------------------------------------------
# A sample, as the arithmetic needs it: (unix seconds, wattHoursLifetime, whExportedLifetime, source).
Sample = tuple


def read_series(store, hour_list: Sequence[Hour]) -> tuple[list[Series], Series]:
    """Production series per source and the export series, covering every boundary of ``hour_list``."""
    first, last = hour_list[0].start, hour_list[-1].end
    samples = read_samples(store, first - WINDOW_MARGIN, last + WINDOW_MARGIN)
    before = after = []
    first_s, last_s = H.epoch_s(first), H.epoch_s(last)
    if _needs_edge(samples, lambda t: t <= first_s):
        before = _edge_samples(store, first - WINDOW_MARGIN, "before")
    if _needs_edge(samples, lambda t: t >= last_s):
        after = _edge_samples(store, last + WINDOW_MARGIN, "after")
    return build_series(before + samples + after)


def read_samples(store, start: datetime, end: datetime) -> list[Sample]:
    """Every sample with start <= ts_utc < end, oldest first, in one query."""
    if store.dialect.kind == "mysql":
        return _read_samples_packed(store, start, end)
    return _read_samples_sqlite(store, start, end)


def _sample(row: dict) -> Sample:
    return (H.epoch_s(parse_utc(row["ts_utc"])), row["wattHoursLifetime"], row["whExportedLifetime"], row["source"])


def _read_samples_sqlite(store, start: datetime, end: datetime) -> list[Sample]:
    """SQLite: every sample with start <= ts_utc < end, oldest first. The index narrows to whole days
    (any ISO text of a day sorts between that day's date and the next's, whatever its separator or
    fraction); the exact bounds are applied to the parsed times."""
    q, p = store.q, store.dialect.placeholder
    lo, hi = (start - timedelta(days=1)).strftime("%Y-%m-%d"), (end + timedelta(days=1)).strftime("%Y-%m-%d")
    sql = (
        f"SELECT {', '.join(q(c) for c in SAMPLE_COLS)} FROM {q('enphase_production')} "
        f"WHERE {q('ts_utc')} >= {p} AND {q('ts_utc')} < {p} ORDER BY {q('ts_utc')}"
    )
    lo_s, hi_s = H.epoch_s(start), H.epoch_s(end)
    out = []
    for ts, wh, x, source in store.execute(sql, (lo, hi), fetch=True):
        t = H.epoch_s(parse_utc(ts))
        if lo_s <= t < hi_s:
            out.append((t, None if wh is None else float(wh), None if x is None else float(x), source))
    out.sort(key=lambda s: s[0])
    return out


def _read_samples_packed(store, start: datetime, end: datetime) -> list[Sample]:
    """MySQL/MariaDB: a UTC day of samples packed into one result row. mysql-connector's pure-Python
    protocol (its C extension often fails to load) reads one network packet per row, which alone took
    ~2.5 s for a year; packed, the same read takes a fraction of that. Same values as ``store.fetch``:
    DECIMAL text parsed by float() is what float(Decimal) gives."""
    q, p = store.q, store.dialect.placeholder
    ts = q("ts_utc")
    fields = ", ".join([f"UNIX_TIMESTAMP({ts})"] + [f"IFNULL({q(c)}, '')" for c in SAMPLE_COLS[1:]])
    day = f"FLOOR(UNIX_TIMESTAMP({ts}) / 86400)"
    sql = (
        f"SELECT GROUP_CONCAT(CONCAT_WS(',', {fields}) ORDER BY {ts} SEPARATOR ';') "
        f"FROM {q('enphase_production')} WHERE {ts} >= {p} AND {ts} < {p} GROUP BY {day} ORDER BY {day}"
    )
    store.execute("SET SESSION group_concat_max_len = 67108864")  # a day is ~10 kB; room for 1 s polling
    out: list[Sample] = []
    for (packed,) in store.execute(sql, (store.dialect.to_db(start), store.dialect.to_db(end)), fetch=True):
        if isinstance(packed, (bytes, bytearray)):
            packed = packed.decode()
        for item in packed.split(";"):
            t, wh, x, source = item.split(",", 3)
            out.append((float(t), float(wh) if wh else None, float(x) if x else None, source or None))
    return out


def _needs_edge(samples: list[Sample], covered) -> bool:
    """Whether some series (per source, and the export one) has no window sample whose time
    ``covered`` says brackets the outermost boundary."""
    wanted, seen = set(), set()
    for t, wh, x, source in samples:
        keys = ([("pv", source)] if wh is not None else []) + ([("x", None)] if x is not None else [])
        wanted.update(keys)
        if covered(t):
            seen.update(keys)
    return not wanted or not wanted <= seen


def _edge_samples(store, t: datetime, side: str) -> list[Sample]:
    """The nearest sample of each source (and the nearest with an export value) before/after ``t``."""
    p, q = store.dialect.placeholder, store.q
    agg, cmp = ("MAX", "<") if side == "before" else ("MIN", ">=")
    # SQLite: compare as times, not as whatever text was inserted (see parse_utc).
    when = f"datetime({q('ts_utc')})" if store.dialect.kind == "sqlite" else q("ts_utc")
    sql = (
        f"SELECT {agg}({q('ts_utc')}), {agg}(CASE WHEN {q('whExportedLifetime')} IS NOT NULL "
        f"THEN {q('ts_utc')} END) FROM {q('enphase_production')} WHERE {when} {cmp} {p} "
        f"GROUP BY {q('source')}"
    )
    found = store.execute(sql, (store.dialect.to_db(t),), fetch=True)
    stamps = sorted({v for row in found for v in row if v is not None})
    if not stamps:
        return []
    marks = ", ".join([p] * len(stamps))
    sql = (
        f"SELECT {', '.join(q(c) for c in SAMPLE_COLS)} FROM {q('enphase_production')} "
        f"WHERE {q('ts_utc')} IN ({marks}) ORDER BY {q('ts_utc')}"
    )
    out = []
    for row in store.execute(sql, tuple(stamps), fetch=True):
        item = {c: store.dialect.from_db(v) for c, v in zip(SAMPLE_COLS, row, strict=True)}
        out.append(_sample(item))
    return sorted(out, key=lambda s: s[0])


def build_series(samples: Sequence[Sample]) -> tuple[list[Series], Series]:
    """Samples (oldest first) -> one production series per source, and one export series (any source:
    it is the grid meter's counter, whichever source the production came from)."""
    per_source: dict[str, Series] = {}
    export = Series("export")
    for t, wh, x, source in samples:
        if wh is not None:
            s = per_source.get(source)
            if s is None:
                s = per_source[source] = Series(source or "unknown")
            if not s.ts or t > s.ts[-1]:
                s.ts.append(t)
                s.wh.append(float(wh))
        if x is not None and (not export.ts or t > export.ts[-1]):
            export.ts.append(t)
            export.wh.append(float(x))
    return list(per_source.values()), export


# -- the forecast ----------------------------------------------------------------------------------
@dataclass
class Forecast:
    rows: list  # solar3p MeteoRow
    by_time: dict  # unix hour start -> MeteoRow
    kwh: dict  # unix hour start -> solar3p kWh


def load_forecast(
    path: Path, pv: PVSettings, hour_list: Sequence[Hour], cache_dir: Path | None = None
) -> Forecast | None:
    """The forecast file, indexed by hour start; None (and a warning) when there is no file.
    A file that is not a Meteoserver forecast raises MeteoFileError (exit 65, naming the file)."""
    if not Path(path).exists():  # a directory or an unreadable file is a bad file (65), not a missing one
        log.warning(
            "forecast file %s does not exist: gr_w, tc, temp and kwh_s3p stay NULL "
            "(set METEO_FILE or run `python -m solar3p fetch`)",
            path,
        )
        return None
    from solar3p.meteo import read_meteo

    rows = read_meteo(path)
    by_time = {int(r.time): r for r in rows}
    kwh: dict = {}
    if any(h.unix in by_time for h in hour_list):
        kwh = forecast_kwh(Path(path), rows, pv, cache_dir)
    return Forecast(rows, by_time, kwh)


CACHE_NAME = "solar3p-cache.json"


def forecast_kwh(path: Path, rows: list, pv: PVSettings, cache_dir: Path | None) -> dict[int, float]:
    """solar3p's kWh for every row of the file, computed in-process with pvlib, or taken from the
    cache in ``cache_dir`` (STATE_DIR) when a file with the same content was modelled with the same
    PV settings and the same model code. Cron runs every hour against a file fetched far less often;
    importing pandas/pvlib each time costs more than the rest of the run (seconds on a Raspberry Pi)."""
    key = _cache_key(path, pv)
    cache = Path(cache_dir) / CACHE_NAME if cache_dir is not None and key is not None else None
    if cache is not None:
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored.get("key") == key:
                return {int(t): v for t, v in stored["kwh"].items()}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            pass  # no cache, or one from an older run: model again
    from solar3p.model import hourly_kwh

    kwh = hourly_kwh(rows, pv)
    if cache is not None:
        from homepower.files import write_atomic

        try:
            write_atomic(cache, json.dumps({"key": key, "kwh": {str(t): v for t, v in kwh.items()}}), mode=0o644)
        except OSError as exc:
            log.warning("cannot write %s (%s): the forecast will be modelled again next run", cache, exc)
    return kwh


def _cache_key(path: Path, pv: PVSettings) -> dict | None:
    """What the modelled numbers depend on: the file's content, the PV settings, solar3p's model code."""
    import hashlib
    import importlib.util

    try:
        spec = importlib.util.find_spec("solar3p.model")
        model = hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest() if spec and spec.origin else None
        data = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, ImportError, ValueError):
        return None
    return {"file": data, "pv": asdict(pv), "model": model}


# -- rows ------------------------------------------------------------------------------------------
def max_power_w(pv: PVSettings) -> float:
    """A rise faster than this (W) is no production but a counter jumping back from a spurious value:
    ten times the installation's rating, and never under 20 kW, so only the impossible is refused."""
    return max(10.0 * pv.panels * pv.panel_wp, 20_000.0)


def build_rows(
    hour_list: Sequence[Hour],
    pv_series: Sequence[Series],
    export: Series,
    forecast: Forecast | None,
    updated: datetime,
    max_w: float | None = None,
) -> list[dict]:
    """One pvhistory row per hour. Unknown is None (NULL), never 0."""
    energies = H.hour_energies(hour_list, pv_series, max_w)
    returns = H.hour_energies(hour_list, [export], max_w) if export.ts else [H.UNKNOWN] * len(hour_list)
    rows, missing = [], []
    for h, e, x in zip(hour_list, energies, returns, strict=True):
        meteo = forecast.by_time.get(h.unix) if forecast else None
        flags = set(e.flags)
        if meteo is None:
            flags.add(H.NO_FORECAST)
            missing.append(h)
        rows.append(
            {
                "ts_utc": h.start,
                "year": h.year,
                "month": h.month,
                "day": h.day,
                "hour": h.hour,
                "gr_w": _num(meteo.gr_w) if meteo else None,
                "tc": _num(meteo.tc) if meteo else None,
                "temp": _num(meteo.temp) if meteo else None,
                "kwh_pv": H.kwh(e.wh),
                "kwh_s3p": _num(forecast.kwh.get(h.unix)) if meteo else None,
                "kwh_return": H.kwh(x.wh),
                "source": e.source,
                "flags": H.flags_text(flags),
                "updated": updated,
            }
        )
    if forecast is not None and missing:
        log.warning(
            "the forecast file has no row for %d of %d hour(s) (first %s local): "
            "their gr_w, tc, temp and kwh_s3p stay NULL",
            len(missing),
            len(hour_list),
            missing[0].local_label(),
        )
    return rows


def _num(value) -> float | None:
    return None if value is None else round(float(value), 5)


# -- the run ---------------------------------------------------------------------------------------
def collect(
    settings: Settings, request: Request, store, now_utc: datetime | None = None, out: TextIO | None = None
) -> list[dict]:
    """Compute the requested hours and store them (or print them with ``dry_run``); returns the rows."""
    now_utc = now_utc or utc_now()
    tz = settings.timezone
    hour_list = select_hours(request, tz, now_utc)
    if not hour_list:
        log.info("no completed hour to collect")
        return []
    forecast = load_forecast(settings.meteo_file, settings.pv, hour_list, settings.state_dir)
    rows: list[dict] = []
    # A year at a time keeps memory bounded for decade-long backfills; every hour's answer depends
    # only on the readings around it, so chunking changes nothing in the result.
    for first in range(0, len(hour_list), CHUNK_HOURS):
        chunk = hour_list[first : first + CHUNK_HOURS]
        pv_series, export = read_series(store, chunk)
        part = build_rows(chunk, pv_series, export, forecast, now_utc.replace(microsecond=0), max_power_w(settings.pv))
        if request.kind == "recent":
            part = _recent_selection(store, part, chunk[-1].start)
        if not request.dry_run:
            store.upsert("pvhistory", part)
        rows.extend(part)
    if request.dry_run:
        (out or sys.stdout).write(format_table(rows))
        return rows
    known = sum(r["kwh_pv"] is not None for r in rows)
    log.info("stored %d pvhistory row(s) (%d with kwh_pv, %d NULL)", len(rows), known, len(rows) - known)
    return rows


def _recent_selection(store, rows: list[dict], last_start: datetime) -> list[dict]:
    """No-argument run: the last completed hour always; earlier hours only where the table has no row or
    a NULL kwh_pv and the hour can now be computed."""
    stored = store.fetch("pvhistory", ("ts_utc", "kwh_pv"), rows[0]["ts_utc"], last_start + H.HOUR)
    have = {r["ts_utc"]: r["kwh_pv"] for r in stored}
    keep = []
    for r in rows:
        if r["ts_utc"] == last_start:
            keep.append(r)
        elif r["kwh_pv"] is not None and have.get(r["ts_utc"]) is None:
            keep.append(r)
    return keep


# -- output ----------------------------------------------------------------------------------------
TABLE_COLS = (
    ("local hour", 16),
    ("ts_utc", 19),
    ("kwh_pv", 9),
    ("kwh_s3p", 9),
    ("kwh_return", 10),
    ("gr_w", 7),
    ("tc", 5),
    ("temp", 6),
    ("source", 9),
    ("flags", 0),
)


def format_table(rows: Sequence[dict]) -> str:
    """pvhistory rows as a plain table; NULL written out (an empty flags column stays empty)."""

    def cell(name: str, value, width: int) -> str:
        if value is None:
            text = "NULL"
        elif isinstance(value, (int, float)):  # SQLite hands back a whole DECIMAL as int
            text = f"{value:.3f}" if name.startswith("kwh_") else f"{value:g}"
        else:
            text = str(value)
        return text.rjust(width)

    lines = ["  ".join(name.rjust(width) if width else name for name, width in TABLE_COLS)]
    for r in rows:
        local = f"{r['year']:04d}-{r['month']:02d}-{r['day']:02d} {r['hour']:02d}:00"
        values = [local, r["ts_utc"].strftime("%Y-%m-%d %H:%M:%S")] + [r[name] for name, _ in TABLE_COLS[2:-1]]
        line = "  ".join(cell(name, v, w) for v, (name, w) in zip(values, TABLE_COLS[:-1], strict=True))
        lines.append(f"{line}  {r['flags'] or ''}".rstrip())
    return "\n".join(lines) + "\n"
