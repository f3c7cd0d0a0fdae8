"""Synthetic pvhistory for the calibration tests: a known installation (orientation, level, horizon)
measured under a weather service whose forecast is close to, but not, the truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from solar3p import calibrate as C

LAT, LON = 51.92, 4.48
ZONE = ZoneInfo("Europe/Amsterdam")
RATING_W = 4860.0
LOSSES = 14.0


@dataclass
class History:
    rows: list[dict]  # pvhistory rows (ts_utc naive UTC, local year/month/day/hour, gr_w, tc, temp, kwh_pv, flags)
    start: np.ndarray
    kwh: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    month: np.ndarray
    feat: C.Features  # of the forecast weather

    def mask(self, keep) -> "History":
        keep = np.asarray(keep)
        idx = np.flatnonzero(keep)
        return History(
            [self.rows[i] for i in idx],
            self.start[keep],
            self.kwh[keep],
            self.day[keep],
            self.hour[keep],
            self.month[keep],
            self.feat.take(keep),
        )


def generate(
    first: date,
    days: int,
    *,
    azimuth: float = 180.0,
    tilt: float = 35.0,
    level: float = 0.92,
    horizon=None,  # callable(sun azimuth deg) -> horizon height deg: beam lost below it
    seed: int = 1,
    forecast_noise: float = 0.15,
    zero_days=(),  # local dates measuring 0 all day (snow, outage)
    half_days=(),  # local dates whose production stops at 12:00 local (an outage)
) -> History:
    rng = np.random.default_rng(seed)
    t0 = int(datetime.combine(first, datetime.min.time(), ZONE).timestamp())
    t1 = int(datetime.combine(first + timedelta(days=days), datetime.min.time(), ZONE).timestamp())
    start = np.arange(t0, t1, 3600, dtype="int64")
    # True weather: clear sky times a day-level cloudiness and an hourly wobble.
    base = C.features(start, np.full(start.size, 1000.0), np.full(start.size, 15.0), LAT, LON)
    import pvlib
    import pandas as pd

    clear = np.asarray(pvlib.clearsky.haurwitz(pd.Series(np.clip(base.zenith, 0, 90)))["ghi"], dtype=float)
    clear = np.where(base.sunlit > 0, clear * np.minimum(1.0, base.sunlit * 1.5), 0.0)
    n_days = days
    day_cloud = rng.choice([0.25, 0.5, 0.8, 1.0], size=n_days + 2, p=[0.2, 0.25, 0.25, 0.3])
    local = [datetime.fromtimestamp(int(t), timezone.utc).astimezone(ZONE) for t in start]
    day_idx = np.asarray([(d.date() - first).days for d in local])
    share = np.clip(day_cloud[day_idx] * (1 + rng.normal(0, 0.1, start.size)), 0.05, 1.05)
    true_ghi = clear * share
    temp = 12 + 6 * np.sin((np.asarray([d.hour for d in local]) - 9) / 24 * 2 * np.pi) + rng.normal(0, 1, start.size)
    truth = C.features(start, true_ghi, temp, LAT, LON)
    if horizon is not None:
        blocked = (90.0 - truth.zenith) < np.asarray([horizon(a) for a in truth.sun_az])
        truth = C.Features(**{**truth.__dict__, "dni": np.where(blocked, 0.0, truth.dni)})
    kwh = level * C.power(truth, azimuth, tilt, RATING_W, LOSSES) / 1000.0
    kwh = np.clip(kwh * (1 + rng.normal(0, 0.02, start.size)), 0, None)
    dates = np.asarray([d.date() for d in local])
    for z in zero_days:
        kwh[dates == z] = 0.0
    for h in half_days:
        kwh[(dates == h) & (np.asarray([d.hour for d in local]) >= 12)] = 0.0
    forecast_ghi = np.clip(true_ghi * (1 + rng.normal(0, forecast_noise, start.size)), 0, None)
    rows = []
    for i, t in enumerate(start):
        d = local[i]
        rows.append(
            {
                "ts_utc": datetime(1970, 1, 1) + timedelta(seconds=int(t)),
                "year": d.year,
                "month": d.month,
                "day": d.day,
                "hour": d.hour,
                "gr_w": round(float(forecast_ghi[i]), 3),
                "tc": round(float(100 * (1 - min(share[i], 1.0))), 1),  # brighter than clear sky: no cloud, not less
                "temp": round(float(temp[i]), 2),
                "kwh_pv": round(float(kwh[i]), 5),
                "flags": None,
            }
        )
    feat = C.features(start, forecast_ghi, temp, LAT, LON)
    return History(
        rows,
        start,
        np.asarray([r["kwh_pv"] for r in rows]),
        np.asarray([d.date().toordinal() for d in local]),
        np.asarray([d.hour for d in local]),
        np.asarray([d.month for d in local]),
        feat,
    )


def given(azimuth: float, tilt: float) -> C.Plant:
    return C.Plant(LAT, LON, RATING_W, LOSSES, azimuth, tilt)


def nmae(pred, meas) -> float:
    count = (pred > 0) | (meas > 0)
    return 100.0 * float(np.sum(np.abs(pred[count] - meas[count]))) / float(np.sum(meas[count]))
