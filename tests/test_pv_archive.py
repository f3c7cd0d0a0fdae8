"""The PV services' forecast files in ``pv_forecast``: every collector run stores STATE_DIR's files,
``--archive`` takes them too; never rewritten, reruns add nothing (both databases, the scripts as cron runs them)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from solar3p.providers import pvfile
from test_forecast_archive import run_script

T0 = int(datetime(2026, 6, 1, 4, tzinfo=timezone.utc).timestamp())


def pv_file(path: Path, provider: str, issued: int, kwh: list[float], quantiles: bool = True) -> Path:
    hours = tuple(
        pvfile.PVHour(T0 + 3600 * i, v, v * 0.5 if quantiles else None, v * 1.5 if quantiles else None)
        for i, v in enumerate(kwh)
    )
    pvfile.write(path, pvfile.PVForecast(provider, issued, hours, 1))
    return path


def rows(store) -> list[dict]:
    return store.fetch("pv_forecast", ["ts_utc", "issued_utc", "provider", "kwh", "kwh_p10", "kwh_p90"])


def test_every_collector_run_stores_the_state_dir_files_once(store, db_url, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    pv_file(state / "pv-forecast-solcast.json", "solcast", T0 - 7200, [0.0, 0.5, 1.25])
    pv_file(state / "pv-forecast-forecast.solar.json", "forecast.solar", T0 - 3600, [0.25, 0.75], quantiles=False)
    first = run_script(tmp_path, db_url)
    assert first.returncode == 0, first.stderr
    stored = rows(store)
    assert len(stored) == 5
    solcast = sorted((r for r in stored if r["provider"] == "solcast"), key=lambda r: r["ts_utc"])
    assert [float(r["kwh"]) for r in solcast] == [0.0, 0.5, 1.25]
    assert [float(r["kwh_p90"]) for r in solcast] == [0.0, 0.75, 1.875]
    assert solcast[1]["ts_utc"] == datetime(2026, 6, 1, 5) and solcast[1]["issued_utc"] == datetime(2026, 6, 1, 2)
    fsolar = [r for r in stored if r["provider"] == "forecast.solar"]
    assert all(r["kwh_p10"] is None and r["kwh_p90"] is None for r in fsolar)
    again = run_script(tmp_path, db_url)
    assert again.returncode == 0, again.stderr
    assert rows(store) == stored  # a rerun adds nothing and changes nothing


def test_a_newer_download_keeps_what_the_older_said(store, db_url, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    path = state / "pv-forecast-solcast.json"
    pv_file(path, "solcast", T0 - 7200, [1.0, 2.0])
    assert run_script(tmp_path, db_url).returncode == 0
    pv_file(path, "solcast", T0 - 3600, [3.0, 4.0])
    assert run_script(tmp_path, db_url).returncode == 0
    by_issue = {(r["ts_utc"], r["issued_utc"]): float(r["kwh"]) for r in rows(store)}
    assert by_issue[(datetime(2026, 6, 1, 4), datetime(2026, 6, 1, 2))] == 1.0
    assert by_issue[(datetime(2026, 6, 1, 4), datetime(2026, 6, 1, 3))] == 3.0
    assert len(by_issue) == 4


def test_archive_takes_pv_files_beside_weather_files(store, db_url, tmp_path):
    a = pv_file(tmp_path / "old-solcast.json", "solcast", T0 - 86400, [1.0, 2.0, 3.0])
    first = run_script(tmp_path, db_url, "--archive", str(a))
    assert first.returncode == 0, first.stderr
    assert f"{a}: 3 new forecast row(s) of 3" in first.stdout
    again = run_script(tmp_path, db_url, "--archive", str(a))
    assert f"{a}: 0 new forecast row(s) of 3" in again.stdout
    assert len(rows(store)) == 3
    assert store.fetch("forecast", ["ts_utc"]) == []


def test_a_bad_pv_file_is_65_naming_it_and_stores_nothing(store, db_url, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    bad = state / "pv-forecast-solcast.json"
    bad.write_text('{"provider": "solcast", "issued": "1", "hours": [{"time": 3600, "kwh": -2}]}')
    good = pv_file(state / "pv-forecast-forecast.solar.json", "forecast.solar", T0, [1.0])
    done = run_script(tmp_path, db_url)
    assert done.returncode == 65
    lines = done.stderr.strip().splitlines()
    assert str(bad) in lines[-1] and "kwh" in lines[-1]
    assert [r["provider"] for r in rows(store)] == ["forecast.solar"]  # the good one all the same
    archived = run_script(tmp_path, db_url, "--archive", str(bad), str(good))
    assert archived.returncode == 65 and str(bad) in archived.stderr
