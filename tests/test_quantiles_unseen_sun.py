"""A sun position the history has not seen widens the band (solar3p.quantiles, step 7), and an hour
forecast and measured at nothing teaches the band nothing (errors are learned on counting hours)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from solar3p import calibrate as C
from solar3p import quantiles as Q
from tests import calib_synth as S

WINTER = date(2024, 1, 10)


def horizon(sun_az: float) -> float:
    """A roof with a tree to the south-west (in the winter sun's path) and a building to the east (which
    only the spring sun, rising further north, reaches)."""
    return 25.0 if 60.0 <= sun_az <= 110.0 or 200.0 <= sun_az <= 240.0 else 0.0


@pytest.fixture(scope="module")
def winter_fit() -> C.Calibration:
    h = S.generate(WINTER, 50, horizon=horizon, forecast_noise=0.25, seed=5)
    return C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))


def test_cells_no_hour_has_shown_carry_the_uncertainty_of_the_seen_ones(winter_fit):
    sd = winter_fit.spread.sun_sd
    assert sd is not None and sd.shape == np.asarray(winter_fit.sun.factors).shape
    east_low = winter_fit.sun.lookup_in(sd, np.array([80.0]), np.array([5.0]))[0]  # never lit in winter
    south = winter_fit.sun.lookup_in(sd, np.array([170.0]), np.array([20.0]))[0]  # lit every winter noon
    assert east_low == pytest.approx(float(sd.max()))
    assert east_low > 0.05  # the south-west tree put seen cells well off 1
    assert south < 0.3 * east_low


def test_spring_mornings_under_a_new_sun_get_a_wider_band_that_holds_them(winter_fit):
    spring = S.generate(WINTER + timedelta(days=110), 14, horizon=horizon, forecast_noise=0.25, seed=6)
    probs = (0.1, 0.5, 0.9)
    q = Q.quantiles(winter_fit, spring.feat, probs)
    blind = replace(winter_fit, spread=replace(winter_fit.spread, sun_sd=None))
    q0 = Q.quantiles(blind, spring.feat, probs)
    assert np.array_equal(q[:, 1], q0[:, 1])  # the median (kwh_fc) stays
    elevation = 90.0 - spring.feat.zenith
    behind_building = (spring.feat.sun_az >= 60) & (spring.feat.sun_az <= 110) & (elevation > 3) & (elevation < 25)
    hours = behind_building & ((q[:, 1] > 0) | (spring.kwh > 0))
    assert hours.sum() > 20
    assert np.all(q[hours, 2] - q[hours, 0] >= q0[hours, 2] - q0[hours, 0])
    below, below0 = (float(np.mean(spring.kwh[hours] < x[hours, 0])) for x in (q, q0))
    assert below < below0  # the building's shade lands inside the band more often than before


def test_hours_the_history_saw_keep_their_band(winter_fit):
    after = S.generate(WINTER + timedelta(days=50), 3, horizon=horizon, forecast_noise=0.25, seed=8)
    q = Q.quantiles(winter_fit, after.feat, (0.1, 0.9))
    blind = replace(winter_fit, spread=replace(winter_fit.spread, sun_sd=None))
    q0 = Q.quantiles(blind, after.feat, (0.1, 0.9))
    noon = (np.abs(after.feat.sun_az - 180.0) < 20) & (after.feat.ghi > 100)
    assert noon.sum() >= 3
    widths, widths0 = q[noon, 1] - q[noon, 0], q0[noon, 1] - q0[noon, 0]
    assert np.all(widths <= 1.1 * widths0 + 1e-9)


def test_the_sun_uncertainty_survives_json_and_a_mismatched_one_is_refused(winter_fit):
    doc = json.loads(json.dumps(winter_fit.as_json()))
    again = C.Calibration.from_json(doc)
    assert np.allclose(again.spread.sun_sd, winter_fit.spread.sun_sd, atol=1e-4)
    older = json.loads(json.dumps(doc))
    del older["spread"]["sun_sd"]  # a calibration from before this rule: no widening, still valid
    assert C.Calibration.from_json(older).spread.sun_sd is None
    doc["spread"]["sun_sd"] = [[0.1, 0.1]]
    with pytest.raises(ValueError, match="sun uncertainty"):
        C.Calibration.from_json(doc)
    doc["spread"]["sun_sd"] = [[-1.0]]
    with pytest.raises(ValueError, match="sun uncertainty"):
        C.Calibration.from_json(doc)


def test_hours_forecast_and_measured_at_nothing_do_not_narrow_the_band():
    h = S.generate(date(2024, 4, 1), 30, forecast_noise=0.35, seed=11)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    fc = C.predict(cal, h.feat)
    clear = Q.clear_kwh(cal, h.feat)
    rating_kwh = S.RATING_W / 1000.0
    lit = h.feat.sunlit > 0
    counted = lit & ((fc > 0) | (h.kwh > 0))
    # The same hours, and as many again forecast and measured at nothing in the sun's first minutes.
    dead = lit & ~counted
    extra = np.flatnonzero(counted)[: 3 * max(int(dead.sum()), 50)]
    fc2 = np.r_[fc, np.zeros(extra.size)]
    meas2 = np.r_[h.kwh, np.zeros(extra.size)]
    clear2 = np.r_[clear, clear[extra]]
    index = np.r_[np.arange(h.kwh.size), extra]
    feat2 = h.feat.take(index)
    day2 = h.day[index]
    plain = Q.learn(fc, h.kwh, clear, h.feat, h.day, rating_kwh)
    padded = Q.learn(fc2, meas2, clear2, feat2, day2, rating_kwh)
    assert plain is not None and padded is not None
    assert np.allclose(plain.cells, padded.cells)
