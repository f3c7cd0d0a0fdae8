"""What calibration buys on real data it never saw (``make bench``; ``python -m bench.calibration``).

Data: ``bench/accuracy.py``'s hours of PVDAQ system 50 (measured AC) with NSRDB PSM3 GHI and temperature
as the "forecast". History starts 2011-04; the test is 2013, walked forward a day at a time: each day's
kwh_fc comes from a calibration fitted only on the hours before that day (as ``--calibrate --from --to``
does), so every figure is out of sample. Two owners: one who gave the right orientation (azimuth 158°,
tilt 45°), one whose azimuth is 30° off (188°). Beside each, solar3p's physics with one scale factor:
fitted on the history before 2013 (what an owner could know), and the best one in hindsight on 2013.

nMAE = 100 × MAE / mean measured hour over counting hours (measured or forecast above 0), as pv_report
computes it; bias = 100 × MBE / mean measured hour. Headline figures drop the test's outage days (a day
measuring under 10 % of the physics: the inverter was down or snow lay on the panels, no forecast can
know) as bench/accuracy.py does; ``*_all_days`` keeps them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEST_YEAR = 2013
RATING_W = 3000.0  # the owner's rating: a plausible nameplate; the level learns the rest
LOSSES_PCT = 14.0


def load():
    import numpy as np

    from bench.accuracy import LOCAL_ZONE, SITE, load_hours
    from solar3p import calibrate as C

    hours = load_hours()
    starts = hours.index.as_unit("s").asi8
    local = hours.index.tz_convert(LOCAL_ZONE)
    day = np.asarray([d.toordinal() for d in local.date], dtype="int64")
    feat = C.features(starts, hours["ghi"].to_numpy(), hours["temp"].to_numpy(), SITE["latitude"], SITE["longitude"])
    kwh = hours["ac"].to_numpy() / 1000.0
    return hours, feat, kwh, day, local.hour.to_numpy(), local.month.to_numpy(), local.year.to_numpy()


def metrics(pred, meas, day):
    """Hourly and daily nMAE and bias (%) over counting hours."""
    import numpy as np

    count = (pred > 0) | (meas > 0)
    p, m, d = pred[count], meas[count], day[count]
    mean = float(np.mean(m))
    days, inv = np.unique(d, return_inverse=True)
    pd_, md_ = np.bincount(inv, p), np.bincount(inv, m)
    return {
        "hourly_nmae_pct": round(100 * float(np.mean(np.abs(p - m))) / mean, 2),
        "hourly_bias_pct": round(100 * float(np.mean(p - m)) / mean, 2),
        "daily_nmae_pct": round(100 * float(np.mean(np.abs(pd_ - md_))) / float(np.mean(md_)), 2),
        "daily_bias_pct": round(100 * float(np.mean(pd_ - md_)) / float(np.mean(md_)), 2),
        "hours": int(count.sum()),
        "days": int(days.size),
    }


def backtest(feat, kwh, day, hour, month, test, given, refit_days=1):
    """kwh_fc for the ``test`` hours, walking forward a day at a time; seconds taken."""
    import numpy as np

    from solar3p import calibrate as C

    fc = np.full(kwh.shape, np.nan)
    started = time.perf_counter()
    from solar3p.quantiles import SPREAD_REFIT_DAYS

    prev = None
    test_days = np.unique(day[test])
    cal = None
    spread = None  # (day learned, Spread): renewed weekly, as the product's backtest does
    for n, d in enumerate(test_days):
        if cal is None or n % refit_days == 0:
            past = day < d
            fresh = spread is None or d - spread[0] >= SPREAD_REFIT_DAYS
            cal = C.fit(
                feat.take(past),
                kwh[past],
                day[past],
                given,
                local_hour=hour[past],
                month=month[past],
                start=prev,
                spread=None if fresh or spread is None else spread[1],
            )
            prev = cal.orientations
            if fresh and cal.spread is not None:
                spread = (d, cal.spread)
        today = day == d
        fc[today] = C.predict(cal, feat.take(today))
    return fc, time.perf_counter() - started, cal


def measure(quick: bool = False) -> dict:
    import numpy as np

    from bench.accuracy import SITE
    from solar3p import calibrate as C

    started = time.perf_counter()
    hours, feat, kwh, day, hour, month, year = load()
    test = year == TEST_YEAR
    hist = year < TEST_YEAR
    out: dict = {
        "dataset": "PVDAQ system 50 + PSM3 (pvanalytics); history 2011-04..2012, test 2013 walked forward daily",
        "load_s": round(time.perf_counter() - started, 2),
    }
    owners = {"right": (SITE["azimuth"], SITE["tilt"]), "azimuth_30_off": (SITE["azimuth"] + 30.0, SITE["tilt"])}
    if not quick:
        owners["azimuth_30_tilt_15_off"] = (SITE["azimuth"] + 30.0, SITE["tilt"] - 15.0)
    for name, (az, tilt) in owners.items():
        given = C.Plant(SITE["latitude"], SITE["longitude"], RATING_W, LOSSES_PCT, az, tilt)
        phys = C.power(feat, az, tilt, RATING_W, LOSSES_PCT) / 1000.0
        # Outage days of the test: under 10 % of the physics scaled to the history's level.
        k_hist = float(np.sum(kwh[hist]) / np.sum(phys[hist]))
        days, inv = np.unique(day, return_inverse=True)
        ratio = np.bincount(inv, kwh) / np.maximum(np.bincount(inv, phys) * k_hist, 1e-9)
        sane = ratio[inv] >= 0.1
        fc, seconds, last = backtest(feat, kwh, day, hour, month, test, given)
        t = test & sane
        best = _mae_scale(phys[t], kwh[t])
        out[name] = {
            "given": {"azimuth": az, "tilt": tilt},
            "calibrated": metrics(fc[t], kwh[t], day[t]),
            "calibrated_all_days": metrics(fc[test], kwh[test], day[test]),
            "physics_history_scale": metrics(k_hist * phys[t], kwh[t], day[t]),
            "physics_best_scale": metrics(best * phys[t], kwh[t], day[t]),
            "backtest_daily_refits_s": round(seconds, 1),
            "last_fit": last.describe(),
        }
    # Time of one calibration on a year of hours.
    year_mask = (day >= day[test].min() - 365) & (day < day[test].min())
    given = C.Plant(SITE["latitude"], SITE["longitude"], RATING_W, LOSSES_PCT, SITE["azimuth"] + 30.0, SITE["tilt"])
    t0 = time.perf_counter()
    C.fit(feat.take(year_mask), kwh[year_mask], day[year_mask], given)
    out["calibrate_one_year_s"] = round(time.perf_counter() - t0, 2)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _mae_scale(pred, meas):
    import numpy as np

    ok = pred > 0
    ratios, weights = meas[ok] / pred[ok], pred[ok]
    order = np.argsort(ratios)
    cum = np.cumsum(weights[order])
    return float(ratios[order][np.searchsorted(cum, cum[-1] / 2)])


if __name__ == "__main__":
    print(json.dumps(measure(quick="--quick" in sys.argv), indent=2))
