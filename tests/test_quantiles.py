"""The calibrated forecast as quantiles (solar3p.quantiles): learned from held-out days, honest on unseen
days, well-formed, and not widened by days no forecast can know."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from solar3p import calibrate as C
from solar3p import quantiles as Q
from tests import calib_synth as S

SAMPLE = Path(__file__).resolve().parent.parent / "solar3p" / "data" / "data.rotterdam"
FIRST = date(2024, 4, 1)


@pytest.fixture(scope="module")
def history() -> S.History:
    return S.generate(FIRST, 70, forecast_noise=0.35, seed=7)


@pytest.fixture(scope="module")
def fitted(history) -> tuple[C.Calibration, S.History]:
    train = history.day < (FIRST + timedelta(days=50)).toordinal()
    part = history.mask(train)
    return C.fit(part.feat, part.kwh, part.day, S.given(180.0, 35.0)), history.mask(~train)


def test_band_holds_about_80_pct_of_unseen_hours(fitted):
    cal, unseen = fitted
    q = Q.quantiles(cal, unseen.feat, (0.1, 0.5, 0.9))
    counted = (q[:, 1] > 0) | (unseen.kwh > 0)
    m, lo, hi = unseen.kwh[counted], q[counted, 0], q[counted, 2]
    below, above = float(np.mean(m < lo)), float(np.mean(m > hi))
    assert 0.70 <= 1 - below - above <= 0.90
    assert 0.03 <= below <= 0.17 and 0.03 <= above <= 0.17


def test_quantiles_are_ordered_bounded_and_zero_at_night(fitted):
    cal, unseen = fitted
    probs = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
    q = Q.quantiles(cal, unseen.feat, probs)
    assert np.all(np.diff(q, axis=1) >= 0)
    assert q.min() >= 0 and q.max() <= Q.ac_limit_kwh(cal) + 1e-12
    night = unseen.feat.sunlit == 0
    assert night.any() and np.all(q[night] == 0)
    day = unseen.feat.ghi > 100
    assert np.all(q[day, -1] > q[day, 0])  # a real band in daylight
    # Probabilities in any order give the same values per probability.
    shuffled = Q.quantiles(cal, unseen.feat, (0.9, 0.1, 0.5))
    assert np.allclose(shuffled, q[:, [5, 1, 3]])


def test_clear_hours_narrower_than_broken_ones(fitted):
    cal, unseen = fitted
    q = Q.quantiles(cal, unseen.feat, (0.1, 0.9))
    clear = Q.clear_kwh(cal, unseen.feat)
    width = (q[:, 1] - q[:, 0]) / np.maximum(clear, 1e-9)
    sky = Q.regime(unseen.feat.kt, unseen.feat.tc)
    high = (90 - unseen.feat.zenith) > 25
    assert np.median(width[high & (sky == 0)]) < np.median(width[high & (sky == 1)])


def test_snow_and_outage_days_do_not_widen_the_band():
    snow = tuple(FIRST + timedelta(days=d) for d in (5, 6, 7, 20, 21, 33, 34, 35, 44))
    plain = S.generate(FIRST, 50, forecast_noise=0.35, seed=3)
    snowy = S.generate(FIRST, 50, forecast_noise=0.35, seed=3, zero_days=snow)
    a = C.fit(plain.feat, plain.kwh, plain.day, S.given(180.0, 35.0))
    b = C.fit(snowy.feat, snowy.kwh, snowy.day, S.given(180.0, 35.0))
    assert b.spread is not None and b.spread.left_out_days == len(snow)
    qa = Q.quantiles(a, plain.feat, (0.1, 0.9))
    qb = Q.quantiles(b, plain.feat, (0.1, 0.9))
    day = plain.feat.ghi > 100
    wa, wb = np.mean(qa[day, 1] - qa[day, 0]), np.mean(qb[day, 1] - qb[day, 0])
    assert wb == pytest.approx(wa, rel=0.15)
    assert np.mean(qb[day, 0]) > 0.8 * np.mean(qa[day, 0])  # P10 not dragged toward zero


def test_spread_survives_the_json_round_trip_and_old_calibrations_say_what_to_do(fitted):
    cal, unseen = fitted
    again = C.Calibration.from_json(json.loads(json.dumps(cal.as_json())))
    assert again.spread is not None
    assert np.allclose(
        Q.quantiles(again, unseen.feat, (0.1, 0.9)), Q.quantiles(cal, unseen.feat, (0.1, 0.9)), atol=1e-3
    )
    doc = cal.as_json()
    doc.pop("spread")
    old = C.Calibration.from_json(doc)
    with pytest.raises(ValueError, match="--calibrate"):
        Q.quantiles(old, unseen.feat, (0.5,))
    doc["spread"] = {**cal.as_json()["spread"], "cells": [[1.0]]}
    with pytest.raises(ValueError, match="spread"):
        C.Calibration.from_json(doc)


def test_too_little_history_gives_no_spread():
    short = S.generate(FIRST, 6)
    cal = C.fit(short.feat, short.kwh, short.day, S.given(180.0, 35.0))
    assert cal.spread is None


def test_a_forecast_file_gives_each_hour_its_quantiles(fitted):
    from solar3p.meteo import read_meteo_file

    cal = fitted[0]
    hours = Q.file_quantiles(SAMPLE, cal, (0.1, 0.5, 0.9))
    rows = read_meteo_file(SAMPLE).rows
    assert [h.start for h in hours] == [r.time for r in rows]
    known = [h for h in hours if h.values is not None]
    assert known and all(h.values[0] <= h.values[1] <= h.values[2] for h in known)
    assert any(h.at(0.9) > h.at(0.1) for h in known)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Q.hour_quantiles(rows, cal, (0.5, 1.0))


# -- where the quantiles go: the collector, its backtest, python -m solar3p --------------------------------
def test_the_backtest_fills_the_band_around_kwh_fc_and_says_how_it_held(store, db_url, tmp_path):
    from test_calibration import collector, put_history

    h = S.generate(FIRST, 24, forecast_noise=0.35, seed=21)
    put_history(store, h)
    done = collector(tmp_path, db_url, "--calibrate", "--from", "2024-04-12", "--to", "2024-04-25")
    assert done.returncode == 0, done.stderr
    assert "P10-P90 band:" in done.stdout and "aim: 80 / 10 / 10" in done.stdout, done.stdout
    store.commit()
    rows = store.fetch("pvhistory", ("ts_utc", "kwh_pv", "kwh_fc", "kwh_fc_p10", "kwh_fc_p90"))
    banded = [r for r in rows if r["kwh_fc_p10"] is not None]
    # Days with under 10 days of history before them get a median but no band yet.
    assert banded and all(r["ts_utc"] >= datetime(2024, 4, 10, 22) for r in banded)
    assert all(r["kwh_fc"] is not None for r in rows if r["ts_utc"] >= datetime(2024, 4, 11, 22))
    assert all(float(r["kwh_fc_p10"]) <= float(r["kwh_fc"]) <= float(r["kwh_fc_p90"]) for r in banded)
    counted = [r for r in banded if float(r["kwh_fc"]) > 0 or float(r["kwh_pv"]) > 0]
    inside = np.mean([float(r["kwh_fc_p10"]) <= float(r["kwh_pv"]) <= float(r["kwh_fc_p90"]) for r in counted])
    assert 0.6 <= inside <= 0.95


def test_the_collector_writes_the_band_of_the_calibration_before_each_hour(store, fitted):
    from types import SimpleNamespace

    from homepower.calibration import bands_for

    cal, unseen = fitted
    fitted_at = int(unseen.start[0])
    rows = [
        SimpleNamespace(
            ts_utc=r["ts_utc"],
            gr_w=r["gr_w"],
            tc=r["tc"],
            temp=r["temp"],
            forecast_issued=r["ts_utc"] - timedelta(hours=20),
        )
        for r in unseen.rows
    ]
    bands = bands_for([(fitted_at, cal)], rows)
    feat = C.features(
        unseen.start,
        [r.gr_w for r in rows],
        [r.temp for r in rows],
        S.LAT,
        S.LON,
        tc=[r.tc for r in rows],
        issued=unseen.start - 20 * 3600,
    )
    want = Q.quantiles(cal, feat, (0.5, 0.1, 0.9))
    assert all(b is not None for b in bands)
    got = np.asarray(bands, dtype=float)
    assert np.allclose(got, want, atol=1e-5)
    assert np.all(got[:, 1] <= got[:, 0]) and np.all(got[:, 0] <= got[:, 2])
    assert np.any(got[:, 2] > got[:, 1])
    earlier = [SimpleNamespace(**{**vars(rows[0]), "ts_utc": rows[0].ts_utc - timedelta(days=30)})]
    assert bands_for([(fitted_at, cal)], earlier) == [None]  # never from a calibration fitted after the hour


def run_solar3p(tmp_path, *args, **extra):
    from test_calibration import solar3p

    return solar3p(tmp_path, "--file", str(SAMPLE), *args, **extra)


def test_solar3p_quantiles_in_json_csv_and_table(fitted, tmp_path):
    cal = fitted[0]
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.as_json()))
    done = run_solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.1,0.5,.9", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert all(list(r["kwh_fc_quantiles"]) == ["0.1", "0.5", ".9"] for r in rows)
    for r in rows:
        q = r["kwh_fc_quantiles"]
        assert q["0.1"] <= q["0.5"] == r["kwh_fc"] <= q[".9"]
    assert any(r["kwh_fc_quantiles"][".9"] > r["kwh_fc_quantiles"]["0.1"] for r in rows)
    csv = run_solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.1,0.9", "--format", "csv")
    assert csv.returncode == 0 and csv.stdout.splitlines()[0].endswith("kwh_fc,q0.1,q0.9"), csv.stdout[:300]
    table = run_solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.25", "--gran", "day")
    assert table.returncode == 0 and "q0.25" in table.stdout.splitlines()[0]
    plain = run_solar3p(tmp_path, "--calibration", str(path), "--format", "json")
    assert all("kwh_fc_quantiles" not in r for r in json.loads(plain.stdout))
    assert [r["kwh_fc"] for r in json.loads(plain.stdout)] == [r["kwh_fc"] for r in rows]


@pytest.mark.parametrize("bad", ["0.1,x", "0,0.5", "1", "0.5,0.5", "", ",".join(["0.5"] * 100)])
def test_solar3p_quantiles_malformed_list_is_64(tmp_path, bad):
    done = run_solar3p(tmp_path, "--quantiles", bad)
    assert done.returncode == 64, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_solar3p_quantiles_without_calibration_is_78_saying_what_to_run(tmp_path):
    done = run_solar3p(tmp_path, "--quantiles", "0.1,0.9")
    assert done.returncode == 78
    assert "history_collector.py --calibrate" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    short = S.generate(FIRST, 5)
    cal = C.fit(short.feat, short.kwh, short.day, S.given(180.0, 35.0))
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.as_json()))
    spreadless = run_solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.1,0.9")
    assert spreadless.returncode == 78 and "--calibrate again" in spreadless.stderr


# -- the report judges the band ----------------------------------------------------------------------------
def test_the_report_judges_the_band_worked_out_by_hand_and_draws_it(store, db_url, tmp_path):
    from zoneinfo import ZoneInfo

    from test_report import hour_row, png_size, run

    utc = ZoneInfo("UTC")
    d = datetime(2025, 6, 2)
    issued = datetime(2025, 6, 1, 20)  # leads 14-19 h: bucket 6-24 (one hour is issued 30 h before: 24-48)
    # (hour, measured, median, P10, P90): inside, inside, below, above, no band, not counting (0/0)
    cases = [
        (10, 2.0, 2.0, 1.0, 3.0),
        (11, 1.5, 2.0, 1.0, 2.5),
        (12, 0.5, 1.0, 0.8, 1.6),
        (13, 3.0, 2.0, 1.5, 2.5),
        (14, 1.0, 1.0, None, None),
        (15, 0.0, 0.0, 0.0, 0.0),
    ]
    rows = []
    for hour, pv, fc, lo, hi in cases:
        row = hour_row(d + timedelta(hours=hour), utc, pv, fc, fc, issued if hour != 13 else d - timedelta(hours=17))
        rows.append(dict(row, kwh_fc_p10=lo, kwh_fc_p90=hi))
    store.upsert("pvhistory", rows)
    done = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03", "--format", "json", zone="UTC")
    assert done.returncode == 0, done.stderr
    band = json.loads(done.stdout)["forecasts"]["kwh_fc"]["probabilistic"]
    assert band["hours"] == 4
    assert (band["coverage_pct"], band["below_pct"], band["above_pct"]) == pytest.approx((50.0, 25.0, 25.0))
    assert band["width_kwh"] == pytest.approx((2.0 + 1.5 + 0.8 + 1.0) / 4)

    def loss(q, m, p):
        return max(p * (m - q), (p - 1) * (m - q))

    want = np.mean([loss(q, m, p) for _, m, med, lo, hi in cases[:4] for q, p in ((lo, 0.1), (med, 0.5), (hi, 0.9))])
    assert band["pinball"] == pytest.approx(want)
    assert band["by_lead"]["6-24"]["hours"] == 3 and band["by_lead"]["24-48"]["above_pct"] == pytest.approx(100.0)
    assert "probabilistic" not in json.loads(done.stdout)["forecasts"]["kwh_s3p"]
    table = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03", zone="UTC")
    assert "P10-P90 band" in table.stdout and "50 % of 4 h inside" in table.stdout, table.stdout
    out = tmp_path / "report"
    page = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03", "--out", str(out), zone="UTC")
    assert page.returncode == 0, page.stderr
    assert 'src="band.png"' in (out / "report.html").read_text()
    width, height = png_size(out / "band.png")
    assert width >= 300 and height >= 300
