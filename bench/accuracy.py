"""Hourly forecast accuracy of solar3p on real public data (pvanalytics' PVDAQ system 50).

Measured: AC power of NREL PVDAQ system 50 (Golden, CO: 39.7406 N, -105.1775 E; azimuth 158°, tilt 45°,
as the pvanalytics "PV Fleets QA" example gives them), 15-minute samples 2011-04..2013-12.
Weather: the NSRDB PSM3 satellite GHI and air temperature for the same site (30-minute samples).

The model is fed as the collector feeds it: hourly *mean* GHI and temperature stamped at the hour start
(like Meteoserver's ``gr_w``). The error is the mean absolute error over daytime hours after one scale
factor (the one that minimises the MAE, i.e. the rating is unknown), as % of the mean measured daytime hour.
Model choices were compared on 2011-2012 ("tune"); 2013 is reported separately as unseen ("test").
SERF East files are reserved for acceptance and never read here.

``measure() -> dict`` gives the figures; ``python -m bench.accuracy`` prints them. pvanalytics (and pyarrow
for its parquet files) are installed into the running interpreter on first use if missing.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SITE = {"latitude": 39.7406, "longitude": -105.1775, "azimuth": 158.0, "tilt": 45.0}
LOCAL_ZONE = "America/Denver"  # the AC stamps are local clock time (DST) although labelled -07:00
TUNE_YEARS = (2011, 2012)
TEST_YEARS = (2013,)


def _ensure(module: str, package: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package], check=True
        )
        importlib.invalidate_caches()


def _data_dir() -> Path:
    _ensure("pvanalytics", "pvanalytics")
    _ensure("pyarrow", "pyarrow")
    import pvanalytics

    return Path(pvanalytics.__file__).parent / "data"


def load_hours():
    """Hourly frame (UTC hour start): ``ghi`` W/m², ``temp`` °C (hour means), ``ac`` measured mean AC power."""
    import numpy as np
    import pandas as pd

    data = _data_dir()
    ac = pd.read_parquet(data / "system_50_ac_power_2_full_DST.parquet").set_index("measured_on")["ac_power_2"]
    stamps = pd.to_datetime(ac.index).tz_localize(None)
    ac.index = stamps.tz_localize(LOCAL_ZONE, ambiguous="NaT", nonexistent="NaT")
    ac = ac[ac.index.notna()]
    ac = ac[~ac.index.duplicated()].tz_convert("UTC").sort_index().clip(lower=0)

    wx = pd.read_parquet(data / "system_50_ac_power_2_full_DST_psm3.parquet").set_index("index")
    wx.index = pd.to_datetime(wx.index).tz_convert("UTC")
    wx = wx[["ghi", "temp_air"]].astype(float)

    def hour_mean(series, step_min):
        # Trapezoid over [H, H+1h] of instantaneous samples: the mean over the hour, stamped at H.
        full = series.asfreq(f"{step_min}min")
        n = 60 // step_min
        weights = np.r_[0.5, np.ones(n - 1), 0.5] / n
        values = np.lib.stride_tricks.sliding_window_view(full.to_numpy(), n + 1)
        means = values @ weights  # NaN where any sample is missing
        index = full.index[: len(means)]
        out = pd.Series(means, index=index)
        return out[(index.minute == 0)]

    hours = pd.DataFrame({"ghi": hour_mean(wx["ghi"], 30), "temp": hour_mean(wx["temp_air"], 30)})
    hours["ac"] = hour_mean(ac, 15)
    return hours.dropna()


def _mae_pct(pred, meas):
    """MAE after the MAE-optimal scale factor (a weighted median of ratios), % of the mean measured hour."""
    import numpy as np

    ok = pred > 0
    ratios, weights = meas[ok] / pred[ok], pred[ok]
    order = np.argsort(ratios)
    cum = np.cumsum(weights[order])
    k = ratios[order][np.searchsorted(cum, cum[-1] / 2)]
    return float(np.mean(np.abs(k * pred - meas)) / np.mean(meas) * 100), float(k)


def evaluate(hours, options, years):
    """(MAE %, scale factor, hours, outage days, MAE % with the least-squares factor, MAE % with the outage
    days kept) for ``options`` over ``years``."""
    import numpy as np
    import pandas as pd
    from homepower.settings import PVSettings
    from solar3p.model import hourly_power

    pv = PVSettings(
        latitude=SITE["latitude"],
        longitude=SITE["longitude"],
        panels=1,
        panel_wp=1000.0,
        azimuth=SITE["azimuth"],
        tilt=SITE["tilt"],
        losses_pct=0.0,
    )
    part = hours[hours.index.year.isin(years)]
    starts = part.index.as_unit("s").asi8
    pred = hourly_power(starts, part["ghi"].to_numpy(), part["temp"].to_numpy(), pv, options)
    meas = part["ac"].to_numpy()
    # Daytime hours with a sane measurement: the sun gave light, and the day was not an outage
    # (a day measuring under 10 % of its prediction: inverter down or snow-covered, no forecast can know).
    day = part.index.floor("D")
    per_day = pd.DataFrame({"p": pred, "m": meas, "d": day}).groupby("d").sum()
    scale = per_day["m"].sum() / max(per_day["p"].sum(), 1e-9)
    outage_days = per_day.index[per_day["m"] < 0.1 * scale * per_day["p"]]
    keep = (part["ghi"].to_numpy() > 0) & ~np.isin(day, outage_days)
    mae, k = _mae_pct(pred[keep], meas[keep])
    daytime = part["ghi"].to_numpy() > 0
    mae_all = _mae_pct(pred[daytime], meas[daytime])[0]
    return mae, k, int(keep.sum()), len(outage_days), _mae_pct_least_squares(pred[keep], meas[keep]), mae_all


def _mae_pct_least_squares(pred, meas):
    """The same MAE with the least-squares scale factor instead (for comparison with other benchmarks)."""
    import numpy as np

    k = float(np.dot(pred, meas) / np.dot(pred, pred))
    return float(np.mean(np.abs(k * pred - meas)) / np.mean(meas) * 100)


def measure() -> dict:
    """Figures for ``make bench``: the chosen model on unseen 2013, and the alternatives compared on 2011-12."""
    from solar3p.model import DEFAULT_OPTIONS, ModelOptions

    started = time.perf_counter()
    hours = load_hours()
    candidates = {
        "disc+perez (chosen)": DEFAULT_OPTIONS,
        "disc+haydavies": ModelOptions(transposition="haydavies"),
        "disc+isotropic": ModelOptions(transposition="isotropic"),
        "erbs+perez": ModelOptions(decomposition="erbs"),
        "dirint+perez": ModelOptions(decomposition="dirint"),
        "disc+perez, no IAM": ModelOptions(iam=False),
        "disc+perez, plain mid-hour sun": ModelOptions(sunlit_midpoint=False),
    }
    compared = {}
    for name, options in candidates.items():
        compared[name] = round(evaluate(hours, options, TUNE_YEARS)[0], 2)
    mae, k, n, outages, mae_ls, mae_all = evaluate(hours, DEFAULT_OPTIONS, TEST_YEARS)
    return {
        "dataset": "PVDAQ system 50 (pvanalytics) + NSRDB PSM3 GHI/temperature, hourly means",
        "test_years": list(TEST_YEARS),
        "test_hours": n,
        "mae_pct_of_mean_daytime_hour": round(mae, 2),
        "scale_factor": round(k, 4),
        "mae_pct_least_squares_scale": round(mae_ls, 2),
        "outage_days_dropped": outages,
        "mae_pct_outage_days_kept": round(mae_all, 2),
        "tune_years": list(TUNE_YEARS),
        "compared_mae_pct_tune": compared,
        "seconds": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
