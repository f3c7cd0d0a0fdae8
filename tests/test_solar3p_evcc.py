"""python -m solar3p --format evcc: evcc's custom solar forecast ([{start, end, value W}], RFC 3339), the
calibrated median from the current hour on, as evcc would read it from a script."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

import calib_synth as S
from conftest import ROOT
from solar3p import calibrate as C

NOW = "2025-03-05T10:30:00"  # UTC: 11:30 in Amsterdam, inside the shipped sample (4-8 March 2025)


def solar3p(tmp_path, *args, **extra):
    env = {
        "PATH": "/usr/bin:/bin",
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "HOMEPOWER_ENV_FILE": "none",
        "METEO_FILE": str(ROOT / "solar3p" / "data" / "data.rotterdam"),  # the shipped sample, read only
    }
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "solar3p", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    h = S.generate(date(2025, 5, 1), 6, azimuth=180.0, tilt=35.0, seed=16)
    path = tmp_path_factory.mktemp("cal") / "cal.json"
    path.write_text(json.dumps(C.fit(h.feat, h.kwh, h.day, S.given(135.0, 35.0)).as_json()))
    return path


def test_evcc_gets_the_calibrated_median_in_watts_from_the_current_hour_on(tmp_path, calibration):
    done = solar3p(tmp_path, "--calibration", str(calibration), "--format", "evcc", "--now", NOW)
    assert done.returncode == 0, done.stderr
    slots = json.loads(done.stdout)
    table = solar3p(tmp_path, "--calibration", str(calibration), "--format", "json")
    fc = {datetime.fromisoformat(r["hour_start"]): r["kwh_fc"] for r in json.loads(table.stdout)}
    now = datetime.fromisoformat(NOW).replace(tzinfo=timezone.utc)
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    assert starts[0] == datetime(2025, 3, 5, 10, tzinfo=timezone.utc)  # the hour now is in
    assert starts == sorted(starts) and len(starts) == len([t for t in fc if t + timedelta(hours=1) > now])
    for slot, start in zip(slots, starts, strict=True):
        assert datetime.fromisoformat(slot["end"]) - start == timedelta(hours=1)
        assert slot["start"].endswith("+01:00")  # RFC 3339 with the site's offset
        assert slot["value"] == pytest.approx(fc[start] * 1000.0, abs=0.06)  # kWh in an hour -> mean W
    assert max(s["value"] for s in slots) > 100.0 and min(s["value"] for s in slots) == 0.0


def test_evcc_without_a_calibration_is_78_saying_how_to_get_one(tmp_path):
    done = solar3p(tmp_path, "--format", "evcc", "--now", NOW)
    assert done.returncode == 78 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "--calibrate" in done.stderr


def test_evcc_is_hourly(tmp_path, calibration):
    done = solar3p(tmp_path, "--calibration", str(calibration), "--format", "evcc", "--gran", "day")
    assert done.returncode == 64 and "hourly" in done.stderr


def test_evcc_on_a_forecast_that_is_all_past_prints_none_and_says_why(tmp_path, calibration):
    done = solar3p(tmp_path, "--calibration", str(calibration), "--format", "evcc", "--now", "2026-01-01T00:00:00")
    assert done.returncode == 0 and json.loads(done.stdout) == []  # evcc still reads valid JSON
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no hour from now on" in lines[0] and "fetch" in lines[0], done.stderr
    assert "2025-03-08" in lines[0]  # where the shipped sample ends


def test_evcc_within_the_forecast_says_nothing_on_stderr(tmp_path, calibration):
    done = solar3p(tmp_path, "--calibration", str(calibration), "--format", "evcc", "--now", NOW)
    assert done.returncode == 0 and json.loads(done.stdout) and done.stderr == ""
