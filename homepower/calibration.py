"""The collector's calibration use case: fit on pvhistory, store the result, fill ``kwh_fc``.

The fitting is ``solar3p.calibrate`` (pure); this module reads the hours through the store, writes the
``calibration`` row and ``STATE_DIR/solar3p-calibration.json``, and walks a backtest a day at a time.
A calibration is only ever applied to hours that start at or after both its fitting time and the end of
the history it saw (``solar3p.calibrate.newest_before``).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence, TextIO

from homepower import hours as H
from homepower.errors import ConfigError, DataError
from homepower.settings import CALIBRATION_NAME, Settings
from solar3p.environment import command

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    import numpy as np

    from homepower.store import Store
    from homepower.store.calibration import ForecastHour, StoredCalibration
    from solar3p.calibrate import Calibration, Features, Orientation, Plant
    from solar3p.quantiles import Spread

log = logging.getLogger(__name__)

EXCLUDED_FLAGS = frozenset({"reset", "long_gap", "late_forecast"})
HISTORY_DAYS = 730  # a fit sees at most this many days before it (solar3p.calibrate.MAX_HISTORY_DAYS)


@dataclass(frozen=True, slots=True)
class TrainingHour:
    """One pvhistory hour as calibration sees it."""

    ts_utc: datetime  # hour start, naive UTC
    local_day: date
    local_hour: int
    gr_w: float
    temp: float
    kwh_pv: float | None  # None: not for training (unknown or flagged)
    tc: float | None = None  # the forecast's total cloud cover, %
    issued: float | None = None  # unix s the forecast was issued (its lead time widens the band)
    flagged: bool = False  # measured, but left out for its flags (EXCLUDED_FLAGS)

    @classmethod
    def from_hour(cls, hour: ForecastHour) -> "TrainingHour":
        flags = set(filter(None, (hour.flags or "").split(",")))
        usable = hour.kwh_pv is not None and not (flags & EXCLUDED_FLAGS)
        return cls(
            ts_utc=hour.ts_utc,
            local_day=date(hour.year, hour.month, hour.day),
            local_hour=hour.hour,
            gr_w=hour.gr_w,
            temp=hour.temp,
            kwh_pv=hour.kwh_pv if usable else None,
            tc=hour.tc,
            issued=None if hour.forecast_issued is None else float(H.epoch_s(hour.forecast_issued)),
            flagged=hour.kwh_pv is not None and not usable,
        )


def read_hours(store: Store, start: datetime, end: datetime) -> list[TrainingHour]:
    """pvhistory hours with forecast weather in [start, end), read a month at a time into compact rows
    (a decade's backtest stays within bounded memory)."""
    out: list[TrainingHour] = []
    lo = start
    while lo < end:
        hi = min(lo + timedelta(days=31), end)
        out.extend(TrainingHour.from_hour(h) for h in store.forecast_hours(lo, hi))
        lo = hi
    return out


def range_start_utc(start_local: datetime, tz: ZoneInfo) -> datetime:
    return H.to_utc(datetime.combine(start_local.date(), datetime.min.time()), tz)


def plant(settings: Settings) -> Plant:
    from solar3p.calibrate import plant_of

    return plant_of(settings.pv)


def other_settings_note(calibrations: list, settings: Settings) -> str | None:
    """The warning when the newest calibration was fitted under other PV_* settings than those in force
    (it is still applied, as fitted: see docs/calibration.md); None when it was not."""
    if not calibrations:
        return None
    from solar3p.calibrate import settings_changed

    fitted, cal = max(calibrations, key=lambda pair: pair[0])
    changed = settings_changed(cal, plant(settings))
    if not changed:
        return None
    return (
        f"the calibration fitted {_utc(fitted)} UTC was fitted under other PV_* settings ({', '.join(changed)} "
        f"changed since); kwh_fc still uses it as fitted: run {command('history_collector.py --calibrate')} again"
    )


class _Arrays:
    """The hours as arrays, with their features computed once."""

    def __init__(
        self, items: Sequence[TrainingHour], latitude: float, longitude: float, horizon: Sequence[float] | None = None
    ) -> None:
        import numpy as np

        from solar3p.calibrate import features

        self.items = list(items)
        self.start = np.asarray([int(H.epoch_s(h.ts_utc)) for h in self.items], dtype="int64")
        self.kwh = np.asarray([np.nan if h.kwh_pv is None else h.kwh_pv for h in self.items], dtype=float)
        self.day = np.asarray([h.local_day.toordinal() for h in self.items], dtype="int64")
        self.hour = np.asarray([h.local_hour for h in self.items], dtype="int64")
        self.month = np.asarray([h.local_day.month for h in self.items], dtype="int64")
        self.feat = features(
            self.start,
            [h.gr_w for h in self.items],
            [h.temp for h in self.items],
            latitude,
            longitude,
            horizon,
            tc=[h.tc for h in self.items],
            issued=[h.issued for h in self.items],
        )

    def fit(
        self,
        mask: np.ndarray | slice,
        given: Plant,
        start: tuple[Orientation, ...] | None = None,
        spread: Spread | None = None,
    ) -> Calibration:
        from solar3p.calibrate import fit

        return fit(
            self.feat.take(mask),
            self.kwh[mask],
            self.day[mask],
            given,
            local_hour=self.hour[mask],
            month=self.month[mask],
            start=start,
            spread=spread,
        )


def _utc(unix: int | None) -> datetime | None:
    return None if unix is None else datetime(1970, 1, 1) + timedelta(seconds=int(unix))


def calibration_row(cal: Calibration, fitted_utc: datetime, backtest: bool = False) -> dict:
    params = cal.as_json()
    if backtest:
        params["backtest"] = True
    return {
        "fitted_utc": fitted_utc,
        "trained_from": _utc(cal.trained_from),
        "trained_to": _utc(cal.trained_to),
        "hours": cal.hours,
        "params": json.dumps(params, separators=(",", ":")),
        "nmae_pct": cal.nmae_pct,
    }


class NotYet(DataError):
    """Too little history to fit: the normal state of the first days (65 by hand, quiet when scheduled)."""

    def __init__(self, detail: str):
        super().__init__(f"cannot calibrate yet: {detail}")
        self.detail = detail  # how much history there is and how much it needs


def calibrate(
    settings: Settings, store: Store, now_utc: datetime | None = None, out: TextIO | None = None
) -> Calibration:
    """``--calibrate``: fit on every usable hour that ended by now, store the row and the JSON file, print
    what was learned. NotYet (a DataError, 65) when there is too little history; nothing is written then."""
    from solar3p.calibrate import CalibrationError

    out = out or sys.stdout
    now_utc = (now_utc or datetime.now(timezone.utc).replace(tzinfo=None)).replace(microsecond=0)
    end = now_utc - H.HOUR + timedelta(seconds=1)
    items = read_hours(store, end - timedelta(days=HISTORY_DAYS + 1), end)
    flagged = sum(h.flagged for h in items)
    items = [h for h in items if h.kwh_pv is not None]
    given = plant(settings)
    if not items:
        if flagged:  # e.g. FORECAST_MIN_LEAD_H=24 with forecasts downloaded hours, not a day, ahead
            raise NotYet(
                f"all {flagged} pvhistory hour(s) with kwh_pv and forecast weather are flagged "
                f"{', '.join(sorted(EXCLUDED_FLAGS))}, which calibration leaves out (late_forecast: no forecast "
                "was issued FORECAST_MIN_LEAD_H before the hour; fetch earlier, or lower it)"
            )
        raise NotYet(
            "no pvhistory hours with kwh_pv and forecast weather yet; calibration needs at least 3 local days "
            "of them (let the hourly collector run for a few days)"
        )
    arrays = _Arrays(items, given.latitude, given.longitude, given.horizon)
    try:
        cal = arrays.fit(slice(None), given)
    except CalibrationError as exc:
        raise NotYet(str(exc)) from exc
    row = calibration_row(cal, now_utc)
    path = settings.state_dir / CALIBRATION_NAME
    from homepower.files import write_atomic

    try:
        write_atomic(path, json.dumps(cal.as_json(), indent=1) + "\n", mode=0o644)
    except OSError as exc:
        raise ConfigError(
            f"STATE_DIR={path.parent} cannot hold {path.name} ({exc}): make it a writable directory; "
            "no calibration stored"
        ) from exc
    store.upsert("calibration", [row])
    first, last = _utc(cal.trained_from), _utc(cal.trained_to)  # trained_to is exclusive: say "until"
    out.write(
        f"calibrated on {cal.hours} hours of {cal.days} local days (hours from {first:%Y-%m-%d %H:%M} "
        f"until {last:%Y-%m-%d %H:%M} UTC"
        f"{f'; {cal.dropped_days} day(s) left out: snow, outage or missing hours' if cal.dropped_days else ''})\n"
        f"learned: {cal.describe()}\n"
        f"in-sample hourly nMAE {_pct(cal.nmae_pct)} (solar3p with your settings: {_pct(cal.nmae_pct_physics)})\n"
        f"stored in table calibration (fitted {now_utc:%Y-%m-%d %H:%M:%S} UTC) and {path}; "
        f"kwh_fc of hours from now on uses it\n"
    )
    if settings.pv_calibration is not None and settings.pv_calibration != path:
        log.warning(
            "PV_CALIBRATION names %s: %s reads that file, not %s",
            settings.pv_calibration,
            command(".venv/bin/python -m solar3p"),
            path,
        )
    return cal


def _day_bands(arrays: _Arrays, target: np.ndarray, own: Calibration, fitted: float, stored: list) -> dict:
    """The bands of a backtest day's ``target`` hours from its fit ``own`` (fitted at the day's start),
    except where a ``stored`` calibration fitted later is the newest fitted before the hour began: that one's,
    as the collector gives them."""
    from solar3p.calibrate import newest_before

    later = [(f, c) for f, c in stored if f > fitted]
    idx = [int(i) for i in target.nonzero()[0]]
    newer = [i for i in idx if later and newest_before(later, int(arrays.start[i])) is not None]
    mine = target.copy()
    mine[newer] = False
    out = {}
    for i, band in zip(mine.nonzero()[0], bands_of(own, arrays.feat.take(mine)), strict=True):
        out[arrays.items[i].ts_utc] = band
    if newer:
        hours = [arrays.items[i] for i in newer]
        bands = forecast_bands(
            later,
            [int(arrays.start[i]) for i in newer],
            [h.gr_w for h in hours],
            [h.temp for h in hours],
            [h.tc for h in hours],
            [None if h.issued is None else int(h.issued) for h in hours],
        )
        out.update({h.ts_utc: band for h, band in zip(hours, bands, strict=True) if band is not None})
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def backtest(
    settings: Settings, store: Store, start_local: datetime, end_local: datetime, out: TextIO | None = None
) -> dict[datetime, Band]:
    """``--calibrate --from A --to B``: for each local day in [A, B), fit only on the hours before that
    day, store that calibration (fitted at the day's start, marked as a backtest) and fill the day's
    ``kwh_fc`` and ``kwh_fc_p10``/``kwh_fc_p90``. Days with too little history before them keep theirs."""
    import numpy as np

    from solar3p.calibrate import Calibration, CalibrationError
    from solar3p.quantiles import SPREAD_REFIT_DAYS

    out = out or sys.stdout
    tz = settings.timezone
    first_day, last_day = start_local.date(), end_local.date()
    if end_local.time() != datetime.min.time():
        last_day += timedelta(days=1)
    newest = store.newest("pvhistory")
    if newest is not None:  # no day after the record's last has an hour to fill: a far --to reads no further
        last_local = newest.replace(tzinfo=timezone.utc).astimezone(tz).date()
        last_day = min(last_day, last_local + timedelta(days=1))
    end_utc = H.to_utc(datetime.combine(last_day, datetime.min.time()), tz)
    items = read_hours(store, range_start_utc(start_local, tz) - timedelta(days=HISTORY_DAYS + 1), end_utc)
    given = plant(settings)
    if not items:
        raise DataError("no pvhistory hours with forecast weather before --to: nothing to backtest")
    arrays = _Arrays(items, given.latitude, given.longitude, given.horizon)
    filled: dict[datetime, Band] = {}
    rows, skipped, previous = [], [], None
    spread: tuple[date, Spread] | None = None  # the last spread learned, and on which day
    day = first_day
    range_start = H.to_utc(start_local, tz)
    range_end = H.to_utc(end_local, tz)
    stored = load_calibrations(store)
    while day < last_day:
        day_start = H.to_utc(datetime.combine(day, datetime.min.time()), tz)
        day_end = H.to_utc(datetime.combine(day + timedelta(days=1), datetime.min.time()), tz)
        lo, hi = max(day_start, range_start), min(day_end, range_end)
        target = (arrays.start >= H.epoch_s(lo)) & (arrays.start < H.epoch_s(hi))
        past = (arrays.start + 3600 <= H.epoch_s(day_start)) & np.isfinite(arrays.kwh)
        past &= arrays.day > day.toordinal() - HISTORY_DAYS - 1
        if target.any():
            try:
                fresh = spread is None or (day - spread[0]).days >= SPREAD_REFIT_DAYS
                cal = arrays.fit(past, given, start=previous, spread=None if fresh or spread is None else spread[1])
            except CalibrationError:
                skipped.append(day)
            else:
                previous = cal.orientations
                if fresh and cal.spread is not None:
                    spread = (day, cal.spread)
                row = calibration_row(cal, day_start, backtest=True)
                rows.append(row)
                # From the calibration as stored (its parameters rounded): what a rerun of the day applies.
                own = Calibration.from_json(json.loads(row["params"]))
                filled.update(_day_bands(arrays, target, own, H.epoch_s(day_start), stored))
        day += timedelta(days=1)
    store.upsert("calibration", rows, commit=False)
    store.set_kwh_fc(filled)
    banded: list[tuple[float, float, float, float]] = []  # median, P10, P90, measured
    for h in items:
        fc, p10, p90 = filled.get(h.ts_utc, (None, None, None))
        if h.kwh_pv is not None and fc is not None and p10 is not None and p90 is not None:
            banded.append((fc, p10, p90, h.kwh_pv))
    measured = [(filled[h.ts_utc][0] or 0.0, h.kwh_pv) for h in items if h.ts_utc in filled and h.kwh_pv is not None]
    counted = [(f, m) for f, m in measured if f > 0 or m > 0]
    summary = ""
    if counted:
        total = sum(m for _, m in counted)
        mae = sum(abs(f - m) for f, m in counted) / len(counted)
        bias = sum(f - m for f, m in counted) / len(counted)
        mean = total / len(counted)
        if mean > 0:
            summary = (
                f"; hourly nMAE {100 * mae / mean:.1f} %, bias {100 * bias / mean:+.1f} % over {len(counted)} hours"
            )
    out.write(
        f"backtest {first_day} to {last_day} (local): {len(rows)} day(s) fitted on the hours before each, "
        f"{len(filled)} kwh_fc filled{summary}\n"
    )
    counted_bands = [b for b in banded if b[0] > 0 or b[3] > 0]
    if counted_bands:
        below = sum(m < p10 for _, p10, _, m in counted_bands) / len(counted_bands)
        above = sum(m > p90 for _, _, p90, m in counted_bands) / len(counted_bands)
        out.write(
            f"P10-P90 band: {100 * (1 - below - above):.0f} % of {len(counted_bands)} hours inside, "
            f"{100 * below:.0f} % below P10, {100 * above:.0f} % above P90 (aim: 80 / 10 / 10)\n"
        )
    if skipped:
        out.write(
            f"{len(skipped)} day(s) had under 3 days of history before them and kept their kwh_fc "
            f"(first {skipped[0]})\n"
        )
    if rows:
        last = Calibration.from_json(json.loads(rows[-1]["params"]))
        out.write(f"last fit: {last.describe()}\n")
    return filled


def load_calibrations(store: Store) -> list:
    """Stored calibrations as ``(fitted unix s, Calibration)``; rows that do not parse are skipped with a
    warning (they came from a newer or broken version)."""
    stored = store.calibrations()
    if not stored:
        return []  # the hourly run before any calibration: no numpy import (solar3p.calibrate needs it)
    out, notes = parse_calibrations(stored)
    for note in notes:
        log.warning("%s", note)
    return out


def parse_calibrations(stored: Sequence[StoredCalibration]) -> tuple[list, list[str]]:
    """``load_calibrations``' list from the store's rows, and the warnings about rows that do not parse."""
    if not stored:
        return [], []
    out, notes = [], []
    for row in stored:
        cal = usable(row.params)
        if isinstance(cal, str):
            notes.append(f"calibration fitted {row.fitted_utc} is not usable ({cal}): skipped")
            continue
        out.append((int(H.epoch_s(row.fitted_utc)), cal))
    return out, notes


def usable(params: str | None) -> Calibration | str:
    """A stored calibration's ``params`` as the collector uses them, or why it cannot (and skips the row)."""
    from solar3p.calibrate import Calibration

    try:
        return Calibration.from_text(params or "")
    except ValueError as exc:
        return str(exc)


Band = tuple[float | None, float | None, float | None]  # kwh_fc (the median), kwh_fc_p10, kwh_fc_p90


def bands_of(cal: Calibration, feat: Features) -> list[Band]:
    """Each hour's (median, P10, P90), kWh rounded to 5 decimals, from ``cal``; a calibration without a
    learned spread (too little history, or from an older version) gives its point forecast and no band."""
    from solar3p.quantiles import calibrated_kwh

    if cal.spread is None:
        return [(row[0], None, None) for row in calibrated_kwh(cal, feat)]
    return [(m, p10, p90) for m, p10, p90 in calibrated_kwh(cal, feat, (0.1, 0.9))]


def forecast_bands(
    calibrations: list,
    hour_start: Sequence[int],
    gr_w: Sequence[float | None],
    temp: Sequence[float | None],
    tc: Sequence[float | None] | None = None,
    issued: Sequence[int | None] | None = None,
) -> list[Band | None]:
    """(kwh_fc, kwh_fc_p10, kwh_fc_p90) for hours starting at ``hour_start`` (unix s) with forecast
    ``gr_w``/``temp`` (None: no band), cloud cover ``tc`` and issue time ``issued`` (unix s; None where
    unknown), each from the newest calibration fitted before the hour began."""
    import numpy as np

    from solar3p.calibrate import features_at, newest_before

    n = len(hour_start)
    cover: Sequence[float | None] = [None] * n if tc is None else tc
    when: Sequence[int | None] = [None] * n if issued is None else issued
    out: list[Band | None] = [None] * n
    groups: dict[int, list[int]] = {}
    chosen = {}
    for i, t in enumerate(hour_start):
        if gr_w[i] is None or temp[i] is None:
            continue
        cal = newest_before(calibrations, int(t))
        if cal is not None:
            groups.setdefault(id(cal), []).append(i)
            chosen[id(cal)] = cal
    for key, idx in groups.items():
        cal = chosen[key]
        feat = features_at(
            cal,
            np.asarray([hour_start[i] for i in idx]),
            [gr_w[i] for i in idx],
            [temp[i] for i in idx],
            tc=[cover[i] for i in idx],
            issued=[when[i] for i in idx],
        )
        for i, band in zip(idx, bands_of(cal, feat), strict=True):
            out[i] = band
    return out


def bands_for(calibrations: list, rows: Sequence) -> list[Band | None]:
    """(kwh_fc, kwh_fc_p10, kwh_fc_p90) for collector rows (``ts_utc``, ``gr_w``, ``tc``, ``temp``,
    ``forecast_issued`` attributes) from ``load_calibrations``' list, each from the newest calibration
    fitted before its hour began (None where there is none, or the hour has no forecast weather)."""
    if not calibrations or not rows:
        return [None] * len(rows)
    starts = [int(H.epoch_s(r.ts_utc)) for r in rows]
    issued = [None if r.forecast_issued is None else int(H.epoch_s(r.forecast_issued)) for r in rows]
    return forecast_bands(
        calibrations, starts, [r.gr_w for r in rows], [r.temp for r in rows], [r.tc for r in rows], issued
    )


def forecast_kwh_fc(
    calibrations: list,
    hour_start: Sequence[int],
    gr_w: Sequence[float | None],
    temp: Sequence[float | None],
    tc: Sequence[float | None] | None = None,
    issued: Sequence[int | None] | None = None,
) -> list[float | None]:
    """kwh_fc (the median) alone of ``forecast_bands``."""
    return [None if b is None else b[0] for b in forecast_bands(calibrations, hour_start, gr_w, temp, tc, issued)]
