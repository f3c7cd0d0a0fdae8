"""The hourly collector's cache in STATE_DIR (homepower/hourcache.py), over the real script on SQLite and
MariaDB: a run that finds its hour there gives the very row a run without it gives, and imports neither
pandas, pvlib nor numpy; a new calibration, other PV_* settings or a new forecast file are never answered
from it; a torn or garbled cache is computed again, quietly."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import calib_synth as S
from conftest import ROOT
from homepower import schema
from homepower.calibration import calibration_row
from solar3p import calibrate as C

FITTED = datetime(2025, 5, 14, 22)  # local midnight of May 15: the calibration learned the 14 days before
ISSUED = datetime(2025, 5, 14, 20)  # the forecast file's download, before every hour it covers
LATER = "2030-01-01T00:00:00"
# Local hours of May 16: dawn (the sun rises near 05:45 CEST), noon, dusk (it sets near 21:20).
HOURS = ("2025-05-16T06", "2025-05-16T13", "2025-05-16T21")
HEAVY = {"pandas", "pvlib", "numpy"}
CACHES = ("calibrated-cache.json", "solar3p-cache.json")


def unix(t: datetime) -> int:
    return int((t - datetime(1970, 1, 1)).total_seconds())


def meteo_file(path: Path, rows: list[dict], issued: datetime, scale: float = 1.0) -> Path:
    doc = {
        "plaatsnaam": [{"plaats": "Rotterdam"}],
        "issued": str(unix(issued)),
        "provider": "meteoserver",
        "forecast": [
            {
                "time": str(unix(r["ts_utc"])),
                "gr_w": str(round(r["gr_w"] * scale, 3)),
                "tc": str(r["tc"]),
                "temp": str(r["temp"]),
            }
            for r in rows
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def history(store, tmp_path):
    """14 days of pvhistory, a calibration (with its spread) fitted at the end of them, and a forecast file
    of the four days after. Returns (the file, the calibration, the synthetic history)."""
    h = S.generate(date(2025, 5, 1), 18, azimuth=180.0, tilt=35.0, seed=21)
    n = next(i for i, r in enumerate(h.rows) if r["ts_utc"] >= FITTED)
    store.upsert("pvhistory", h.rows[:n])
    cal = C.fit(h.feat.take(slice(0, n)), h.kwh[:n], h.day[:n], S.given(135.0, 35.0))
    assert cal.spread is not None
    store.upsert("calibration", [calibration_row(cal, FITTED)])
    store.commit()
    return meteo_file(tmp_path / "meteo.json", h.rows[n:], ISSUED), cal, h


def collector(tmp_path, db_url, *args, state="state", python_args=(), now=LATER, **extra):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / state),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(tmp_path / "meteo.json"),
        "LOG_LEVEL": "WARNING",
        "HOMEPOWER_ENV_FILE": "none",
    }
    env.update(extra)
    done = subprocess.run(
        [sys.executable, *python_args, str(ROOT / "history_collector.py"), *args, "--now", now],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done


def imported(done) -> set[str]:
    return {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "import time:" in line
    }


def rows_of(store) -> dict:
    """Every pvhistory row past the history, as the database gives it back (compared value for value,
    types included: Decimal on MariaDB, float on SQLite)."""
    store.commit()
    cols = [c for c, _ in schema.TABLES["pvhistory"]]
    return {r["ts_utc"]: r for r in store.fetch("pvhistory", cols) if r["ts_utc"] >= FITTED}


def uncached(tmp_path, db_url, store, hours, **extra) -> dict:
    """The rows of ``hours`` as runs with an empty STATE_DIR each give them."""
    for i, hour in enumerate(hours):
        collector(
            tmp_path,
            db_url,
            "--hour",
            hour,
            state=f"fresh-{i}-{hashlib.sha1(repr(extra).encode()).hexdigest()}",
            **extra,
        )
    return rows_of(store)


def test_a_cached_hourly_run_gives_the_uncached_row_and_imports_no_pandas_pvlib_numpy(store, db_url, tmp_path, history):
    first = collector(tmp_path, db_url, "--hour", HOURS[0])  # computes, and fills the cache for the days ahead
    assert all((tmp_path / "state" / name).is_file() for name in CACHES)
    assert not first.stderr.strip(), first.stderr
    for hour in HOURS[1:]:
        done = collector(tmp_path, db_url, "--hour", hour, python_args=("-X", "importtime"))
        assert not imported(done) & HEAVY, sorted(imported(done) & HEAVY)
    cached = rows_of(store)
    assert len(cached) == len(HOURS)
    assert all(r[c] is not None for r in cached.values() for c in ("kwh_s3p", "kwh_fc", "kwh_fc_p10", "kwh_fc_p90"))
    assert 0 < float(cached[datetime(2025, 5, 16, 4)]["kwh_fc"]) < float(cached[datetime(2025, 5, 16, 11)]["kwh_fc"])
    assert uncached(tmp_path, db_url, store, HOURS) == cached  # and rerunning gives the same rows
    again = collector(tmp_path, db_url, "--hour", HOURS[1], python_args=("-X", "importtime"))
    assert not imported(again) & HEAVY and rows_of(store) == cached


def test_a_new_calibration_other_settings_or_a_new_forecast_are_not_answered_from_the_cache(
    store, db_url, tmp_path, history
):
    meteo, cal, h = history
    hour = HOURS[1]
    collector(tmp_path, db_url, "--hour", HOURS[0])
    collector(tmp_path, db_url, "--hour", hour)
    before = rows_of(store)
    # A newer calibration, fitted before the hour (a day more of history, as the nightly fit adds).
    n = next(i for i, r in enumerate(h.rows) if r["ts_utc"] >= FITTED + timedelta(days=1))
    newer = C.fit(h.feat.take(slice(0, n)), h.kwh[:n], h.day[:n], S.given(135.0, 35.0))
    store.upsert("calibration", [calibration_row(newer, FITTED + timedelta(days=1))])
    store.commit()
    collector(tmp_path, db_url, "--hour", hour)
    refit = rows_of(store)
    assert refit != before
    assert uncached(tmp_path, db_url, store, [hour]) == refit
    # Other PV_* settings: solar3p's kWh changes (kwh_fc stays the calibration's, as fitted), the warning
    # is said on the run that computes and on the one the cache answers.
    for _ in range(2):
        done = collector(tmp_path, db_url, "--hour", hour, PV_PANELS="24")
        assert [line for line in done.stderr.splitlines() if "--calibrate again" in line], done.stderr
    bigger = rows_of(store)
    assert bigger != refit
    assert uncached(tmp_path, db_url, store, [hour], PV_PANELS="24") == bigger
    # A new download: a dimmer forecast issued later, still before the hour.
    meteo_file(meteo, h.rows[len(h.rows) - 96 :], ISSUED + timedelta(hours=6), scale=0.5)
    collector(tmp_path, db_url, "--hour", hour)
    dimmer = rows_of(store)
    assert dimmer[datetime(2025, 5, 16, 11)] != refit[datetime(2025, 5, 16, 11)]
    assert uncached(tmp_path, db_url, store, [hour]) == dimmer


@pytest.mark.parametrize("calibrated", [True, False])
def test_the_cron_run_hour_after_hour_imports_pandas_pvlib_numpy_once_per_download(
    store, db_url, tmp_path, history, calibrated
):
    """The no-argument run of each new hour: its forecast was never modelled, but the run before computed
    the hours ahead of it."""
    if not calibrated:
        store.execute(f"DELETE FROM {store.q('calibration')}")
        store.commit()
    first = collector(tmp_path, db_url, now="2025-05-16T06:03:00", python_args=("-X", "importtime"))
    assert imported(first) & HEAVY  # the first run after the download computes
    for now in ("2025-05-16T07:03:00", "2025-05-16T08:03:00"):
        done = collector(tmp_path, db_url, now=now, python_args=("-X", "importtime"))
        assert not imported(done) & HEAVY, (now, sorted(imported(done) & HEAVY))
    rows = rows_of(store)
    newest = rows[datetime(2025, 5, 16, 7)]
    assert newest["kwh_s3p"] is not None and (newest["kwh_fc"] is not None) == calibrated


def _envelope(path: Path, change) -> None:
    """Rewrite a cache file with ``change`` applied to its body, the digest made to fit."""
    doc = json.loads(path.read_text())
    body = json.loads(doc["body"])
    change(body)
    text = json.dumps(body)
    path.write_text(json.dumps({"sha256": hashlib.sha256(text.encode()).hexdigest(), "body": text}))


def _wrong_numbers(body: dict) -> None:
    for entries in (body.get("bands") or {}, body.get("kwh") or {}):
        for key in entries:
            entries[key] = ["x", 1, 2] if "bands" in body else "0.5"


@pytest.mark.parametrize("damage", ["torn", "garbled", "not a number", "not json"])
def test_a_torn_or_garbled_cache_is_computed_again_quietly(store, db_url, tmp_path, history, damage):
    collector(tmp_path, db_url, "--hour", HOURS[1])
    want = rows_of(store)
    for name in CACHES:
        path = tmp_path / "state" / name
        text = path.read_text()
        if damage == "torn":
            path.write_text(text[: len(text) // 2])
        elif damage == "garbled":  # a digit changed: the digest no longer fits
            at = next(i for i in range(len(text) // 2, len(text)) if text[i].isdigit())
            path.write_text(text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :])
        elif damage == "not a number":
            _envelope(path, _wrong_numbers)
        else:
            path.write_text("\x00\x01 not json")
    done = collector(tmp_path, db_url, "--hour", HOURS[1])
    assert not done.stderr.strip(), done.stderr  # at most a debug line
    assert rows_of(store) == want
    for name in CACHES:  # written whole again
        doc = json.loads((tmp_path / "state" / name).read_text())
        assert hashlib.sha256(doc["body"].encode()).hexdigest() == doc["sha256"]


def test_a_backtested_hour_run_again_keeps_the_backtest_row(store, db_url, tmp_path, history):
    """The backtest's kwh_fc is the one its stored calibration gives: a later run of the hour (from the cache
    or not) applies that very calibration and stores the same numbers (the backtest took them from the
    fit before its parameters were rounded for storing: 2.98166 then 2.98168 kWh at noon)."""
    for hour in HOURS:
        collector(tmp_path, db_url, "--hour", hour)
    collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-16", "--to", "2025-05-17")
    backtested = rows_of(store)
    assert all(r["kwh_fc"] is not None and r["kwh_fc_p10"] is not None for r in backtested.values())
    for hour in HOURS:
        collector(tmp_path, db_url, "--hour", hour)
    assert rows_of(store) == backtested
    assert uncached(tmp_path, db_url, store, HOURS) == backtested


def test_a_backtest_leaves_hours_a_newer_calibration_was_fitted_before_to_that_calibration(
    store, db_url, tmp_path, history
):
    """kwh_fc is always from the newest calibration fitted before the hour began: a backtest's fit at the
    start of a day is not the newest for the hours after a calibration fitted later that day (the backtest
    wrote its own number over them, and the next run of the hour changed it back)."""
    meteo, cal, h = history
    morning = datetime(2025, 5, 16, 8)  # 10:00 local: after the backtest's fit (local midnight), before noon
    n = next(i for i, r in enumerate(h.rows) if r["ts_utc"] >= morning)
    newer = C.fit(h.feat.take(slice(0, n)), h.kwh[:n], h.day[:n], S.given(135.0, 35.0))
    store.upsert("calibration", [calibration_row(newer, morning)])
    store.commit()
    for hour in HOURS:
        collector(tmp_path, db_url, "--hour", hour)
    before = rows_of(store)
    collector(tmp_path, db_url, "--calibrate", "--from", "2025-05-16", "--to", "2025-05-17")
    backtested = rows_of(store)
    for noon_and_dusk in (datetime(2025, 5, 16, 11), datetime(2025, 5, 16, 19)):
        assert backtested[noon_and_dusk] == before[noon_and_dusk]
    dawn = datetime(2025, 5, 16, 4)  # before the newer calibration: the backtest's fit is the newest
    assert backtested[dawn]["kwh_fc"] != before[dawn]["kwh_fc"]
    for hour in HOURS:
        collector(tmp_path, db_url, "--hour", hour)
    assert rows_of(store) == backtested


@pytest.mark.parametrize("package", ["pvlib", "numpy", "pandas"])
def test_the_cached_numbers_are_made_again_after_an_upgrade_of_what_computes_them(tmp_path, monkeypatch, package):
    """solar3p's kWh are computed by pvlib with numpy and pandas: after an upgrade of any of them the
    cache is not used (``python -m solar3p`` computes with the new versions; the kWh cache knew only pvlib's)."""
    import importlib.metadata

    from conftest import load_settings
    from homepower.forecast import model_head

    pv = load_settings(tmp_path).pv
    before = model_head(pv)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.upgraded" if name == package else real(name))
    assert before is not None and model_head(pv) not in (None, before)


def test_a_calibration_that_cannot_be_written_to_state_dir_is_a_setting_to_fix(store, db_url, tmp_path, history):
    """STATE_DIR that cannot hold solar3p-calibration.json is a configuration error (78, as for the run lock),
    one line naming it, and no calibration stored; it was 65, the code of a file not understood."""
    (tmp_path / "a-file").write_text("")
    before = store.calibrations()
    done = subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), "--calibrate", "--now", "2025-05-16T03:00:00"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "DATABASE_URL": db_url,
            "STATE_DIR": str(tmp_path / "a-file" / "state"),
            "SITE_TIMEZONE": "Europe/Amsterdam",
            "HOMEPOWER_ENV_FILE": "none",
        },
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 78, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "STATE_DIR" in lines[0] and "solar3p-calibration.json" in lines[0], lines
    store.commit()
    assert store.calibrations() == before
