"""An episode in progress widens its side of the band (solar3p.quantiles, step 6): a roof that jumps to
another level (snow sliding off, a thaw) or drops to one (snow settling) three days before the fit."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from solar3p import calibrate as C
from solar3p import quantiles as Q
from tests import calib_synth as S

FIRST = date(2024, 4, 1)
FIT_DAY = 45  # fitted on days 0-44, judged on day 45 on


def fitted_after(factor: float, since: int = FIT_DAY - Q.EPISODE_DAYS, seed: int = 21):
    h = S.generate(FIRST, FIT_DAY + 3, forecast_noise=0.2, seed=seed)
    k = h.day - FIRST.toordinal()
    h.kwh *= np.where(k >= since, factor, 1.0)
    part, unseen = h.mask(k < FIT_DAY), h.mask(k >= FIT_DAY)
    return C.fit(part.feat, part.kwh, part.day, S.given(180.0, 35.0)), unseen


def test_a_sudden_rise_lifts_the_upper_band_the_next_day_by_the_rule():
    cal, unseen = fitted_after(1.5)
    assert cal.spread is not None
    # The last 3 days measured ~1.5 x what was forecast before them (the shift has moved the level a little).
    assert cal.spread.episode == pytest.approx(math.log(1.5), abs=0.12)
    calm = replace(cal, spread=replace(cal.spread, episode=0.0))
    q = Q.quantiles(cal, unseen.feat, (0.1, 0.3, 0.5, 0.9))
    q0 = Q.quantiles(calm, unseen.feat, (0.1, 0.3, 0.5, 0.9))
    assert np.array_equal(q[:, :3], q0[:, :3])  # the median and the lower side stay
    lift = Q.EPISODE_GAIN * math.expm1(cal.spread.episode - Q.EPISODE_DEADBAND)
    free = q[:, 3] < Q.ac_limit_kwh(cal) - 1e-9
    assert free.sum() > 20
    fc = C.predict(cal, unseen.feat)  # the point forecast before the shift
    assert np.allclose(q[free, 3] - q0[free, 3], lift * fc[free])  # P90 up by the excess x the forecast
    counted = (q[:, 2] > 0) | (unseen.kwh > 0)
    above, above0 = (float(np.mean(unseen.kwh[counted] > x[counted, 3])) for x in (q, q0))
    assert above < above0 - 0.04  # the days after: fewer hours above P90 (17.6 % -> 11.8 % as written)


def test_a_sudden_drop_lowers_the_lower_band_only():
    cal, unseen = fitted_after(0.6)
    assert cal.spread is not None and cal.spread.episode < -0.3
    calm = replace(cal, spread=replace(cal.spread, episode=0.0))
    q = Q.quantiles(cal, unseen.feat, (0.1, 0.5, 0.7, 0.9))
    q0 = Q.quantiles(calm, unseen.feat, (0.1, 0.5, 0.7, 0.9))
    assert np.array_equal(q[:, 1:], q0[:, 1:])
    lit = q0[:, 0] > 0
    assert np.all(q[lit, 0] < q0[lit, 0]) and np.all(q >= 0)
    assert np.all(np.diff(q, axis=1) >= 0)


def test_no_episode_leaves_the_band_alone():
    cal, unseen = fitted_after(1.0)
    assert cal.spread is not None and abs(cal.spread.episode) < Q.EPISODE_DEADBAND
    calm = replace(cal, spread=replace(cal.spread, episode=0.0))
    assert np.array_equal(Q.quantiles(cal, unseen.feat, (0.1, 0.9)), Q.quantiles(calm, unseen.feat, (0.1, 0.9)))


def test_the_episode_survives_json_and_a_spread_without_one_still_loads():
    cal, unseen = fitted_after(1.5)
    assert cal.spread is not None
    doc = json.loads(json.dumps(cal.as_json()))
    again = C.Calibration.from_json(doc)
    assert again.spread is not None and again.spread.episode == pytest.approx(cal.spread.episode, abs=1e-4)
    doc["spread"].pop("episode")
    older = C.Calibration.from_json(doc)
    assert older.spread is not None and older.spread.episode == 0.0
    doc["spread"]["episode"] = 99.0
    with pytest.raises(ValueError, match="episode"):
        C.Calibration.from_json(doc)
