"""The forecast archive: every forecast kept with the moment it was issued, the join rule, ``--archive``,
reruns that give the row they gave before; on SQLite and MariaDB (db_config). The join rule's branches
are also tested as a pure function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from conftest import ROOT, load_settings
from homepower import hours as H
from homepower import schema
from tests import synth
from homepower.collect import Request, collect
from homepower.errors import DataError
from homepower.forecast_join import ArchivedForecast, choose

LATER = datetime(2030, 1, 1)
DAY = date(2025, 6, 1)
NOON = datetime(2025, 6, 1, 10)  # 12:00 local (Europe/Amsterdam, summer), UTC
COLS = schema.value_columns("pvhistory")


def unix(t: datetime) -> int:
    return int(H.epoch_s(t))


# -- the join rule, pure ----------------------------------------------------------------------------
def fc(issued: datetime, provider: str = "meteoserver", ts: datetime = NOON, gr_w: float = 100.0):
    return ArchivedForecast(ts, issued, provider, gr_w, 50.0, 12.0)


def test_join_takes_the_last_issued_at_or_before_the_hour():
    early, on_the_hour, after = fc(NOON - timedelta(hours=30)), fc(NOON), fc(NOON + timedelta(minutes=5))
    got = choose([after, early, on_the_hour], NOON)
    assert got.forecast == on_the_hour and not got.late and got.flag is None


def test_join_with_a_lead_takes_the_last_issued_that_long_before():
    day_ahead, same_day = fc(NOON - timedelta(hours=26)), fc(NOON - timedelta(hours=3))
    assert choose([same_day, day_ahead], NOON, min_lead_h=24).forecast == day_ahead
    assert choose([same_day, day_ahead], NOON, min_lead_h=0).forecast == same_day
    exactly = fc(NOON - timedelta(hours=24))
    assert choose([same_day, exactly], NOON, min_lead_h=24).forecast == exactly  # "at least": inclusive


def test_join_without_a_qualifying_forecast_takes_the_first_issued_after_and_flags_it_late():
    first_after, later = fc(NOON + timedelta(hours=2)), fc(NOON + timedelta(hours=8))
    got = choose([later, first_after], NOON)
    assert got.forecast == first_after and got.late and got.flag == "late_forecast"
    # with a lead: a forecast issued 3 h before is too late for a day-ahead record
    got = choose([fc(NOON - timedelta(hours=3))], NOON, min_lead_h=24)
    assert got.late and got.forecast.issued_utc == NOON - timedelta(hours=3)


def test_join_with_a_provider_sees_only_that_providers_forecasts():
    meteo, openm = fc(NOON - timedelta(hours=2)), fc(NOON - timedelta(hours=1), "open-meteo")
    assert choose([meteo, openm], NOON).forecast == openm
    assert choose([meteo, openm], NOON, provider="meteoserver").forecast == meteo
    assert choose([meteo, openm], NOON, provider="file").flag == "no_forecast"


def test_join_with_nothing_is_no_forecast_and_other_hours_do_not_count():
    other_hour = fc(NOON - timedelta(hours=5), ts=NOON + timedelta(hours=1))
    got = choose([other_hour], NOON)
    assert got.forecast is None and got.flag == "no_forecast"


def test_join_of_two_providers_issued_the_same_second_does_not_depend_on_order():
    a, b = fc(NOON - timedelta(hours=1), "meteoserver"), fc(NOON - timedelta(hours=1), "open-meteo")
    assert choose([a, b], NOON).forecast == choose([b, a], NOON).forecast


# -- files -------------------------------------------------------------------------------------------
def meteo_doc(syn, issued: datetime | None = None, provider: str | None = None, gr_w_of=None) -> dict:
    doc = syn.meteoserver()
    rows = [dict(r) for r in doc["forecast"]]
    if gr_w_of is not None:
        for r in rows:
            r["gr_w"] = str(gr_w_of(int(r["time"])))
    doc["forecast"] = rows
    if issued is not None:
        doc["issued"] = str(unix(issued))
    if provider is not None:
        doc["provider"] = provider
    return doc


def write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def settings_for(tmp_path, db_url, meteo, **env):
    return load_settings(tmp_path, DATABASE_URL=db_url, METEO_FILE=str(meteo), **env)


def day_request(first: date = DAY, days: int = 1) -> Request:
    start = datetime.combine(first, datetime.min.time())
    return Request("range", start=start, end=start + timedelta(days=days))


def stored(store):
    store.commit()  # end a MariaDB reader's snapshot
    return store.fetch("pvhistory", COLS)


def archive_count(store) -> int:
    store.commit()
    return store.execute("SELECT COUNT(*) FROM forecast", fetch=True)[0][0]


def test_a_file_without_stamps_is_provider_file_issued_at_its_mtime(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = write(tmp_path / "meteo.json", meteo_doc(syn))
    mtime = datetime(2025, 5, 31, 18, 30, 7)
    os.utime(meteo, (unix(mtime), unix(mtime)))
    collect(settings_for(tmp_path, db_url, meteo), day_request(), store, now_utc=LATER)
    rows = stored(store)
    assert {(r["forecast_issued"], r["forecast_provider"]) for r in rows} == {(mtime, "file")}
    assert all("late_forecast" not in (r["flags"] or "") for r in rows)
    assert archive_count(store) == len(syn.meteoserver()["forecast"])


def test_a_rows_own_issued_wins_over_the_files(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    doc = meteo_doc(syn, issued=datetime(2025, 6, 2), provider="open-meteo")
    for r in doc["forecast"]:  # a past forecast: each hour issued the day before, at midnight
        r["issued"] = str(unix(datetime.utcfromtimestamp(int(r["time"])).replace(hour=0) - timedelta(days=1)))
    collect(settings_for(tmp_path, db_url, write(tmp_path / "past.json", doc)), day_request(), store, now_utc=LATER)
    rows = stored(store)
    assert all(r["forecast_provider"] == "open-meteo" for r in rows)
    assert all(r["forecast_issued"] == r["ts_utc"].replace(hour=0) - timedelta(days=1) for r in rows)
    assert all("late_forecast" not in (r["flags"] or "") for r in rows)


# -- the rollover rerun ------------------------------------------------------------------------------
def test_a_newer_download_changes_no_past_hour_on_any_rerun(store, db_url, tmp_path):
    """The issue's case: collect a day, let a newer download replace METEO_FILE (Open-Meteo's covers the
    day from midnight, with other numbers), then rerun the day, one hour, and the 48-hour backfill."""
    syn = synth.generate(DAY, 2, seed=7)
    store.upsert("enphase_production", syn.rows())
    meteo = tmp_path / "forecast.json"
    write(meteo, meteo_doc(syn, issued=datetime(2025, 5, 31, 20), provider="meteoserver"))
    settings = settings_for(tmp_path, db_url, meteo)
    collect(settings, day_request(DAY, 2), store, now_utc=datetime(2025, 6, 3))
    before = stored(store)
    assert all(r["gr_w"] is not None and r["kwh_s3p"] is not None for r in before)
    assert any(r["kwh_s3p"] > 0 for r in before)

    # the newer download, after those hours: other irradiance for every hour of both days
    write(meteo, meteo_doc(syn, issued=datetime(2025, 6, 3, 0, 30), provider="open-meteo", gr_w_of=lambda t: 7))
    rerun = datetime(2025, 6, 3, 1)
    collect(settings, day_request(DAY, 2), store, now_utc=rerun)
    collect(settings, Request("hour", hour=datetime(2025, 6, 2, 13)), store, now_utc=rerun)
    # the backfill recomputes every hour of the last 48 whose kwh_pv is NULL
    p = store.dialect.placeholder
    store.execute(
        f"UPDATE pvhistory SET kwh_pv = NULL WHERE ts_utc >= {p}", (store.dialect.to_db(datetime(2025, 6, 1, 2)),)
    )
    store.commit()
    collect(settings, Request(), store, now_utc=rerun)
    after = [r for r in stored(store) if r["ts_utc"] in {b["ts_utc"] for b in before}]
    assert after == before
    # and the newer forecast is in the archive beside the older one
    assert archive_count(store) == 2 * len(syn.meteoserver()["forecast"])


def test_with_a_day_ahead_lead_the_older_forecast_is_chosen(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=7)
    store.upsert("enphase_production", syn.rows())
    old = write(tmp_path / "old.json", meteo_doc(syn, issued=datetime(2025, 5, 30, 12), provider="meteoserver"))
    new = write(
        tmp_path / "new.json",
        meteo_doc(syn, issued=datetime(2025, 5, 31, 23), provider="meteoserver", gr_w_of=lambda t: 7),
    )
    settings = settings_for(tmp_path, db_url, new, FORECAST_MIN_LEAD_H=24)
    done = run_script(tmp_path, db_url, "--archive", str(old))
    assert done.returncode == 0, done.stderr
    collect(settings, day_request(), store, now_utc=LATER)
    rows = stored(store)
    # 00:00-23:00 local = 2025-05-31 22:00 .. 2025-06-01 21:00 UTC: 24 h before each start
    for r in rows:
        cutoff = r["ts_utc"] - timedelta(hours=24)
        want = datetime(2025, 5, 31, 23) if cutoff >= datetime(2025, 5, 31, 23) else datetime(2025, 5, 30, 12)
        assert r["forecast_issued"] == want, r
        assert (r["gr_w"] == 7) == (want == datetime(2025, 5, 31, 23))
    assert all("late_forecast" not in (r["flags"] or "") for r in rows)


def test_provider_setting_and_late_and_missing_forecasts(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=7)
    store.upsert("enphase_production", syn.rows())
    doc = meteo_doc(syn, issued=datetime(2025, 6, 1, 8), provider="open-meteo")  # issued during the day
    noon = unix(NOON)
    doc["forecast"] = [r for r in doc["forecast"] if int(r["time"]) != noon]
    meteo = write(tmp_path / "om.json", doc)
    collect(settings_for(tmp_path, db_url, meteo), day_request(), store, now_utc=LATER)
    rows = {r["ts_utc"]: r for r in stored(store)}
    assert "late_forecast" in rows[datetime(2025, 6, 1, 7)]["flags"]  # began before 08:00 UTC
    assert "late_forecast" not in (rows[datetime(2025, 6, 1, 8)]["flags"] or "")  # issued at its start
    assert "no_forecast" in rows[NOON]["flags"] and rows[NOON]["gr_w"] is None
    assert rows[NOON]["forecast_issued"] is None and rows[NOON]["forecast_provider"] is None
    # only Meteoserver's wanted: none archived, so every hour is no_forecast
    only = settings_for(tmp_path, db_url, meteo, FORECAST_PROVIDER="meteoserver")
    collect(only, day_request(), store, now_utc=LATER)
    assert all("no_forecast" in r["flags"] and r["kwh_s3p"] is None for r in stored(store))


def test_kwh_s3p_is_what_solar3p_gives_for_the_same_file(store, db_url, tmp_path, clean_env):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    doc = meteo_doc(syn, issued=datetime(2025, 5, 31), provider="meteoserver")
    doc["forecast"][13]["gr_w"] = "-"  # Meteoserver's "no value": NULL kWh, the rest of the file stands
    meteo = write(tmp_path / "m.json", doc)
    collect(settings_for(tmp_path, db_url, meteo), day_request(), store, now_utc=LATER)
    rows = {unix(r["ts_utc"]): r for r in stored(store)}
    env = dict(os.environ, METEO_FILE=str(meteo))
    out = subprocess.run(
        [sys.executable, "-m", "solar3p", "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    cli = {int(datetime.fromisoformat(i["hour_start"]).timestamp()): i["kwh"] for i in json.loads(out.stdout)}
    compared = [t for t in rows if t in cli]
    assert len(compared) == 24
    assert all(rows[t]["kwh_s3p"] == cli[t] for t in compared)
    dash = int(doc["forecast"][13]["time"])
    if dash in rows:
        assert rows[dash]["kwh_s3p"] is None and rows[dash]["gr_w"] is None and rows[dash]["kwh_pv"] is not None


# -- --archive ---------------------------------------------------------------------------------------
def run_script(tmp_path, db_url, *args, meteo=None, extra_env=None, python_args=()):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(meteo or tmp_path / "absent.json"),
        "LOG_LEVEL": "INFO",
    }
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, *python_args, str(ROOT / "history_collector.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_archive_twice_stores_once(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    a = write(tmp_path / "a.json", meteo_doc(syn, issued=datetime(2025, 5, 31, 6), provider="meteoserver"))
    b = write(tmp_path / "b.json", meteo_doc(syn, issued=datetime(2025, 5, 31, 12), provider="meteoserver"))
    n = len(syn.meteoserver()["forecast"])
    first = run_script(tmp_path, db_url, "--archive", str(a), str(b))
    assert first.returncode == 0, first.stderr
    assert f"{a}: {n} new forecast row(s) of {n}" in first.stdout and f"{2 * n} new" in first.stdout
    again = run_script(tmp_path, db_url, "--archive", str(a), str(b))
    assert again.returncode == 0, again.stderr
    assert f"{a}: 0 new forecast row(s) of {n}" in again.stdout and f"{b}: 0 new" in again.stdout
    assert archive_count(store) == 2 * n
    assert store.fetch("pvhistory", ["ts_utc"]) == []  # --archive collects no hour


def test_a_database_that_lost_an_unchanged_files_forecasts_gets_them_again(store, db_url, tmp_path):
    """STATE_DIR remembers which METEO_FILE content the database has archived; a database restored from a
    backup made before that download (or emptied) no longer holds it, and the hours must not go without
    their forecast until the next download (they came back NULL, flagged no_forecast)."""
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = write(tmp_path / "meteo.json", meteo_doc(syn, issued=datetime(2025, 5, 31), provider="meteoserver"))
    settings = settings_for(tmp_path, db_url, meteo)
    collect(settings, day_request(), store, now_utc=LATER)
    want = stored(store)
    assert all(r["forecast_issued"] is not None for r in want)
    for table in ("forecast", "pvhistory"):
        store.execute(f"DELETE FROM {store.q(table)}")
    store.commit()
    collect(settings, day_request(), store, now_utc=LATER)
    assert stored(store) == want
    assert archive_count(store) == len(syn.meteoserver()["forecast"])


@pytest.mark.parametrize(
    "content",
    [
        '{"forecast": [{"time": "1748736000"',
        "[1, 2, 3]",
        '{"forecast": [{"time": "1748736000", "gr_w": "veel", "tc": "0", "temp": "1"}]}',
        '{"issued": "yesterday", "forecast": [{"time": "1748736000", "gr_w": "1", "tc": "0", "temp": "1"}]}',
        # Found in review: a "no value" marker passed the reader and ended every MariaDB run with 70.
        '{"forecast": [{"time": "1748736000", "gr_w": "1", "tc": "0", "temp": "-999999"}]}',
        '{"forecast": [{"time": "1748736000", "gr_w": "123456", "tc": "0", "temp": "1"}]}',
    ],
)
def test_a_bad_file_exits_65_naming_it_and_stores_nothing_from_it(store, db_url, tmp_path, content):
    syn = synth.generate(DAY, 1, seed=3)
    good = write(tmp_path / "good.json", meteo_doc(syn, issued=datetime(2025, 5, 31), provider="meteoserver"))
    bad = tmp_path / "data.bad"
    bad.write_text(content)
    done = run_script(tmp_path, db_url, "--archive", str(bad), str(good))
    assert done.returncode == 65
    assert str(bad) in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert archive_count(store) == len(syn.meteoserver()["forecast"])  # the good one only
    missing = run_script(tmp_path, db_url, "--archive", str(tmp_path / "nowhere.json"))
    assert missing.returncode == 65 and "nowhere.json" in missing.stderr


def test_an_absurd_value_archived_before_the_reader_checked_it_is_unknown_not_a_crash(store, db_url, tmp_path):
    """A forecast row with temp -999999 already in the archive (an older version stored it): the hours are
    stored, that value NULL (it did not fit pvhistory's DECIMAL on MariaDB: every run exited 70)."""
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    doc = meteo_doc(syn, issued=datetime(2025, 5, 31), provider="meteoserver")
    rows = [
        {
            "ts_utc": datetime.fromtimestamp(int(r["time"]), timezone.utc).replace(tzinfo=None),
            "issued_utc": datetime(2025, 5, 31),
            "provider": "meteoserver",
            "gr_w": float(r["gr_w"]),
            "tc": float(r["tc"]),
            "temp": -999999.0 if int(r["time"]) == unix(NOON) else float(r["temp"]),
        }
        for r in doc["forecast"]
    ]
    store.store_forecasts(rows)
    collect(settings_for(tmp_path, db_url, tmp_path / "absent.json"), day_request(), store, now_utc=LATER)
    got = {r["ts_utc"]: r for r in stored(store)}
    assert len(got) == 24 and all(r["kwh_pv"] is not None for r in got.values())
    assert got[NOON]["temp"] is None and got[NOON]["gr_w"] is not None
    assert got[NOON + timedelta(hours=1)]["temp"] is not None


def test_archive_with_hour_options_is_bad_usage(tmp_path):
    done = run_script(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "--archive", "x.json", "--hour", "2025-06-01T10")
    assert done.returncode == 64 and "--archive" in done.stderr


def test_a_bad_meteo_file_stores_nothing_and_names_it_but_the_hours_are_stored(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    bad = tmp_path / "forecast.json"
    bad.write_text('{"forecast": [{"time": "1748736000", "gr_w": "veel", "tc": "0", "temp": "1"}]}')
    with pytest.raises(DataError) as err:
        collect(settings_for(tmp_path, db_url, bad), day_request(), store, now_utc=LATER)
    assert err.value.exit_code == 65 and str(bad) in str(err.value)
    assert archive_count(store) == 0
    rows = stored(store)
    assert len(rows) == 24 and sum(r["kwh_pv"] is not None for r in rows) == 24  # the energy all the same


def test_the_hourly_run_on_an_unchanged_file_stores_nothing_again_and_loads_no_pvlib(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = write(tmp_path / "forecast.json", meteo_doc(syn, issued=datetime(2025, 5, 31), provider="meteoserver"))
    args = ("--hour", "2025-06-01T13", "--now", "2025-06-02T00:00:00")
    first = run_script(tmp_path, db_url, *args, meteo=meteo)
    assert first.returncode == 0, first.stderr
    assert "new row(s)" in first.stderr
    store.commit()
    row = store.fetch("pvhistory", ["kwh_s3p", "created", "updated"])[0]
    assert row["kwh_s3p"] > 0 and row["updated"] >= row["created"]
    again = run_script(tmp_path, db_url, *args, meteo=meteo, python_args=("-X", "importtime"))
    assert again.returncode == 0, again.stderr
    assert "archived forecast file" not in again.stderr  # recognised unchanged: not read, not stored
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines() if "import time:" in line}
    assert not imported & {"pvlib", "pandas", "numpy"}
    assert store.fetch("pvhistory", ["kwh_s3p"])[0]["kwh_s3p"] == row["kwh_s3p"]


# -- the meters and the cron run's other duties ------------------------------------------------------
def test_import_and_consumption_per_hour(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    rows = syn.rows()
    t0 = rows[0]["ts_utc"]
    for r in rows:  # 0.5 kWh an hour from the grid, steadily
        r["whImportedLifetime"] = 3_000_000.0 + 500.0 * (r["ts_utc"] - t0).total_seconds() / 3600.0
    store.upsert("enphase_production", rows)
    collect(settings_for(tmp_path, db_url, tmp_path / "none.json"), day_request(), store, now_utc=LATER)
    for r in stored(store):
        truth = syn.truth[r["ts_utc"]]
        assert r["kwh_import"] == pytest.approx(0.5, abs=1e-4)
        if truth.kwh_pv is not None and r["kwh_return"] is not None and "long_gap" not in (r["flags"] or ""):
            assert r["kwh_consumed"] == pytest.approx(r["kwh_pv"] + 0.5 - r["kwh_return"], abs=2e-5)


def test_a_total_consumption_meter_gives_consumption_itself(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3, meter=False)
    rows = syn.rows()
    t0 = rows[0]["ts_utc"]
    for r in rows:
        r["whConsumedLifetime"] = 100.0 + 800.0 * (r["ts_utc"] - t0).total_seconds() / 3600.0
    store.upsert("enphase_production", rows)
    collect(settings_for(tmp_path, db_url, tmp_path / "none.json"), day_request(), store, now_utc=LATER)
    got = stored(store)
    assert all(r["kwh_consumed"] == pytest.approx(0.8, abs=1e-4) for r in got)
    assert all(r["kwh_import"] is None and r["kwh_return"] is None for r in got)


def test_the_cron_run_recomputes_a_long_gap_hour_once_better_readings_arrive(store, db_url, tmp_path, caplog):
    syn = synth.generate(DAY, 2, seed=6)
    samples = syn.rows()
    gap = (datetime(2025, 6, 2, 6), datetime(2025, 6, 2, 9))  # UTC: no reading in these three hours
    late = [r for r in samples if gap[0] <= r["ts_utc"] < gap[1]]
    store.upsert("enphase_production", [r for r in samples if not gap[0] <= r["ts_utc"] < gap[1]])
    settings = settings_for(tmp_path, db_url, tmp_path / "none.json")
    now = datetime(2025, 6, 2, 12, 5)
    import logging

    caplog.set_level(logging.INFO)
    collect(settings, Request(), store, now_utc=now)
    first = {r["ts_utc"]: r for r in stored(store)}
    assert "long_gap" in first[datetime(2025, 6, 2, 7)]["flags"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "not over" in r.getMessage()]
    store.upsert("enphase_production", late)  # the spool delivers them
    collect(settings, Request(), store, now_utc=now + timedelta(minutes=5))
    second = {r["ts_utc"]: r for r in stored(store)}
    hour = second[datetime(2025, 6, 2, 7)]
    assert "long_gap" not in (hour["flags"] or "")
    assert hour["kwh_pv"] == pytest.approx(syn.truth[datetime(2025, 6, 2, 7)].kwh_pv, abs=0.003)


def test_updated_is_never_before_created(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    settings = settings_for(tmp_path, db_url, tmp_path / "none.json")
    for _ in range(2):
        collect(settings, day_request(), store)
    store.commit()
    rows = store.fetch("pvhistory", ["created", "updated"])
    assert rows and all(r["updated"] >= r["created"] for r in rows)


# -- upgrade -----------------------------------------------------------------------------------------
def test_a_populated_database_of_the_previous_layout_gains_the_archive_and_keeps_every_row(db_config, tmp_path):
    """Tables as the release before the archive made them: no forecast/calibration tables, no kwh_import,
    kwh_consumed, kwh_fc, forecast_issued, forecast_provider, whImportedLifetime, whConsumedLifetime."""
    from homepower import schema
    from homepower.store import Store

    new_cols = {
        "kwh_fc",
        "kwh_import",
        "kwh_consumed",
        "forecast_issued",
        "forecast_provider",
        "whImportedLifetime",
        "whConsumedLifetime",
    }
    syn = synth.generate(DAY, 1, seed=3)
    with Store.connect(db_config, create=False) as old:
        for table in ("enphase_production", "pvhistory"):
            cols = [(n, t) for n, t in schema.TABLES[table] if n not in new_cols]
            body = ",\n".join(f"`{n}` {t}" for n, t in cols)
            old.execute(f"CREATE TABLE `{table}` ({body}, PRIMARY KEY (`ts_utc`))")
        samples = [{k: v for k, v in r.items() if k not in new_cols} for r in syn.rows()]
        old.upsert("enphase_production", samples)
        old.upsert(
            "pvhistory",
            [{"ts_utc": datetime(2025, 5, 1, 10), "year": 2025, "month": 5, "day": 1, "hour": 12, "kwh_pv": 1.25}],
        )
    settings = load_settings(
        tmp_path,
        DATABASE_URL=db_config.url(),
        METEO_FILE=str(write(tmp_path / "f.json", meteo_doc(syn, issued=datetime(2025, 5, 31)))),
    )
    with Store.connect(db_config, settings.timezone) as store:
        for table in schema.TABLES:
            assert set(store.table_columns(table)) == set(schema.columns(table))
        assert len(store.fetch("enphase_production", ["ts_utc"])) == len(samples)
        collect(settings, day_request(), store, now_utc=LATER)
        rows = store.fetch("pvhistory", ["ts_utc", "kwh_pv", "forecast_issued"])
    assert rows[0] == {"ts_utc": datetime(2025, 5, 1, 10), "kwh_pv": 1.25, "forecast_issued": None}
    assert len(rows) == 25 and all(r["forecast_issued"] == datetime(2025, 5, 31) for r in rows[1:])


MEASURE = """
import resource, sys
import sqlite3, history_collector, homepower.store, homepower.forecast, solar3p.meteo
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = history_collector.main(["--archive", sys.argv[1]])
print(code, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)
"""


def test_archiving_five_years_of_hours_stays_in_bounded_memory(tmp_path):
    """The largest file `fetch --from --to` writes in one run (5 years): within 64 MiB above the imports."""
    item = (
        '{"time":"%d","issued":"%d","cet":"01-01-2020 00:00","elev":"10.1","az":"180.2","temp":"12.3","gr":"100",'
        '"gr_w":"300.5","sd":"30","tc":"50","lc":"10","mc":"20","hc":"30","vis":"20000","prec":"0.1"}'
    )
    t0 = 1_577_836_800
    rows = ",\n".join(item % (t0 + 3600 * i, t0 + 3600 * i - 86400) for i in range(5 * 8784))
    path = tmp_path / "five-years.json"
    path.write_text('{"issued":"%d","provider":"open-meteo","forecast":[\n%s\n]}\n' % (t0, rows))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    code, growth_mib = done.stdout.split()[-2:]
    assert code == "0" and "43920 new" in done.stdout
    assert int(growth_mib) < 64, growth_mib
