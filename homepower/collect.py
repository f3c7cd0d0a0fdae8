"""The hourly collector's use case: which hours, their samples, the forecast join, the upsert.

The arithmetic is in ``homepower.hours`` (pure), the forecast archive and join in ``homepower.forecast``,
all SQL in the store. A run archives METEO_FILE first (a no-op for an unchanged file), reads every
sample it needs in one range query (plus at most a few small ones for the nearest samples outside it),
joins each hour to its archived forecast, and writes ``pvhistory`` in batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Sequence
from zoneinfo import ZoneInfo

from homepower import forecast as F
from homepower import hours as H
from homepower.errors import DataError
from homepower.forecast_join import ArchivedForecast, Joined
from homepower.hourcache import AHEAD_HOURS, InForce
from homepower.hours import Energy, Hour, Series
from homepower.settings import PVSettings, Settings
from solar3p.errors import MeteoFileError

if TYPE_CHECKING:
    from homepower.store import Sample, Store

log = logging.getLogger(__name__)

WINDOW_MARGIN = timedelta(hours=3)  # samples read around the hours; nearer ones outside are looked up
CHUNK_HOURS = 366 * 24  # hours computed and written per read (a leap year in one)
BACKFILL_HOURS = 48  # the no-argument run looks back this far for missing, NULL or long_gap hours


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


def last_completed_start(now_utc: datetime, tz: ZoneInfo) -> datetime:
    """Start (naive UTC) of the last local hour that has ended by ``now_utc``."""
    # The local hour now running starts at local HH:00 (HH:30 UTC in a +05:30 zone); the one before
    # it started exactly an hour earlier in UTC, DST or not.
    local = now_utc.replace(tzinfo=timezone.utc).astimezone(tz)
    current = (local.replace(minute=0, second=0, microsecond=0)).astimezone(timezone.utc)
    return current.replace(tzinfo=None) - H.HOUR


def select_hours(request: Request, tz: ZoneInfo, now_utc: datetime) -> list[Hour]:
    """The hours a request names (completed ones only: an hour still running has no end sample)."""
    if request.kind == "hour":
        assert request.hour is not None
        chosen = H.hours_of_local_hour(request.hour, tz)
    elif request.kind == "range":
        assert request.start is not None and request.end is not None
        # Hours not over yet are left out anyway; a far --to (a typo: 2207) must not build them first.
        now_local = now_utc.replace(tzinfo=timezone.utc).astimezone(tz).replace(tzinfo=None)
        end = min(request.end, now_local.replace(minute=0, second=0, microsecond=0) + timedelta(days=1))
        chosen = H.local_hours(request.start, end, tz) if request.start < end else []
    else:
        last = last_completed_start(now_utc, tz)
        chosen = H.utc_hours(last - (BACKFILL_HOURS - 1) * H.HOUR, last + H.HOUR, tz)
    done = [h for h in chosen if h.end <= now_utc]
    if len(done) < len(chosen):  # normal for a range that ends today: said, not warned
        log.info("skipping %d hour(s) that are not over yet", len(chosen) - len(done))
    return done


# -- samples ---------------------------------------------------------------------------------------
@dataclass
class Counters:
    """The lifetime counters of a stretch of time, each as series the arithmetic takes."""

    production: list[Series]  # one per source
    exported: Series
    imported: Series
    consumed: Series


def read_counters(store: Store, hour_list: Sequence[Hour]) -> Counters:
    """The counters covering every boundary of ``hour_list``."""
    first, last = hour_list[0].start, hour_list[-1].end
    samples = store.read_samples(first - WINDOW_MARGIN, last + WINDOW_MARGIN)
    before: list[Sample] = []
    after: list[Sample] = []
    first_s, last_s = H.epoch_s(first), H.epoch_s(last)
    if _needs_edge(samples, lambda t: t <= first_s):
        before = store.edge_samples(first - WINDOW_MARGIN, "before")
    if _needs_edge(samples, lambda t: t >= last_s):
        after = store.edge_samples(last + WINDOW_MARGIN, "after")
    return build_counters(before + samples + after)


def _series_keys(s: Sample) -> list[tuple[str, str | None]]:
    keys: list[tuple[str, str | None]] = [("pv", s.source)] if s.wh is not None else []
    for name in ("exported", "imported", "consumed"):
        if getattr(s, name) is not None:
            keys.append((name, None))
    return keys


def _needs_edge(samples: Sequence[Sample], covered: Callable[[float], bool]) -> bool:
    """Whether some series (per source, and each meter's) has no window sample whose time ``covered``
    says brackets the outermost boundary."""
    wanted: set = set()
    seen: set = set()
    for s in samples:
        keys = _series_keys(s)
        wanted.update(keys)
        if covered(s.t):
            seen.update(keys)
    return not wanted or not wanted <= seen


def _append(series: Series, t: float, value: float) -> None:
    if not series.ts or t > series.ts[-1]:
        series.ts.append(t)
        series.wh.append(value)


def build_counters(samples: Sequence[Sample]) -> Counters:
    """Samples (oldest first) -> one production series per source, and one series per meter counter
    (any source: it is the grid or house meter, whichever source the production came from)."""
    per_source: dict[str | None, Series] = {}
    meters = {name: Series(name) for name in ("exported", "imported", "consumed")}
    for s in samples:
        if s.wh is not None:
            series = per_source.get(s.source)
            if series is None:
                series = per_source[s.source] = Series(s.source or "unknown")
            _append(series, s.t, s.wh)
        for name, series in meters.items():
            value = getattr(s, name)
            if value is not None:
                _append(series, s.t, value)
    return Counters(list(per_source.values()), meters["exported"], meters["imported"], meters["consumed"])


# -- rows ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HourRow:
    """One ``pvhistory`` row. Unknown is None (NULL), never 0. Energies kWh; times naive UTC."""

    ts_utc: datetime  # hour start
    year: int  # local hour start
    month: int
    day: int
    hour: int
    gr_w: float | None  # the joined forecast's irradiance, W/m²
    tc: float | None  # its total cloud cover, %
    temp: float | None  # its air temperature, °C
    kwh_pv: float | None  # measured production
    kwh_s3p: float | None  # solar3p for the joined forecast
    # The calibrated forecast: None here. Calibration (issue 10) fills it from the newest calibration
    # fitted before the hour began; a None is not written, so a stored value survives a rerun.
    kwh_fc: float | None
    kwh_return: float | None  # to the grid
    kwh_import: float | None  # from the grid
    kwh_consumed: float | None  # the house's use
    forecast_issued: datetime | None  # when the joined forecast was issued
    forecast_provider: str | None
    source: str | None  # gateway source of kwh_pv
    flags: str | None  # comma separated
    updated: datetime
    kwh_fc_p10: float | None = None  # the calibrated forecast's 10 % and 90 % quantiles, with kwh_fc
    kwh_fc_p90: float | None = None

    def as_db(self) -> dict:
        """The columns to write (``created`` only takes effect for a new row)."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["created"] = self.updated
        return row


def max_power_w(pv: PVSettings) -> float:
    """A rise faster than this (W) is no production but a counter jumping back from a spurious value:
    ten times the installation's rating, and never under 20 kW, so only the impossible is refused."""
    return max(10.0 * pv.panels * pv.panel_wp, 20_000.0)


def consumed_wh(pv: Energy, imported: Energy, exported: Energy, meter: Energy) -> float | None:
    """The house's use in an hour: the total-consumption meter's when it has one, else production +
    import - export (a net-consumption meter), else unknown."""
    if meter.wh is not None:
        return meter.wh
    if pv.wh is None or imported.wh is None or exported.wh is None:
        return None
    return max(0.0, pv.wh + imported.wh - exported.wh)


def build_rows(
    hour_list: Sequence[Hour],
    counters: Counters,
    joined: dict[datetime, Joined],
    kwh_s3p: dict[str, float | None],
    updated: datetime,
    max_w: float | None = None,
) -> list[HourRow]:
    """One pvhistory row per hour, from its counters and the forecast joined with it."""

    def meter(series: Series) -> list[Energy]:
        return H.hour_energies(hour_list, [series], max_w) if series.ts else [H.UNKNOWN] * len(hour_list)

    energies = H.hour_energies(hour_list, counters.production, max_w)
    exported, imported, consumed = meter(counters.exported), meter(counters.imported), meter(counters.consumed)
    rows = []
    for i, h in enumerate(hour_list):
        e = energies[i]
        choice = joined.get(h.start, Joined(None))
        f = choice.forecast
        flags = set(e.flags)
        if choice.flag:
            flags.add(choice.flag)
        rows.append(
            HourRow(
                ts_utc=h.start,
                year=h.year,
                month=h.month,
                day=h.day,
                hour=h.hour,
                gr_w=_num(f.gr_w) if f else None,
                tc=_num(f.tc) if f else None,
                temp=_num(f.temp) if f else None,
                kwh_pv=H.kwh(e.wh),
                kwh_s3p=_num(kwh_s3p.get(F.kwh_key(f))) if f else None,
                kwh_fc=None,
                kwh_return=H.kwh(exported[i].wh),
                kwh_import=H.kwh(imported[i].wh),
                kwh_consumed=H.kwh(consumed_wh(e, imported[i], exported[i], consumed[i])),
                forecast_issued=f.issued_utc if f else None,
                forecast_provider=f.provider if f else None,
                source=e.source,
                flags=H.flags_text(flags),
                updated=updated,
            )
        )
    return rows


def _num(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)


# -- the run ---------------------------------------------------------------------------------------
def collect(settings: Settings, request: Request, store: Store, now_utc: datetime | None = None) -> list[HourRow]:
    """Archive METEO_FILE, compute the requested hours and store them (not with ``dry_run``); returns
    the rows (the caller prints them)."""
    now_utc = now_utc or utc_now()
    hour_list = select_hours(request, settings.timezone, now_utc)  # a bad --hour fails before any file is read
    extra: list[ArchivedForecast] = []
    refused: MeteoFileError | None = None
    try:
        if request.dry_run:  # writes nothing: METEO_FILE joins from memory (the hours asked for only)
            if settings.forecast.meteo_file.exists() and hour_list:
                extra = F.read_meteo_hours(settings, hour_list[0].start, hour_list[-1].start)
        else:
            F.archive_meteo_file(store, settings)
    except MeteoFileError as exc:
        # A damaged download must not cost the hour its energy: the rows are built from what the archive
        # holds, and the run fails at the end (65) so that cron reports the file.
        refused = exc
    pv_refused = [] if request.dry_run else F.archive_pv_files(store, settings.state_dir)
    if not hour_list:
        log.info("no completed hour to collect")
        rows: list[HourRow] = []
    else:
        rows = _collect_hours(settings, request, store, hour_list, now_utc, extra)
    if refused is not None:
        raise ForecastFileRefused(rows, refused) from refused
    if pv_refused:
        raise ForecastFileRefused(rows, pv_refused[0]) from pv_refused[0]
    return rows


class ForecastFileRefused(DataError):
    """METEO_FILE (or a PV service's forecast file in STATE_DIR) was not understood: nothing archived from
    it, the hours collected (and stored) from the archive all the same; ``rows`` are those hours (a dry run
    prints them)."""

    def __init__(self, rows: list[HourRow], cause: Exception) -> None:
        super().__init__(f"{cause}; nothing stored from it (the hours were collected from the archive)")
        self.rows = rows


def _collect_hours(
    settings: Settings,
    request: Request,
    store: Store,
    hour_list: list[Hour],
    now_utc: datetime,
    extra: list[ArchivedForecast],
) -> list[HourRow]:
    updated = now_utc.replace(microsecond=0)
    stored = store.calibrations()
    calibrations = InForce(stored, settings) if stored else None  # reads no numpy: see homepower.hourcache
    if calibrations is not None:
        calibrations.warn()
    rows: list[HourRow] = []
    # A year at a time keeps memory bounded for decade-long backfills; every hour's answer depends
    # only on the readings and forecasts of that hour, so chunking changes nothing in the result.
    for first in range(0, len(hour_list), CHUNK_HOURS):
        chunk = hour_list[first : first + CHUNK_HOURS]
        counters = read_counters(store, chunk)
        joined = F.join(store, [h.start for h in chunk], settings, extra)
        chosen = [j.forecast for j in joined.values() if j.forecast is not None]
        ahead = _Ahead(store, settings, chunk[-1].start)
        kwh = F.s3p_kwh(chosen, settings.pv, settings.state_dir, ahead.forecasts)
        part = build_rows(chunk, counters, joined, kwh, updated, max_power_w(settings.pv))
        if request.kind == "recent":
            part = recent_selection(store, part, chunk[-1].start)
        if calibrations is not None:  # kwh_fc from the newest calibration fitted before each hour began
            part = [
                r if band is None else replace(r, kwh_fc=band[0], kwh_fc_p10=band[1], kwh_fc_p90=band[2])
                for r, band in zip(part, calibrations.bands(part, ahead.rows), strict=True)
            ]
        if not request.dry_run:
            write_rows(store, part)
        rows.extend(part)
    _warn_no_forecast(rows)
    if not request.dry_run:
        known = sum(r.kwh_pv is not None for r in rows)
        log.info("stored %d pvhistory row(s) (%d with kwh_pv, %d NULL)", len(rows), known, len(rows) - known)
    return rows


class _Ahead:
    """The forecasts the join picks, from the archive as it is, for the hours after ``last`` that it covers:
    what the next runs will ask for until a new download. Read only when a cache misses (homepower.hourcache)."""

    def __init__(self, store: Store, settings: Settings, last: datetime) -> None:
        self.store, self.settings, self.last = store, settings, last
        self._found: list[ArchivedForecast] | None = None

    def forecasts(self) -> list[ArchivedForecast]:
        if self._found is None:
            starts = [self.last + i * H.HOUR for i in range(1, AHEAD_HOURS + 1)]
            joined = F.join(self.store, starts, self.settings)
            self._found = [j.forecast for j in joined.values() if j.forecast is not None]
        return self._found

    def rows(self) -> list[_Weather]:
        """The same as the weather of the rows they will give (rounded as build_rows rounds it)."""
        return [_Weather(f.ts_utc, _num(f.gr_w), _num(f.tc), _num(f.temp), f.issued_utc) for f in self.forecasts()]


@dataclass(frozen=True)
class _Weather:
    """What a row's band is computed from (``homepower.calibration.bands_for``)."""

    ts_utc: datetime
    gr_w: float | None
    tc: float | None
    temp: float | None
    forecast_issued: datetime | None


def write_rows(store: Store, rows: Sequence[HourRow]) -> None:
    """Upsert the rows; ``created`` is kept on a replaced row, ``kwh_fc`` and its band too where the row
    has none."""
    with_fc = [r.as_db() for r in rows if r.kwh_fc is not None]
    without = [r.as_db() for r in rows if r.kwh_fc is None]
    for r in without:
        for column in ("kwh_fc", "kwh_fc_p10", "kwh_fc_p90"):
            del r[column]
    store.upsert("pvhistory", with_fc, commit=False)
    store.upsert("pvhistory", without, commit=False)
    store.commit()


def _warn_no_forecast(rows: Sequence[HourRow]) -> None:
    missing = [r for r in rows if r.forecast_issued is None]
    if missing:
        first = missing[0]
        log.warning(
            "the forecast archive has no forecast for %d of %d hour(s) (first %04d-%02d-%02dT%02d local): "
            "their gr_w, tc, temp and kwh_s3p stay NULL (flag no_forecast)",
            len(missing),
            len(rows),
            first.year,
            first.month,
            first.day,
            first.hour,
        )


def recent_selection(store: Store, rows: list[HourRow], last_start: datetime) -> list[HourRow]:
    """No-argument run: the last completed hour always; earlier hours where the table has no row, a NULL
    kwh_pv, or a long_gap hour that better readings now compute otherwise."""
    if not rows:
        return rows
    have = {h.ts_utc: h for h in store.hour_states(rows[0].ts_utc, last_start + H.HOUR)}
    keep = []
    for r in rows:
        old = have.get(r.ts_utc)
        if r.ts_utc == last_start:
            keep.append(r)
        elif r.kwh_pv is None:
            continue  # nothing better to store than what is there (or than no row)
        elif old is None or old.kwh_pv is None:
            keep.append(r)
        elif H.LONG_GAP in old.flags and (_num(old.kwh_pv) != r.kwh_pv or H.LONG_GAP not in (r.flags or "").split(",")):
            keep.append(r)
    return keep
