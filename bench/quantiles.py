"""Calibrated quantiles on real day-ahead forecasts (``make bench``; ``python -m bench.quantiles``).

Data: ``../shared/data/aneo2023/`` (its README): three buildings near Trondheim, Meteomatics forecasts issued
once a day 16-40 h ahead, measured PV, Oct 2022 - Apr 2023 (unit unknown: read as Wh, so kWh = value / 1000;
only ratios are reported). Also PVDAQ system 50 (``bench/calibration.py``'s data: satellite irradiance as a
perfect "forecast", no cloud cover, no lead).

Walk-forward: each local day from the 15th on is forecast by a calibration fitted only on the days before it
(as ``history_collector.py --calibrate --from --to`` does); the spread inside each fit is learned from its
held-out days. Scored: the hours from the README's split day (2023-01-29) on, counting hours (measured or
median above 0, like ``pv_report.py``) with the sun up in the hour; "clean" leaves the README's ``low_day``
(snow) days out, "all" keeps them. The owner is assumed to have said south, 35 deg and a rating of 1.2 x
the highest measured hour: the calibration must find the rest.

Figures: nMAE of the median and of solar3p's physics x one scale (fitted on the days before the split);
pinball loss (mean over 0.1/0.5/0.9, and over 0.01..0.99) as % of the mean measured hour, beside the best
constant-width band around the same median in hindsight (each quantile the median plus the constant that
minimises its loss on the scored hours); for how far width alone could go, our band with each half
rescaled per sky regime x sun height by the factor best on the scored hours (hindsight too); and, for
information, beside a constant-width band a forecaster could really have run: each day's constants the
quantiles of the misses of the days before it (all of them, and the last 30 days), learned on the same
counting hours outside the snow days; coverage of [P10, P90] and the shares below P10 / above P90,
overall, by sky regime (the forecast's cloud cover) and by lead bucket.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "aneo2023"
SITES = {"A": (63.491, 10.378), "B": (63.492, 10.379), "C": (63.453, 10.375)}
SPLIT = "2023-01-29"
FIRST_DAYS = 14  # days of history before the walk starts
ALL_PROBS = tuple(round(0.01 * i, 2) for i in range(1, 100))
BAND = (0.1, 0.5, 0.9)


def _unix(times) -> np.ndarray:
    import pandas as pd

    return ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(dtype="int64")


def load_site(site: str):
    import pandas as pd

    from solar3p import calibrate as C

    df = pd.read_csv(DATA / f"site_{site}.csv")
    t = pd.to_datetime(df["hour_start_utc"], utc=True)
    starts = _unix(t)
    issued = _unix(pd.to_datetime(df["issued_utc"], utc=True))
    lat, lon = SITES[site]
    feat = C.features(
        starts,
        df["ghi_wm2"].to_numpy(),
        df["temp_c"].to_numpy(),
        lat,
        lon,
        tc=df["cloud_pct"].to_numpy(),
        issued=issued,
    )
    local = t.dt.tz_convert("Europe/Oslo")
    day = np.asarray([d.toordinal() for d in local.dt.date], dtype="int64")
    kwh = df["kwh_measured"].to_numpy(dtype=float) / 1000.0
    snow = df["flag"].astype("string").fillna("").str.contains("low_day").to_numpy(dtype=bool)
    split = int(pd.Timestamp(SPLIT, tz="UTC").timestamp())
    given = C.Plant(lat, lon, float(np.max(kwh)) * 1200.0, 14.0, 180.0, 35.0)
    return feat, kwh, day, snow, starts >= split, given


def walk(feat, kwh, day, given, first_days: int = FIRST_DAYS):
    """Median and ALL_PROBS quantiles of each walked day's hours (NaN before), and the seconds taken."""
    from solar3p import calibrate as C
    from solar3p.quantiles import SPREAD_REFIT_DAYS, quantiles

    q = np.full((kwh.size, len(ALL_PROBS)), np.nan)
    days = np.unique(day)
    prev, fits, spread = None, 0, None
    started = time.perf_counter()
    for d in days[first_days:]:
        past = day < d
        fresh = spread is None or d - spread[0] >= SPREAD_REFIT_DAYS  # as the product's backtest does
        try:
            cal = C.fit(feat.take(past), kwh[past], day[past], given, start=prev, spread=None if fresh else spread[1])
        except C.CalibrationError:
            continue
        prev, fits = cal.orientations, fits + 1
        if fresh and cal.spread is not None:
            spread = (d, cal.spread)
        today = day == d
        if cal.spread is not None:
            q[today] = quantiles(cal, feat.take(today), ALL_PROBS)
    return q, time.perf_counter() - started, fits


def pinball(q: np.ndarray, meas: np.ndarray, probs) -> float:
    """Mean pinball loss over hours and ``probs`` (columns of ``q``), kWh."""
    p = np.asarray(probs)[None, :]
    diff = meas[:, None] - q
    return float(np.mean(np.maximum(p * diff, (p - 1) * diff)))


def constant_band(median: np.ndarray, meas: np.ndarray, probs) -> np.ndarray:
    """Each quantile the median plus the constant minimising its pinball loss (hindsight), at least 0."""
    offsets = np.quantile(meas - median, probs)
    return np.clip(median[:, None] + offsets[None, :], 0.0, None)


def cell_scaled_oracle(band: np.ndarray, meas: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """``band`` (hours x BAND) with each half (median to P10, median to P90) scaled, per ``cell``, by the
    factor in 0..3 that minimises its pinball loss on these very hours (hindsight), at least 0: how far a
    better width alone, set per sky regime x sun height with the answers known, could take our band."""
    out = band.copy()
    factors = np.linspace(0.0, 3.0, 121)
    med = band[:, 1]
    for c in np.unique(cell):
        sel = cell == c
        for k, p in ((0, BAND[0]), (2, BAND[2])):
            half = band[sel, k] - med[sel]
            tries = np.clip(med[sel, None] + factors[None, :] * half[:, None], 0.0, None)
            diff = meas[sel, None] - tries
            loss = np.maximum(p * diff, (p - 1) * diff).sum(axis=0)
            out[sel, k] = tries[:, int(np.argmin(loss))]
    return out


def walked_constant_band(median: np.ndarray, meas: np.ndarray, day: np.ndarray, learn: np.ndarray, probs, window=None):
    """Each day's hours: the median plus the quantiles of ``meas - median`` over the ``learn`` hours of the
    days before it (the last ``window`` days), at least 0; NaN where fewer than 50 such hours exist."""
    out = np.full((meas.size, len(probs)), np.nan)
    for d in np.unique(day[np.isfinite(median)]):
        past = learn & (day < d) & (day >= d - window if window else True)
        if past.sum() < 50:
            continue
        today = day == d
        offsets = np.quantile(meas[past] - median[past], probs)
        out[today] = np.clip(median[today, None] + offsets[None, :], 0.0, None)
    return out


def coverage(p10: np.ndarray, p90: np.ndarray, meas: np.ndarray) -> dict:
    n = meas.size
    if n == 0:
        return {"hours": 0}
    below, above = meas < p10, meas > p90
    return {
        "hours": int(n),
        "coverage_pct": round(100 * float(np.mean(~below & ~above)), 1),
        "below_pct": round(100 * float(np.mean(below)), 1),
        "above_pct": round(100 * float(np.mean(above)), 1),
    }


def score(q, kwh, feat, scored, physics=None, scale_mask=None, day=None, learnable=None) -> dict:
    from solar3p.quantiles import ELEVATION_EDGES, REGIMES, _bin, regime

    i10, i50, i90 = (ALL_PROBS.index(p) for p in BAND)
    # Counting hours as pv_report counts them, with the sun up in the hour: a meter's noise at night (PVDAQ
    # logs a few Wh) is no forecast error, and every quantile is 0 there by design.
    ok = scored & np.isfinite(q[:, i50]) & ((q[:, i50] > 0) | (kwh > 0)) & (feat.sunlit > 0)
    m, qq = kwh[ok], q[ok]
    mean = float(np.mean(m))
    med = qq[:, i50]
    band = qq[:, [i10, i50, i90]]
    const = constant_band(med, m, BAND)
    const_all = constant_band(med, m, ALL_PROBS)
    out: dict = {
        "hours": int(ok.sum()),
        "nmae_pct": round(100 * float(np.mean(np.abs(med - m))) / mean, 2),
        "bias_pct": round(100 * float(np.mean(med - m)) / mean, 2),
        "pinball_pct": round(100 * pinball(band, m, BAND) / mean, 2),
        "pinball_constant_band_pct": round(100 * pinball(const, m, BAND) / mean, 2),
        "pinball_99_pct": round(100 * pinball(qq, m, ALL_PROBS) / mean, 2),
        "pinball_99_constant_band_pct": round(100 * pinball(const_all, m, ALL_PROBS) / mean, 2),
        "pinball_cell_scaled_oracle_pct": round(
            100
            * pinball(
                cell_scaled_oracle(
                    band, m, regime(feat.kt[ok], feat.tc[ok]) * 3 + _bin(90.0 - feat.zenith[ok], ELEVATION_EDGES)
                ),
                m,
                BAND,
            )
            / mean,
            2,
        ),
        **coverage(band[:, 0], band[:, 2], m),
        "width_pct": round(100 * float(np.mean(band[:, 2] - band[:, 0])) / mean, 1),
    }
    if day is not None:
        i50m = q[:, i50]
        counting = np.isfinite(i50m) & ((np.nan_to_num(i50m) > 0) | (kwh > 0)) & (feat.sunlit > 0)
        learn = counting & (learnable if learnable is not None else True)
        for key, window in (("pinball_walked_constant_band_pct", None), ("pinball_walked_30d_constant_band_pct", 30)):
            walked = walked_constant_band(np.nan_to_num(i50m), kwh, day, learn, BAND, window)
            both = ok & np.isfinite(walked[:, 0])
            m2 = kwh[both]
            ours = pinball(q[both][:, [i10, i50, i90]], m2, BAND)
            out[key] = round(100 * (1 - ours / pinball(walked[both], m2, BAND)), 1) if both.any() else None
    if physics is not None:
        k = float(np.sum(kwh[scale_mask]) / max(np.sum(physics[scale_mask]), 1e-9))
        out["nmae_physics_one_scale_pct"] = round(100 * float(np.mean(np.abs(k * physics[ok] - m))) / mean, 2)
    reg = regime(feat.kt[ok], feat.tc[ok])
    out["by_regime"] = {
        name: coverage(band[reg == r, 0], band[reg == r, 2], m[reg == r]) for r, name in enumerate(REGIMES)
    }
    lead = feat.lead[ok]
    if np.isfinite(lead).any():
        out["by_lead"] = {
            name: coverage(band[sel, 0], band[sel, 2], m[sel])
            for name, sel in (("6-24", (lead >= 6) & (lead < 24)), ("24-48", (lead >= 24) & (lead < 48)))
        }
    return out


def measure_site(site: str) -> dict:
    from solar3p import calibrate as C

    feat, kwh, day, snow, after, given = load_site(site)
    q, seconds, fits = walk(feat, kwh, day, given)
    physics = C.power(feat, given.azimuth, given.tilt, given.rating_w, given.losses_pct) / 1000.0
    before = ~after & ~snow
    return {
        "clean": score(q, kwh, feat, after & ~snow, physics, before, day, ~snow),
        "all": score(q, kwh, feat, after, physics, ~after),
        "walk_s": round(seconds, 1),
        "fits": fits,
    }


def measure_pvdaq() -> dict:
    """The same walk on PVDAQ system 50's 2013 (bench/calibration.py's data), owner's orientation right."""
    from bench.accuracy import SITE
    from bench.calibration import LOSSES_PCT, RATING_W, TEST_YEAR, load
    from solar3p import calibrate as C

    _, feat, kwh, day, _, _, year = load()
    given = C.Plant(SITE["latitude"], SITE["longitude"], RATING_W, LOSSES_PCT, SITE["azimuth"], SITE["tilt"])
    hist = year < TEST_YEAR
    first = int(np.unique(day[hist]).size)
    q, seconds, fits = walk(feat, kwh, day, given, first_days=first)
    physics = C.power(feat, given.azimuth, given.tilt, given.rating_w, given.losses_pct) / 1000.0
    k_hist = float(np.sum(kwh[hist]) / np.sum(physics[hist]))
    days, inv = np.unique(day, return_inverse=True)
    ratio = np.bincount(inv, kwh) / np.maximum(np.bincount(inv, physics) * k_hist, 1e-9)
    sane = ratio[inv] >= 0.1  # bench/accuracy.py's outage days
    test = year == TEST_YEAR
    return {
        "clean": score(q, kwh, feat, test & sane, physics, hist, day, sane),
        "all": score(q, kwh, feat, test, physics, hist),
        "walk_s": round(seconds, 1),
        "fits": fits,
    }


def _timed(args: list[str], env: dict) -> tuple[float, float, str]:
    """Wall and CPU seconds of a whole history_collector.py run, and what it printed."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"history_collector.py {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, done.stdout


def measure_speed() -> dict:
    """Whole processes on SQLite with PVDAQ system 50's hours as pvhistory (2011-04 .. 2013): --calibrate on
    the two years before 2013, and --calibrate --from 2013-01-01 --to 2014-01-01 (365 daily refits)."""
    import os
    import tempfile
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from bench.accuracy import LOCAL_ZONE, SITE, load_hours
    from homepower.settings import parse_database_url
    from homepower.store import connect

    hours = load_hours()
    zone = ZoneInfo(LOCAL_ZONE)
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{work}/bench.db"
        store = connect(parse_database_url(url, Path(work)), zone)
        rows = []
        for t, ghi, temp, ac in zip(hours.index, hours["ghi"], hours["temp"], hours["ac"], strict=True):
            local = t.tz_convert(zone)
            start = datetime(1970, 1, 1) + timedelta(seconds=int(t.timestamp()))
            rows.append(
                {
                    "ts_utc": start,
                    "year": local.year,
                    "month": local.month,
                    "day": local.day,
                    "hour": local.hour,
                    "gr_w": round(float(ghi), 3),
                    "temp": round(float(temp), 2),
                    "kwh_pv": round(float(ac) / 1000.0, 5),
                    "forecast_issued": start - timedelta(hours=20),
                }
            )
        store.upsert("pvhistory", rows)
        store.close()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": url,
            "STATE_DIR": f"{work}/state",
            "SITE_TIMEZONE": LOCAL_ZONE,
            "METEO_FILE": f"{work}/absent.json",
            "PV_LATITUDE": str(SITE["latitude"]),
            "PV_LONGITUDE": str(SITE["longitude"]),
            "PV_PANELS": "10",
            "PV_PANEL_WP": "300",
            "PV_ORIENTATION": str(SITE["azimuth"]),
            "PV_TILT": str(SITE["tilt"]),
            "LOG_LEVEL": "WARNING",
        }
        calibrate_s, calibrate_cpu, _ = _timed(["--calibrate", "--now", "2013-01-01T00:00:00"], env)
        backtest_s, backtest_cpu, said = _timed(["--calibrate", "--from", "2013-01-01", "--to", "2014-01-01"], env)
    band = next((line for line in said.splitlines() if line.startswith("P10-P90 band")), "")
    return {
        "pvhistory_hours": len(rows),
        "calibrate_two_years_s": round(calibrate_s, 2),
        "calibrate_two_years_cpu_s": round(calibrate_cpu, 2),
        "backtest_year_daily_refits_s": round(backtest_s, 1),
        "backtest_year_daily_refits_cpu_s": round(backtest_cpu, 1),
        "backtest_band": band,
    }


def measure(sites=tuple(SITES), pvdaq: bool = True) -> dict:
    out: dict = {}
    if DATA.is_dir():
        for site in sites:
            out[f"aneo_{site}"] = measure_site(site)
    else:
        out["aneo"] = f"skipped: {DATA} is absent"
    if pvdaq:
        out["pvdaq_50"] = measure_pvdaq()
    return out


if __name__ == "__main__":
    if "--speed" in sys.argv:
        print(json.dumps(measure_speed(), indent=1))
    else:
        chosen = [a for a in sys.argv[1:] if a in SITES]
        print(json.dumps(measure(tuple(chosen) or tuple(SITES), pvdaq="--no-pvdaq" not in sys.argv), indent=1))
