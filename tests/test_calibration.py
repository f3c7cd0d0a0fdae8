"""Calibration: the pure fitting (solar3p.calibrate) on synthetic histories with a known truth, and the
collector's --calibrate / backtest and solar3p --calibration as a user runs them, on both databases."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

import calib_synth as S
from conftest import ROOT
from homepower.settings import PVSettings
from solar3p import calibrate as C


# -- the physics of any orientation is solar3p's ------------------------------------------------------
@pytest.mark.parametrize("azimuth,tilt", [(135.0, 35.0), (200.0, 60.0), (90.0, 10.0), (180.0, 0.0)])
def test_power_of_any_orientation_is_solar3p_physics(azimuth, tilt):
    from solar3p.meteo import read_meteo
    from solar3p.model import hourly_power

    rows = read_meteo(ROOT / "solar3p" / "data" / "data.rotterdam")
    pv = dataclasses.replace(PVSettings(), azimuth=azimuth, tilt=tilt)
    starts, ghi, temp = [r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows]
    feat = C.features(starts, ghi, temp, pv.latitude, pv.longitude)
    want = hourly_power(starts, ghi, temp, pv)
    assert want.max() > 1000
    assert np.allclose(C.power(feat, azimuth, tilt, pv.panels * pv.panel_wp, pv.losses_pct), want, atol=1e-6)


# -- what it learns -------------------------------------------------------------------------------------
def split(history, train_days, test_from):
    first = history.day.min()
    return history.mask(history.day < first + train_days), history.mask(history.day >= first + test_from)


@pytest.mark.parametrize("days", [7, 14])
def test_a_wrong_azimuth_is_found_within_two_weeks(days):
    h = S.generate(date(2025, 5, 1), 60, azimuth=180.0, tilt=35.0, level=0.92, seed=3)
    train, test = split(h, days, 40)
    cal = C.fit(train.feat, train.kwh, train.day, S.given(135.0, 35.0))
    assert abs(cal.azimuth - 180.0) < 8, cal.describe()
    assert abs(cal.level - 0.92) < 0.05
    physics = C.power(test.feat, 135.0, 35.0, S.RATING_W, S.LOSSES) / 1000.0
    assert S.nmae(C.predict(cal, test.feat), test.kwh) < 0.5 * S.nmae(physics, test.kwh)
    assert "you said 135 deg" in cal.describe() and "azimuth 1" in cal.describe()


def test_the_right_orientation_stays_put():
    h = S.generate(date(2025, 5, 1), 30, azimuth=135.0, tilt=35.0, seed=5)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(135.0, 35.0))
    assert abs(cal.azimuth - 135.0) < 5 and abs(cal.tilt - 35.0) < 5


def test_a_horizon_in_the_south_west_is_learned_and_said():
    def horizon(sun_az):  # a row of trees: the low autumn sun is lost behind them in the afternoon
        return 12.0 if 205.0 <= sun_az <= 260.0 else 0.0

    h = S.generate(date(2025, 10, 1), 60, azimuth=180.0, tilt=35.0, seed=4, horizon=horizon)
    train, test = split(h, 40, 40)
    cal = C.fit(train.feat, train.kwh, train.day, S.given(180.0, 35.0), local_hour=train.hour, month=train.month)
    words = cal.describe()
    assert "shading after 1" in words and "autumn" in words, words
    f = test.feat
    shaded = (f.sun_az > 210) & (f.sun_az < 255) & (90 - f.zenith < 11)
    unshaded = dataclasses.replace(cal, sun=C.Table(cal.sun.edges_x, cal.sun.edges_y, np.ones_like(cal.sun.factors)))
    error = np.abs(C.predict(cal, f) - test.kwh)[shaded].sum()
    assert error < 0.8 * np.abs(C.predict(unshaded, f) - test.kwh)[shaded].sum()


def test_no_horizon_no_shading_words():
    h = S.generate(date(2025, 5, 1), 30, azimuth=180.0, tilt=35.0, seed=6)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0), local_hour=h.hour, month=h.month)
    assert "no shading found" in cal.describe()


def test_snow_and_outage_days_do_not_bend_the_level():
    first = date(2025, 5, 1)
    clean = S.generate(first, 30, seed=7)
    bad_days = [first + timedelta(days=d) for d in (3, 4, 5, 11, 20)]
    dirty = S.generate(first, 30, seed=7, zero_days=bad_days[:3], half_days=bad_days[3:])
    a = C.fit(clean.feat, clean.kwh, clean.day, S.given(180.0, 35.0))
    b = C.fit(dirty.feat, dirty.kwh, dirty.day, S.given(180.0, 35.0))
    assert b.dropped_days >= 5
    assert abs(b.level - a.level) < 0.02 and abs(b.azimuth - a.azimuth) < 4


def test_recent_days_weigh_most_in_the_level():
    # Soiling: the panels give 15 % less in the last three weeks.
    h = S.generate(date(2025, 4, 1), 90, level=0.95, seed=8)
    late = h.day >= h.day.min() + 69
    h.kwh = np.where(late, h.kwh * 0.85, h.kwh)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    uniform = (69 * 0.95 + 21 * 0.95 * 0.85) / 90  # the level if every day counted the same
    assert cal.level < uniform - 0.02


def test_under_three_days_is_refused_saying_how_much_there_is():
    h = S.generate(date(2025, 5, 1), 2, seed=9)
    with pytest.raises(C.CalibrationError, match=r"2 local day\(s\).*at least 3 days"):
        C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))


def test_a_night_hour_of_a_third_local_date_does_not_make_two_days_three():
    # 48 UTC-aligned hours from 23:00 local: two days of daylight plus one night hour of the day before.
    h = S.generate(date(2025, 4, 30), 3, seed=9)
    t0 = int(datetime(2025, 4, 30, 21, tzinfo=timezone.utc).timestamp())
    h = h.mask((h.start >= t0) & (h.start < t0 + 48 * 3600))
    assert np.unique(h.day).size == 3
    with pytest.raises(C.CalibrationError, match=r"2 local day\(s\) with daylight.*at least 3 days"):
        C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))


def test_bad_values_are_left_out_and_mismatched_arrays_refused():
    h = S.generate(date(2025, 5, 1), 10, seed=10)
    kwh = h.kwh.copy()
    kwh[::7] = np.nan
    kwh[3::11] = -5.0
    cal = C.fit(h.feat, kwh, h.day, S.given(180.0, 35.0))
    assert 0.85 < cal.level < 1.0 and np.isfinite(cal.nmae_pct)
    with pytest.raises(ValueError):
        C.fit(h.feat, kwh[:-1], h.day, S.given(180.0, 35.0))


def test_the_json_form_round_trips_and_garbage_is_refused():
    h = S.generate(date(2025, 5, 1), 5, seed=11)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    back = C.Calibration.from_json(json.loads(json.dumps(cal.as_json())))
    assert np.allclose(C.predict(back, h.feat), C.predict(cal, h.feat), atol=1e-4)
    for doc in ([], {"version": 1}, {**cal.as_json(), "level": "x"}, {**cal.as_json(), "version": 99}):
        with pytest.raises(ValueError):
            C.Calibration.from_json(doc)


def test_newest_before_never_picks_one_that_saw_the_hour():
    h = S.generate(date(2025, 5, 1), 5, seed=12)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    end = cal.trained_to
    pairs = [(end, cal)]
    assert C.newest_before(pairs, end - 3600) is None  # fitted after that hour began
    assert C.newest_before(pairs, end) is cal
    late_fit = [(end - 7200, cal)]  # a (wrong) fitting time before its own history ended
    assert C.newest_before(late_fit, end - 3600) is None


# -- the collector: --calibrate and the backtest, on both databases ------------------------------------
def env_for(tmp_path, db_url, **extra) -> dict:
    import os

    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(tmp_path / "absent.json"),
        "LOG_LEVEL": "WARNING",
        "PV_ORIENTATION": "SE",
        "PV_TILT": "35",
    }
    env.update(extra)
    return env


def collector(tmp_path, db_url, *args, **extra):
    return subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), *args],
        env=env_for(tmp_path, db_url, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def put_history(store, history, kwh_fc=None):
    rows = [dict(r, kwh_fc=kwh_fc) for r in history.rows]
    store.upsert("pvhistory", rows)


def kwh_fc_of(store) -> dict:
    store.commit()
    return {r["ts_utc"]: r["kwh_fc"] for r in store.fetch("pvhistory", ("ts_utc", "kwh_fc"))}


def test_calibrate_stores_the_row_and_file_prints_words_and_changes_no_kwh_fc(store, db_url, tmp_path):
    h = S.generate(date(2025, 5, 1), 14, azimuth=180.0, tilt=35.0, seed=13)
    put_history(store, h, kwh_fc=0.5)
    flagged = h.rows[12]["ts_utc"]
    store.upsert("pvhistory", [dict(h.rows[12], kwh_pv=99.0, flags="reset")])
    done = collector(tmp_path, db_url, "--calibrate", "--now", "2025-06-01T00:00:00")
    assert done.returncode == 0, done.stderr
    assert "azimuth 18" in done.stdout or "azimuth 17" in done.stdout, done.stdout
    assert "you said 135 deg" in done.stdout and "nMAE" in done.stdout
    # History from local May 1 00:00 through May 14 23:00 (CEST): the printed range ends where it ends.
    assert "hours from 2025-04-30 22:00 until 2025-05-14 22:00 UTC" in done.stdout, done.stdout
    store.commit()
    stored = store.calibrations()
    assert len(stored) == 1 and stored[0].fitted_utc == datetime(2025, 6, 1)
    params = json.loads(stored[0].params)
    cal = C.Calibration.from_json(params)
    assert cal.hours < len(h.rows) and flagged  # the reset hour and night hours are not trained on
    file = tmp_path / "state" / "solar3p-calibration.json"
    assert C.Calibration.from_json(json.loads(file.read_text())).azimuth == cal.azimuth
    assert set(kwh_fc_of(store).values()) == {0.5}


@pytest.mark.parametrize("first_utc", [None, datetime(2025, 4, 30, 21), datetime(2025, 5, 1, 0)])
def test_too_little_history_exits_65_in_one_line_and_writes_nothing(store, db_url, tmp_path, first_utc):
    # Two local days, or 48 UTC-aligned hours that touch a third local date only at night.
    h = S.generate(date(2025, 4, 30) if first_utc else date(2025, 5, 1), 4 if first_utc else 2, seed=14)
    if first_utc is not None:
        h.rows = [r for r in h.rows if first_utc <= r["ts_utc"] < first_utc + timedelta(hours=48)]
    put_history(store, h)
    done = collector(tmp_path, db_url, "--calibrate", "--now", "2025-06-01T00:00:00")
    assert done.returncode == 65
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "2 local day(s)" in line and "at least 3" in line
    store.commit()
    assert store.calibrations() == []
    assert not (tmp_path / "state" / "solar3p-calibration.json").exists()


def test_history_all_flagged_late_says_so_not_that_there_is_none(store, db_url, tmp_path):
    """Found in review: with every hour late_forecast (FORECAST_MIN_LEAD_H=24, forecasts fetched hours
    ahead) --calibrate said there was no history yet and to let the collector run."""
    h = S.generate(date(2025, 5, 1), 10, seed=14)
    store.upsert("pvhistory", [dict(r, flags="late_forecast") for r in h.rows])
    done = collector(tmp_path, db_url, "--calibrate", "--now", "2025-06-01T00:00:00")
    assert done.returncode == 65
    line = done.stderr.strip()
    assert (
        len(line.splitlines()) == 1 and "flagged" in line and "late_forecast" in line and "FORECAST_MIN_LEAD_H" in line
    )
    assert "let the hourly collector run" not in line


def test_a_backtest_to_a_far_date_stops_at_the_records_last_day(store, db_url, tmp_path):
    """Found in review: --to 9999 walked (and read) every day until then; a far --to now fills what a --to
    at the record's end fills, no more."""
    h = S.generate(date(2025, 5, 1), 8, azimuth=180.0, tilt=35.0, seed=15)
    put_history(store, h)
    near = collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-02", "--to", "2025-05-09")
    assert near.returncode == 0, near.stderr
    first = kwh_fc_of(store)
    far = collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-02", "--to", "2199-01-01")
    assert far.returncode == 0, far.stderr
    assert kwh_fc_of(store) == first and "to 2025-05-09" in far.stdout, far.stdout


def test_the_backtest_never_looks_ahead(store, db_url, tmp_path):
    h = S.generate(date(2025, 5, 1), 12, azimuth=180.0, tilt=35.0, seed=15)
    put_history(store, h)
    done = collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-02", "--to", "2025-05-12")
    assert done.returncode == 0, done.stderr
    assert "backtest" in done.stdout
    first = kwh_fc_of(store)
    # Days 2-3 have under 3 days before them: untouched; day 4 (May 4) on is filled.
    may4 = datetime(2025, 5, 3, 22)  # local midnight of May 4 in UTC
    assert all(v is None for t, v in first.items() if t < may4)
    assert all(v is not None for t, v in first.items() if may4 <= t < datetime(2025, 5, 11, 22))
    # Change everything measured from May 8 on: kwh_fc of May 4-7 must not move.
    may8 = datetime(2025, 5, 7, 22)
    changed = [dict(r, kwh_pv=r["kwh_pv"] * 3) for r in h.rows if r["ts_utc"] >= may8]
    store.upsert("pvhistory", changed)
    again = collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-02", "--to", "2025-05-12")
    assert again.returncode == 0, again.stderr
    second = kwh_fc_of(store)
    assert all(second[t] == first[t] for t in first if t < may8)
    assert any(second[t] != first[t] for t in first if t >= datetime(2025, 5, 8, 22))
    store.commit()
    for row in store.calibrations():
        assert row.trained_to <= row.fitted_utc


# -- solar3p --calibration ------------------------------------------------------------------------------
def solar3p(tmp_path, *args, **extra):
    import os

    env = {"PATH": os.environ.get("PATH", ""), "STATE_DIR": str(tmp_path / "state"), "SITE_TIMEZONE": "UTC"}
    env["METEO_FILE"] = str(ROOT / "solar3p" / "data" / "data.rotterdam")  # the shipped sample, read only
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "solar3p", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def a_calibration_file(tmp_path):
    h = S.generate(date(2025, 5, 1), 6, azimuth=180.0, tilt=35.0, seed=16)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(135.0, 35.0))
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.as_json()))
    return path, cal


def test_solar3p_calibration_adds_kwh_fc_to_every_row(tmp_path):
    path, cal = a_calibration_file(tmp_path)
    done = solar3p(tmp_path, "--calibration", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    plain = json.loads(solar3p(tmp_path, "--format", "json").stdout)
    assert all("kwh_fc" in r for r in rows) and all("kwh_fc" not in r for r in plain)
    assert [r["kwh"] for r in rows] == [r["kwh"] for r in plain]
    assert sum(r["kwh_fc"] for r in rows) > 0 and any(r["kwh_fc"] != r["kwh"] for r in rows)
    csv = solar3p(tmp_path, "--calibration", str(path), "--format", "csv", "--gran", "day")
    assert csv.returncode == 0 and csv.stdout.splitlines()[0] == "hour_start,kwh,gr_w,tc,temp,kwh_fc,hours,day_hours"
    # PV_CALIBRATION, and the default file in STATE_DIR, are used the same way.
    via_env = solar3p(tmp_path, "--format", "json", PV_CALIBRATION=str(path))
    assert json.loads(via_env.stdout) == rows
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "solar3p-calibration.json").write_text(path.read_text())
    assert json.loads(solar3p(tmp_path, "--format", "json").stdout) == rows


def test_solar3p_warns_in_one_line_when_the_calibration_was_fitted_under_other_settings(tmp_path):
    path, _ = a_calibration_file(tmp_path)  # fitted for the defaults: 12 x 405 W, SE, 35 deg, no horizon
    same = solar3p(tmp_path, "--calibration", str(path), "--format", "json", PV_ARRAYS="6x405@SE/35;6x405@SE/35")
    assert same.returncode == 0 and same.stderr.strip() == "", same.stderr
    other = solar3p(tmp_path, "--calibration", str(path), "--format", "json", PV_HORIZON="0,0,20,10,0,0,0,0")
    assert other.returncode == 0, other.stderr
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and "PV_HORIZON" in lines[0] and "--calibrate again" in lines[0], other.stderr
    # Still applied, as fitted: the same kwh_fc (kwh is the physics of the settings in force).
    assert [r["kwh_fc"] for r in json.loads(other.stdout)] == [r["kwh_fc"] for r in json.loads(same.stdout)]


@pytest.mark.parametrize("content", ["", "{", "[]", '{"version": 1}'])
def test_solar3p_with_a_bad_calibration_file_exits_65_in_one_line(tmp_path, content):
    path = tmp_path / "cal.json"
    path.write_text(content)
    done = solar3p(tmp_path, "--calibration", str(path))
    assert done.returncode == 65 and str(path) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_solar3p_with_a_missing_calibration_file_is_78_saying_what_to_run(tmp_path):
    # A path that names nothing is a setting to fix (or a calibration still to make), not a file it misread.
    done = solar3p(tmp_path, "--calibration", str(tmp_path / "nope.json"))
    assert done.returncode == 78 and "nope.json" in done.stderr and "--calibrate" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""


def _set(doc: dict, dotted: str, value) -> dict:
    *path, last = dotted.split(".")
    node = doc
    for key in path:
        node = node[key]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return doc


_DROP = object()


@pytest.mark.parametrize(
    "field, value",
    [
        ("given.rating_w", 0),  # was accepted: NaN kWh and numpy warnings
        ("given.rating_w", -4860),
        ("given.losses_pct", 100),
        ("level", "0.98"),  # a number as a string: accepted before
        ("level", True),
        ("level", _DROP),  # was "not a solar3p calibration: 'level'"
        ("sun.factors", [[-1.0] * 5] * 24),
        ("given.rating_w", 1e12),  # was taken: 94 million kWh in an hour
        ("given.rating_w", "4860"),  # a number as text: taken, where a level as text was refused
        ("level", None),  # said "float() argument must be a string or a real number, not 'NoneType'"
        ("given.tilt", "abc"),  # said "could not convert string to float: 'abc'"
        ("given.horizon", []),  # ended with 70 (ZeroDivisionError)
        ("given.horizon", {}),
        ("given.horizon", [0, 95]),
    ],
)
def test_solar3p_with_a_hand_edited_calibration_exits_65_naming_what_and_what_to_run(tmp_path, field, value):
    path, cal = a_calibration_file(tmp_path)
    path.write_text(json.dumps(_set(cal.as_json(), field, value)))
    done = solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.1,0.9", "--format", "json")
    assert done.returncode == 65 and done.stdout == "", done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and str(path) in line and "--calibrate" in line, line
    assert "Error" not in line and "'level'" not in line and "float" not in line


@pytest.mark.parametrize("content", ['{"a":' * 5000 + "1" + "}" * 5000, b"\xff\xfe\x00garbage"])
def test_solar3p_with_a_deep_or_binary_calibration_file_exits_65_in_one_line(tmp_path, content):
    path = tmp_path / "cal.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = solar3p(tmp_path, "--calibration", str(path), "--format", "evcc")
    assert done.returncode == 65, done.stderr  # the nested one was 70 (RecursionError)
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "--calibrate" in line and "Error" not in line, line


def test_a_calibration_path_naming_a_folder_is_78(tmp_path):
    done = solar3p(tmp_path, "--calibration", str(tmp_path))
    assert done.returncode == 78 and "names no file" in done.stderr, done.stderr


def test_a_nested_calibration_row_in_the_database_is_skipped_with_a_warning():
    from homepower.calibration import parse_calibrations
    from homepower.store.calibration import StoredCalibration

    deep = StoredCalibration(datetime(2025, 5, 7), None, None, '{"a":' * 5000 + "1" + "}" * 5000)
    assert parse_calibrations([deep]) == (
        [],
        [
            f"calibration fitted {deep.fitted_utc} is not usable "
            "(not a solar3p calibration: it nests too deep to be one): skipped"
        ],
    )


def test_ninety_nine_probabilities_are_allowed(tmp_path):
    h = S.generate(date(2025, 5, 1), 12, azimuth=180.0, tilt=35.0, seed=16)
    cal = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    assert cal.spread is not None and "P10-P90 band learned from" in cal.describe()
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.as_json()))
    probs = ",".join(f"{i / 100:g}" for i in range(1, 100))  # 0.5 among them: was 78, "1 to 99 numbers"
    done = solar3p(tmp_path, "--calibration", str(path), "--quantiles", probs, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert all(len(r["kwh_fc_quantiles"]) == 99 for r in rows)
    assert all(r["kwh_fc_quantiles"]["0.5"] == r["kwh_fc"] for r in rows)
    too_many = probs + ",0.995"
    assert solar3p(tmp_path, "--calibration", str(path), "--quantiles", too_many).returncode == 64


def test_a_calibration_without_a_band_says_how_many_days_it_had(tmp_path):
    path, cal = a_calibration_file(tmp_path)  # six days
    assert cal.spread is None and f"no P10-P90 band yet: {cal.days} day(s)" in cal.describe()
    done = solar3p(tmp_path, "--calibration", str(path), "--quantiles", "0.1,0.9")
    assert done.returncode == 78 and f"fitted on {cal.days} day(s)" in done.stderr, done.stderr
    assert f"after {10 - cal.days} more day(s)" in done.stderr


# -- several planes, and PV_HORIZON -------------------------------------------------------------------
def east_west(east: float = 90.0, west: float = 270.0, horizon=None) -> C.Plant:
    faces = (C.Face(S.RATING_W / 2, east, 30.0), C.Face(S.RATING_W / 2, west, 30.0))
    return C.Plant(S.LAT, S.LON, S.RATING_W, S.LOSSES, east, 30.0, planes=faces, horizon=horizon)


def test_a_roof_of_planes_with_a_horizon_is_solar3p_physics():
    from homepower.settings import Plane
    from solar3p.meteo import read_meteo
    from solar3p.model import hourly_power

    horizon = (0.0, 0.0, 15.0, 30.0, 45.0, 30.0, 15.0, 0.0)
    rows = read_meteo(ROOT / "solar3p" / "data" / "data.rotterdam")
    pv = PVSettings(latitude=S.LAT, longitude=S.LON, losses_pct=S.LOSSES)
    pv = dataclasses.replace(
        pv.with_planes([Plane(6, 405.0, 90.0, 30.0), Plane(6, 405.0, 270.0, 30.0)]), horizon=horizon
    )
    starts, ghi, temp = [r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows]
    plant = east_west(horizon=horizon)
    feat = C.features(starts, ghi, temp, S.LAT, S.LON, horizon)
    want = hourly_power(starts, ghi, temp, pv)
    got = C.roof_power(feat, plant, plant.orientations)[0]
    assert want.max() > 500 and np.allclose(got, want, atol=1e-6)


def test_each_plane_of_a_roof_is_found_and_pulled_toward_its_own_values():
    first = date(2025, 5, 1)
    truth = east_west(100.0, 250.0)
    # Measured: the true roof under the synthetic weather (the same generator, one plane's curve replaced).
    h = S.generate(first, 21, seed=21)
    truth_feat = C.features(h.start, [r["gr_w"] for r in h.rows], [r["temp"] for r in h.rows], S.LAT, S.LON)
    kwh = 0.92 * C.roof_power(truth_feat, truth, truth.orientations)[0] / 1000.0
    given = east_west(80.0, 280.0)
    cal = C.fit(h.feat, kwh, h.day, given)
    (az_e, _), (az_w, _) = cal.orientations
    assert abs(az_e - 100.0) < 10 and abs(az_w - 250.0) < 10, cal.describe()
    assert "plane 2" in cal.describe() and "you said 280 deg" in cal.describe()
    back = C.Calibration.from_json(json.loads(json.dumps(cal.as_json())))
    assert back.orientations == tuple((round(a, 2), round(t, 2)) for a, t in cal.orientations)


def test_a_plane_split_into_identical_halves_learns_what_the_whole_learns():
    h = S.generate(date(2025, 5, 1), 7, azimuth=225.0, tilt=35.0, seed=22)
    whole = C.fit(h.feat, h.kwh, h.day, S.given(135.0, 35.0))
    half = C.Face(S.RATING_W / 2, 135.0, 35.0)
    split = C.Plant(S.LAT, S.LON, S.RATING_W, S.LOSSES, 135.0, 35.0, planes=(half, half))
    halves = C.fit(h.feat, h.kwh, h.day, split)
    assert halves.orientations == whole.orientations * 2, (halves.orientations, whole.orientations)
    assert halves.level == pytest.approx(whole.level)


def test_the_collector_fills_kwh_fc_only_from_a_calibration_fitted_before_the_hour(store, db_url, tmp_path):
    from tests import synth

    first = date(2025, 6, 1)
    syn = synth.generate(first, 6, seed=31, peak_w=4000.0)
    store.upsert("enphase_production", syn.rows())
    doc = syn.meteoserver()
    doc["issued"] = str(int(datetime(2025, 5, 30).timestamp()))  # downloaded before every hour: no late_forecast
    meteo = tmp_path / "meteo.json"
    meteo.write_text(json.dumps(doc))
    later = ("--now", "2030-01-01T00:00:00")
    assert (
        collector(
            tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-05", *later, METEO_FILE=str(meteo)
        ).returncode
        == 0
    )
    assert set(kwh_fc_of(store).values()) == {None}
    fitted = datetime(2025, 6, 4, 22)  # local midnight of June 5
    done = collector(tmp_path, db_url, "--calibrate", "--now", fitted.isoformat(), METEO_FILE=str(meteo))
    assert done.returncode == 0, done.stderr
    again = collector(tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-07", *later, METEO_FILE=str(meteo))
    assert again.returncode == 0, again.stderr
    fc = kwh_fc_of(store)
    assert all(v is None for t, v in fc.items() if t < fitted)
    after = {t: v for t, v in fc.items() if t >= fitted}
    assert after and all(v is not None for v in after.values()) and sum(after.values()) > 5
    # The same number python -m solar3p --calibration gives for that hour of that file.
    shown = solar3p(
        tmp_path,
        "--file",
        str(meteo),
        "--format",
        "json",
        SITE_TIMEZONE="Europe/Amsterdam",
        PV_CALIBRATION=str(tmp_path / "state" / "solar3p-calibration.json"),
        PV_ORIENTATION="SE",
        PV_TILT="35",
    )
    assert shown.returncode == 0, shown.stderr
    by_hour = {
        datetime.fromisoformat(r["hour_start"]).astimezone(timezone.utc).replace(tzinfo=None): r["kwh_fc"]
        for r in json.loads(shown.stdout)
    }
    assert all(abs(by_hour[t] - v) < 1e-5 for t, v in after.items())
    assert "--calibrate again" not in again.stderr
    # Settings changed since the fit: one warning line, kwh_fc still from the calibration as fitted.
    moved = collector(
        tmp_path, db_url, "--from", "2025-06-06", "--to", "2025-06-07", *later, METEO_FILE=str(meteo), PV_TILT="20"
    )
    assert moved.returncode == 0, moved.stderr
    warned = [line for line in moved.stderr.splitlines() if "--calibrate again" in line]
    assert len(warned) == 1 and "PV_TILT" in warned[0], moved.stderr
    assert kwh_fc_of(store) == fc
