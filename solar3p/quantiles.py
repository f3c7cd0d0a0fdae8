"""The calibrated forecast as a distribution: each hour's quantiles (P10, median, P90, any probability).

Pure numpy (no files, no database). ``solar3p.calibrate.fit`` learns a ``Spread`` from errors its own
method made on days it did not fit on; ``hour_quantiles`` (rows of a forecast file) and ``quantiles``
(features) apply it.

How the spread is learned (``learn``):

1. **Held-out errors.** The fit's history is split into ``FOLDS`` sets of interleaved local days; for each,
   the level and both residual tables are fitted again without those days and forecast them (the
   orientation, two numbers pulled toward the owner's, is shared). Each hour's error is thus one the
   method made on a day it did not see, as the next day's will be.
2. **Normalised.** An error is divided by the roof's clear-sky output of that hour (``clear_kwh``): what
   the sun could give at most. Low sun and short winter hours then share one scale with noon in June, and
   an hour with the sun below the horizon has a band of zero width.
3. **By what makes an hour uncertain.** Per cell of the forecast's own clear-sky index (its forecast over
   the clear-sky output) × sky regime (``regime``: clear, broken, overcast, from the forecast's cloud
   cover, else its GHI) × sun elevation, the recency-weighted quantiles of those normalised errors at
   ``PROBS``; each cell is pulled toward its coarser parent (index × regime, then index, then all) by
   ``CELL_PRIOR_HOURS`` hours, so a thin cell borrows from its neighbours. The lead time scales the
   spread around the median per lead bucket (``LEAD_EDGES``), the same way pulled toward 1.
4. **Recent walk-forward misses shift the band** (``recent_shift``): the interleaved folds share the
   season, the level and the sun positions of the days around them; a forecast made *before* a day does
   not (a level still low after snow weeks, spring sun at heights the history never saw, the service's
   bias changing with the weather of the month). So the last ``FORWARD_DAYS`` days are forecast again in
   ``FORWARD_BLOCKS`` blocks, each by the level and tables fitted only on the days before it (the
   orientation is the whole fit's: pulled toward the owner's, it moves little), and for each
   probability the recency-weighted quantile of the normalised miss against the fold-learned band becomes
   an additive ``shift`` (pulled toward 0 by ``SHIFT_PRIOR_HOURS``): where the recent forecasts came out
   above their P90 one hour in four, P90 moves up until it is one in ten. The median moves too
   (``kwh_fc`` is the band's median), which takes out a recent bias. Renewed on every fit, also when a
   backtest keeps a week's cells. The shift is learned per sky regime too (``Spread.regime_shift``): each
   regime's recent misses, pulled toward the shift of all hours by ``SHIFT_PRIOR_HOURS`` (the weather
   service's bias this month is not the same under a clear and an overcast forecast: aneo B's and C's
   hourly nMAE 1.5-1.7 points lower), for hours whose forecast gives cloud cover (without it the regime
   is cut from the forecast irradiance, which the sky table already follows). It is a share of what the
   sun could give: an hour whose roof gets less than the scale's floor even under a clear sky (the sun a
   fraction of a degree up, behind the roof) is shifted that much less, one that could get nothing not at
   all (it had a median and a P10 above 0, measured 0: aneo B's and C's first hour of April sun below P10
   four times in five).
5. **Days no forecast can know are left out** (``unknowable_days``): a day darker than any sky makes it
   (measured below ``DARK_DAY_RATIO`` of the clear-sky output while the sun was up: snow on the panels,
   an outage) or with a flat-lined meter (``STUCK_HOURS`` identical non-zero hours in a row). Days the
   forecast merely got wrong (overcast forecast, sunny day) stay in: they are the spread.
6. **An episode in progress widens its side** (``Spread.episode``): the shift weighs two weeks and lags a
   bias episode (snow clearing off a flat roof, a thaw: aneo C ran 1.3 × its median for two weeks). So
   the last ``EPISODE_DAYS`` days' measured / walk-forward-forecast ratio is kept as a log; beyond
   ``EPISODE_DEADBAND`` the quantiles on that side move out by ``EPISODE_GAIN`` × the excess departure
   × the hour's point forecast (fully from P10/P90 on, linearly less toward the median, which stays
   ``kwh_fc``).
7. **A sun position the history has not seen widens the band** (``Spread.sun_sd``): the sun table (shading,
   the roof's real orientation) holds 1 where no hour has shown otherwise, and spring sun rises and sets at
   azimuths a winter history never saw (aneo's buildings: mornings a fifth below their median, evenings
   a third above, on the first weeks of new sun). Each sun cell keeps how little it knows (its prior's share,
   ``CELL_PRIOR_HOURS / (hours + CELL_PRIOR_HOURS)``) × how far the cells that did see enough hours are off 1
   (their RMS, weighted by hours): that much uncertainty of the light from the sun's direction is added in
   quadrature to each side of the band, as a normal error (z of the probability); the median stays.

Errors are learned from counting hours only (forecast or measured above 0, as ``pv_report.py`` counts
them): an hour forecast and measured at nothing has no error to teach, and a pile of them made the band of
the dimmest cells too narrow (aneo B's and C's early hours below P10 one time in five).

A quantile at probability p: ``forecast + scale_kwh × (q_p(cell) (× lead scale around the median) +
shift_p)``, widened where the sun stands where the history never saw it, + the episode's widening,
clipped to [0, the roof's AC limit]; non-decreasing in p by construction. The median is ``kwh_fc``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from solar3p.calibrate import Calibration, Features
    from solar3p.meteo import MeteoRow

# Probabilities the spread stores; others are interpolated (below 0.01 / above 0.99: the end values).
PROBS = (0.01, 0.02, 0.05, *(round(0.1 + 0.05 * i, 2) for i in range(17)), 0.95, 0.98, 0.99)
FOLDS = 5  # held-out sets of days
SPREAD_REFIT_DAYS = 7  # a backtest's daily refits learn the spread again after this many days
MIN_SPREAD_DAYS = 10  # usable days needed to learn a spread (each fold then still fits on 8)
INDEX_EDGES = (0.0, 0.15, 0.3, 0.5, 0.7, 0.9, 100.0)  # forecast / clear-sky output of the roof
ELEVATION_EDGES = (0.0, 10.0, 25.0, 91.0)  # sun elevation at mid-hour, degrees
REGIMES = ("clear", "broken", "overcast")
CLEAR_TC, OVERCAST_TC = 30.0, 80.0  # forecast total cloud cover, %: below the first clear, from the second overcast
CLEAR_KT, OVERCAST_KT = 0.65, 0.3  # without cloud cover: forecast GHI / clear-sky GHI
LEAD_EDGES = (0.0, 6.0, 24.0, 48.0, math.inf)  # hours, the report's lead buckets
CELL_PRIOR_HOURS = 30.0  # a cell is pulled toward its parent by this many hours
LEAD_PRIOR_HOURS = 100.0  # a lead bucket's scale is pulled toward 1 by this many hours
HALF_LIFE_D = 30.0  # recency weight of an error, days
# Two weeks, half-life 5 days (chosen on aneo A/B, docs/benchmarks.md): four weeks at 10 days chased a
# thaw two weeks late and then overshot once the level had caught up.
FORWARD_DAYS = 14  # the recent days forecast again walk-forward for the shift
FORWARD_BLOCKS = 4  # in this many blocks, each fitted on the days before it
SHIFT_HALF_LIFE_D = 5.0  # recency weight of a walk-forward miss, days
SHIFT_PRIOR_HOURS = 40.0  # the shift is pulled toward 0 by this many hours
# A day measuring below both these shares of its clear-sky output and of its forecast: snow or an outage
# (the thickest overcast still gives more; a forecast of it would have said so).
DARK_DAY_RATIO, DARK_FORECAST_RATIO = 0.08, 0.15
SCALE_FLOOR = 0.01  # the smallest error scale, a share of the rating (kWh per kWp)
# An episode in progress (step 6), chosen on aneo A/B (docs/benchmarks.md): the last 3 days' walk-forward
# miss beyond a deadband of log 0.1 (~10 %) widens the band on its side by as much.
EPISODE_DAYS = 3
EPISODE_GAIN = 1.0
EPISODE_DEADBAND = 0.1
STUCK_HOURS = 3  # this many identical non-zero hours in a row: a flat-lined meter, not weather


def regime(kt: np.ndarray, tc: np.ndarray) -> np.ndarray:
    """0 clear, 1 broken, 2 overcast: from the forecast's total cloud cover ``tc`` (%) where known, else
    from its clear-sky index ``kt``."""
    kt = np.asarray(kt, dtype=float)
    tc = np.asarray(tc, dtype=float)
    by_tc = np.where(tc < CLEAR_TC, 0, np.where(tc >= OVERCAST_TC, 2, 1))
    by_kt = np.where(kt >= CLEAR_KT, 0, np.where(kt < OVERCAST_KT, 2, 1))
    return np.where(np.isfinite(tc), by_tc, by_kt).astype("int64")


def _bin(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2).astype("int64")


def lead_bucket(lead: np.ndarray) -> np.ndarray:
    """Index into LEAD_EDGES per hour; -1 where the lead is unknown."""
    lead = np.asarray(lead, dtype=float)
    return np.where(np.isfinite(lead), _bin(np.nan_to_num(lead), LEAD_EDGES), -1)


@dataclass(frozen=True)
class Spread:
    """The learned distribution of normalised errors. ``cells``: [index][regime][elevation][PROBS]."""

    cells: np.ndarray
    lead_scale: tuple[float, ...]  # per LEAD_EDGES bucket
    hours: int  # held-out hours learned from
    days: int
    left_out_days: int  # snow, outage or flat-lined days not learned from
    shift: tuple[float, ...] = ()  # per PROBS, added to the normalised quantiles (step 4); () = none
    episode: float = 0.0  # log(measured / forecast) of the last EPISODE_DAYS days (step 6)
    # Per sun-table cell [azimuth][elevation]: the unknown share of the sun's light there (step 7); None: none.
    sun_sd: np.ndarray | None = None
    # Per sky regime (REGIMES) × PROBS: the shift learned on that regime's hours (step 4); None: ``shift``.
    regime_shift: np.ndarray | None = None

    def as_json(self) -> dict:
        return {
            "probs": list(PROBS),
            "index_edges": list(INDEX_EDGES),
            "elevation_edges": list(ELEVATION_EDGES),
            "regimes": list(REGIMES),
            "lead_edges": [e if math.isfinite(e) else None for e in LEAD_EDGES],
            "cells": np.round(self.cells, 4).tolist(),
            "lead_scale": [round(s, 4) for s in self.lead_scale],
            "hours": self.hours,
            "days": self.days,
            "left_out_days": self.left_out_days,
            "shift": [round(v, 4) for v in self.shift],
            "episode": round(self.episode, 4),
            **({} if self.sun_sd is None else {"sun_sd": np.round(self.sun_sd, 4).tolist()}),
            **({} if self.regime_shift is None else {"regime_shift": np.round(self.regime_shift, 4).tolist()}),
        }

    @classmethod
    def from_json(cls, doc: object) -> "Spread":
        """ValueError when ``doc`` is not a spread of this layout."""
        if not isinstance(doc, dict):
            raise ValueError("its spread is not a JSON object")
        if [round(float(p), 4) for p in doc.get("probs") or []] != list(PROBS):
            raise ValueError("its spread has other probabilities")
        cells = np.asarray(doc["cells"], dtype=float)
        shape = (len(INDEX_EDGES) - 1, len(REGIMES), len(ELEVATION_EDGES) - 1, len(PROBS))
        scale = tuple(float(s) for s in doc["lead_scale"])
        if cells.shape != shape or not np.all(np.isfinite(cells)) or np.any(np.diff(cells, axis=-1) < 0):
            raise ValueError("its spread's cells do not match its bins or decrease")
        if len(scale) != len(LEAD_EDGES) - 1 or not all(0 < s < 100 for s in scale):
            raise ValueError("its spread's lead scales are out of range")
        shift = tuple(float(v) for v in doc.get("shift") or ())
        if shift and (len(shift) != len(PROBS) or not all(math.isfinite(v) and abs(v) < 10 for v in shift)):
            raise ValueError("its spread's shift does not match its probabilities")
        episode = float(doc.get("episode") or 0.0)
        if not (math.isfinite(episode) and abs(episode) < 10):
            raise ValueError("its spread's episode is out of range")
        sun_sd = None if doc.get("sun_sd") is None else np.asarray(doc["sun_sd"], dtype=float)
        if sun_sd is not None and (sun_sd.ndim != 2 or not np.all((sun_sd >= 0) & (sun_sd < 10))):
            raise ValueError("its spread's sun uncertainty is not a table of small non-negative numbers")
        by_regime = None if doc.get("regime_shift") is None else np.asarray(doc["regime_shift"], dtype=float)
        if by_regime is not None and (
            by_regime.shape != (len(REGIMES), len(PROBS)) or not np.all(np.abs(by_regime) < 10)
        ):
            raise ValueError("its spread's shift by sky regime does not match its regimes and probabilities")
        return cls(
            cells,
            scale,
            int(doc.get("hours") or 0),
            int(doc.get("days") or 0),
            int(doc.get("left_out_days") or 0),
            shift,
            episode,
            sun_sd,
            by_regime,
        )


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return np.interp(PROBS, (cum - 0.5 * w) / cum[-1], v)


def _cell_quantiles(groups: np.ndarray, n_groups: int, e: np.ndarray, w: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Per group, the weighted quantiles of ``e`` pulled toward ``parent[group]`` by CELL_PRIOR_HOURS."""
    out = parent.copy()
    counts = np.bincount(groups, w, minlength=n_groups)
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(n_groups + 1))
    for g in range(n_groups):
        idx = order[bounds[g] : bounds[g + 1]]
        if idx.size == 0:
            continue
        n = counts[g]
        out[g] = (n * _weighted_quantiles(e[idx], w[idx]) + CELL_PRIOR_HOURS * parent[g]) / (n + CELL_PRIOR_HOURS)
    return out


def unknowable_days(
    meas: np.ndarray, clear: np.ndarray, forecast: np.ndarray, day: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Per hour: whether its day is one no weather forecast can know (module docstring, step 4)."""
    days, inv = np.unique(day, return_inverse=True)
    m_sum = np.bincount(inv, meas, minlength=days.size)
    c_sum = np.bincount(inv, clear, minlength=days.size)
    f_sum = np.bincount(inv, np.nan_to_num(forecast), minlength=days.size)
    dark = (c_sum > 0) & (m_sum < DARK_DAY_RATIO * c_sum) & (m_sum < DARK_FORECAST_RATIO * f_sum)
    order = np.argsort(start, kind="stable")
    m, s, d = meas[order], start[order], inv[order]
    # Hour i repeats hour i-1 (non-zero, an hour apart); STUCK_HOURS in a row = STUCK_HOURS - 1 repeats.
    same = np.r_[False, (m[1:] > 0) & (m[1:] == m[:-1]) & (np.diff(s) == 3600)]
    runs = np.ones(same.size, dtype=bool)
    for lag in range(STUCK_HOURS - 1):
        runs &= np.r_[np.zeros(lag, dtype=bool), same[: same.size - lag]]
    stuck = np.zeros(days.size, dtype=bool)
    stuck[d[runs]] = True
    return (dark | stuck)[inv]


def _learnable(
    forecast: np.ndarray, meas: np.ndarray, clear: np.ndarray, feat: "Features", day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per hour, whether an error is learned from it, and whether its day is one no forecast can know.
    Learned from: counting hours with the sun up and a forecast (forecast or measured above 0: the module
    docstring says why), also those whose mid-hour sun is already down (clear-sky output 0), on days a
    forecast can know."""
    bad = unknowable_days(meas, clear, forecast, day, feat.start)
    counting = (np.nan_to_num(forecast) > 0) | (meas > 0)
    return ~bad & (feat.sunlit > 0) & np.isfinite(forecast) & counting, bad


def learn(
    forecast: np.ndarray,
    meas: np.ndarray,
    clear: np.ndarray,
    feat: "Features",
    day: np.ndarray,
    rating_kwh: float,
) -> Spread | None:
    """The spread from held-out ``forecast``s (kWh) of hours with measured ``meas`` and clear-sky output
    ``clear`` (kWh), features ``feat`` and local-day numbers ``day``. None with under MIN_SPREAD_DAYS days."""
    use, bad = _learnable(forecast, meas, clear, feat, day)
    if np.unique(day[use]).size < MIN_SPREAD_DAYS:
        return None
    fc, m, cs, d = forecast[use], meas[use], clear[use], day[use]
    e = (m - fc) / scale_kwh(fc, cs, rating_kwh)
    w = np.power(0.5, (d.max() - d) / HALF_LIFE_D)
    ni, nr, ne = len(INDEX_EDGES) - 1, len(REGIMES), len(ELEVATION_EDGES) - 1
    index = _bin(fc / np.maximum(cs, SCALE_FLOOR * rating_kwh), INDEX_EDGES)
    reg = regime(feat.kt[use], feat.tc[use])
    elev = _bin(90.0 - feat.zenith[use], ELEVATION_EDGES)
    top = _weighted_quantiles(e, w)[None, :]
    q1 = _cell_quantiles(index, ni, e, w, np.repeat(top, ni, axis=0))
    q2 = _cell_quantiles(index * nr + reg, ni * nr, e, w, np.repeat(q1, nr, axis=0))
    q3 = _cell_quantiles((index * nr + reg) * ne + elev, ni * nr * ne, e, w, np.repeat(q2, ne, axis=0))
    q3 = np.maximum.accumulate(q3, axis=1)  # interpolation keeps order; rounding must not break it
    cells = q3.reshape(ni, nr, ne, len(PROBS))
    # Lead: the spread around each cell's median, per bucket relative to all, pulled toward 1.
    mid = PROBS.index(0.5)
    cell = (index * nr + reg) * ne + elev
    dev = np.abs(e - q3[cell, mid])
    bucket = lead_bucket(feat.lead[use])
    overall = float(np.average(dev, weights=w)) if dev.size else 0.0
    scale = []
    for b in range(len(LEAD_EDGES) - 1):
        sel = bucket == b
        n = float(w[sel].sum())
        ratio = float(np.average(dev[sel], weights=w[sel])) / overall if n > 0 and overall > 0 else 1.0
        scale.append((n * ratio + LEAD_PRIOR_HOURS) / (n + LEAD_PRIOR_HOURS))
    return Spread(cells, tuple(scale), int(use.sum()), int(np.unique(d).size), int(np.unique(day[bad]).size))


def scale_kwh(forecast: np.ndarray, clear: np.ndarray, rating_kwh: float) -> np.ndarray:
    """What an hour's errors are measured in: its clear-sky output, or its forecast where that is more (a
    clear-sky model undershoots the light of a sun a few degrees up), and never under SCALE_FLOOR of the rating."""
    return np.maximum(np.maximum(clear, forecast), SCALE_FLOOR * rating_kwh)


def clear_kwh(cal: "Calibration", feat: "Features") -> np.ndarray:
    """The roof's output under a clear sky, kWh per hour of ``feat``, at the calibration's level."""
    from solar3p.calibrate import roof_power

    return cal.level * roof_power(feat.clear(), cal.given, cal.orientations)[0] / 1000.0


def ac_limit_kwh(cal: "Calibration") -> float:
    """The most the roof can give in an hour: the inverter's AC rating solar3p's physics uses, scaled up
    when the level shows the roof bigger than given."""
    from solar3p.model import DC_AC_RATIO

    return cal.given.rating_w / DC_AC_RATIO / 1000.0 * max(1.0, cal.level)


def check_probabilities(probs: Sequence[float]) -> tuple[float, ...]:
    """``probs`` as floats; ValueError unless each is strictly between 0 and 1 (at most 99 of them)."""
    out = tuple(float(p) for p in probs)
    if not out or len(out) > 99 or not all(0.0 < p < 1.0 for p in out):
        raise ValueError("probabilities must be 1 to 99 numbers strictly between 0 and 1")
    return out


def _normalised(spread: Spread, fc: np.ndarray, cs: np.ndarray, feat: "Features", rating_kwh: float) -> np.ndarray:
    """Per hour (rows) the normalised quantiles at every PROBS (columns): the cell's, widened or narrowed
    by the lead bucket's scale around the cell's median, plus the shift; non-decreasing."""
    ratio = fc / np.maximum(cs, SCALE_FLOOR * rating_kwh)
    cells = spread.cells[
        _bin(ratio, INDEX_EDGES), regime(feat.kt, feat.tc), _bin(90.0 - feat.zenith, ELEVATION_EDGES)
    ]  # hours × PROBS
    mid = cells[:, PROBS.index(0.5)][:, None]
    bucket = lead_bucket(feat.lead)
    scale = np.where(bucket >= 0, np.asarray(spread.lead_scale)[np.maximum(bucket, 0)], 1.0)[:, None]
    out = mid + scale * (cells - mid)
    if spread.shift:
        # A share of what the sun could give: an hour whose roof could get nothing is not shifted.
        light = np.minimum(np.maximum(cs, fc) / (SCALE_FLOOR * rating_kwh), 1.0)[:, None]
        shift = np.asarray(spread.shift)[None, :]
        if spread.regime_shift is not None:  # by the sky the forecast gave (its cloud cover), where it gave one
            shift = np.where(np.isfinite(feat.tc)[:, None], spread.regime_shift[regime(feat.kt, feat.tc)], shift)
        out = out + light * shift
    return np.maximum.accumulate(out, axis=1)


def recent_shift(
    spread: Spread,
    forecast: np.ndarray,
    meas: np.ndarray,
    clear: np.ndarray,
    feat: "Features",
    day: np.ndarray,
    rating_kwh: float,
) -> Spread:
    """``spread`` with its shift (module docstring, step 4) learned from walk-forward ``forecast``s (NaN:
    none) of hours measuring ``meas`` with clear-sky output ``clear``; unchanged shift-less ``spread``
    when no hour has one."""
    use = _learnable(forecast, meas, clear, feat, day)[0]
    plain = Spread(spread.cells, spread.lead_scale, spread.hours, spread.days, spread.left_out_days)
    if not use.any():
        return plain
    fc, m, cs, d = forecast[use], meas[use], clear[use], day[use]
    scale = scale_kwh(fc, cs, rating_kwh)
    table = _normalised(plain, fc, cs, feat.take(use), rating_kwh)
    miss = (m - fc)[:, None] / scale[:, None] - table  # hours × PROBS: where each hour fell against each quantile
    w = np.power(0.5, (d.max() - d) / SHIFT_HALF_LIFE_D)
    # A month holds too few hours for a tail quantile: beyond P10/P90 the tails keep the folds' shape and
    # move with P10/P90.
    at = [PROBS.index(min(max(p, 0.1), 0.9)) for p in PROBS]
    everywhere = _recent_misses(miss, w, at)
    shift = float(w.sum()) * everywhere / (float(w.sum()) + SHIFT_PRIOR_HOURS)
    # Per sky regime of the forecast's cloud cover, pulled toward the shift of all hours by as many hours.
    # Without cloud cover the regime is cut from the forecast irradiance, which the sky table already
    # follows: those hours keep the shift of all hours.
    covered = np.isfinite(feat.tc[use])
    reg = np.where(covered, regime(feat.kt[use], feat.tc[use]), -1)
    by_regime = np.repeat(shift[None, :], len(REGIMES), axis=0)
    for r in range(len(REGIMES)):
        sel = reg == r
        n = float(w[sel].sum())
        if n > 0:
            by_regime[r] = (n * _recent_misses(miss[sel], w[sel], at) + SHIFT_PRIOR_HOURS * shift) / (
                n + SHIFT_PRIOR_HOURS
            )
    return Spread(
        plain.cells,
        plain.lead_scale,
        plain.hours,
        plain.days,
        plain.left_out_days,
        tuple(float(v) for v in shift),
        regime_shift=by_regime,
    )


def _recent_misses(miss: np.ndarray, w: np.ndarray, at: Sequence[int]) -> np.ndarray:
    """Per PROBS, the ``w``-weighted quantile at ``PROBS[at[i]]`` of column ``at[i]`` of ``miss``."""
    columns = {k: _weighted_quantiles(miss[:, k], w)[k] for k in set(at)}
    return np.array([columns[k] for k in at])


def quantiles(cal: "Calibration", feat: "Features", probs: Sequence[float]) -> np.ndarray:
    """kWh per hour of ``feat`` (rows) at each of ``probs`` (columns), from ``cal``'s point forecast and
    spread; ValueError when ``cal`` has no spread (fitted on too few days, or by an older version)."""
    return _quantiles(cal, feat, check_probabilities(probs))


def _quantiles(cal: "Calibration", feat: "Features", p: tuple[float, ...]) -> np.ndarray:
    """``quantiles`` at probabilities ``p`` already checked (any number of them)."""
    from solar3p.calibrate import predict_parts

    spread = cal.spread
    if spread is None:
        if cal.days < MIN_SPREAD_DAYS:
            raise ValueError(
                f"the calibration has no learned spread (it was fitted on {cal.days} day(s) of history and a band "
                f"needs {MIN_SPREAD_DAYS}): run history_collector.py --calibrate again after "
                f"{MIN_SPREAD_DAYS - cal.days} more day(s)"
            )
        raise ValueError(
            "the calibration has no learned spread (it was written by a version that learned none): "
            "run history_collector.py --calibrate again"
        )
    n = len(feat)
    if n == 0:
        return np.zeros((0, len(p)))
    fc, base, share = predict_parts(cal, feat)
    cs = clear_kwh(cal, feat)
    rating_kwh = cal.given.rating_w / 1000.0
    ok = feat.sunlit > 0
    rows = _normalised(spread, fc, cs, feat, rating_kwh)
    normalised = np.array([np.interp(p, PROBS, row) for row in rows])
    scale = scale_kwh(fc, cs, rating_kwh)
    if spread.sun_sd is not None:
        unknown = cal.sun.lookup_in(spread.sun_sd, feat.sun_az, 90.0 - feat.zenith) * share * base / scale
        middle = rows[:, PROBS.index(0.5), None]
        normalised = _widened(normalised, middle, unknown, p)
    out = fc[:, None] + scale[:, None] * normalised
    out = out + _episode_widening(spread.episode, fc, p)
    out = np.clip(out, 0.0, ac_limit_kwh(cal))
    out = np.where(ok[:, None], out, 0.0)
    return np.maximum.accumulate(out, axis=1) if list(p) == sorted(p) else out


def _widened(normalised: np.ndarray, middle: np.ndarray, sd: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """``normalised`` quantiles (hours × probs) around their ``middle`` (hours × 1) with a normal error of
    standard deviation ``sd`` (per hour, the same unit) added in quadrature on each side (step 7)."""
    z = np.array([NormalDist().inv_cdf(q) for q in probs])[None, :]
    off = normalised - middle
    return middle + np.sign(z) * np.sqrt(off**2 + (z * sd[:, None]) ** 2)


def _episode_widening(episode: float, fc: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """kWh added to each quantile (hours × probs) of point forecasts ``fc``: on the side the last days
    departed to, in proportion to the departure and to how far out the quantile is (full from P10/P90 on);
    the median is untouched."""
    excess = max(abs(episode) - EPISODE_DEADBAND, 0.0)
    if excess == 0.0:
        return np.zeros((fc.size, len(probs)))
    sign = 1.0 if episode > 0 else -1.0
    reach = np.array([min(max(sign * (p - 0.5), 0.0) / 0.4, 1.0) for p in probs])
    return sign * EPISODE_GAIN * abs(math.expm1(sign * excess)) * fc[:, None] * reach[None, :]


@dataclass(frozen=True)
class HourQuantiles:
    """One forecast hour's quantiles: ``values[i]`` is the kWh at ``probs[i]``; None where the file gives
    no irradiance for the hour."""

    start: int  # unix seconds of the hour's start (UTC)
    probs: tuple[float, ...]
    values: tuple[float, ...] | None

    def at(self, prob: float) -> float | None:
        return None if self.values is None else self.values[self.probs.index(prob)]


def hour_quantiles(
    rows: Sequence["MeteoRow"], cal: "Calibration", probs: Sequence[float] = (0.1, 0.5, 0.9), issued: int | None = None
) -> list[HourQuantiles]:
    """Each forecast row's quantiles at ``probs`` (kWh, rounded to 5 decimals) from calibration ``cal``.
    ``issued``: when the file was forecast (its top-level ``issued``), for rows without their own; the
    lead time widens or narrows the band. ValueError: bad ``probs``, or ``cal`` has no spread."""
    from solar3p.calibrate import features_at

    p = check_probabilities(probs)
    feat = features_at(
        cal,
        [r.time for r in rows],
        [r.gr_w for r in rows],
        [r.temp for r in rows],
        tc=[r.tc for r in rows],
        issued=[r.issued if r.issued is not None else issued for r in rows],
    )
    table = quantiles(cal, feat, p)
    return [
        HourQuantiles(r.time, p, None if r.gr_w is None else tuple(round(float(v), 5) for v in values))
        for r, values in zip(rows, table, strict=True)
    ]


def file_quantiles(
    path: str | Path, cal: "Calibration", probs: Sequence[float] = (0.1, 0.5, 0.9)
) -> list[HourQuantiles]:
    """``hour_quantiles`` of every hour of the forecast file at ``path`` (MeteoFileError, 65, if unreadable)."""
    from solar3p.meteo import read_meteo_file

    document = read_meteo_file(path)
    return hour_quantiles(document.rows, cal, probs, document.issued)


def calibrated_kwh(cal: "Calibration", feat: "Features", probs: Sequence[float] = ()) -> list[tuple[float, ...]]:
    """Each hour of ``feat``: its calibrated median (``kwh_fc``), then its quantiles at ``probs``; kWh
    rounded to 5 decimals. The one place the median is made: the collector and its backtest, ``python -m
    solar3p`` and ``pv_report.py --publish`` all take it from here, so they agree to the last digit. A
    calibration without a learned spread gives its point forecast as the median; asked for ``probs``, it
    raises ValueError (saying what to do)."""
    from solar3p.calibrate import predict

    p = check_probabilities(probs) if len(probs) else ()
    if cal.spread is None:
        if p:
            quantiles(cal, feat, p)  # raises, saying what to do
        table = predict(cal, feat)[:, None]
    else:
        table = _quantiles(cal, feat, (0.5, *p))  # the median and up to 99 asked for
    return [tuple(round(float(v), 5) for v in row) for row in table]
