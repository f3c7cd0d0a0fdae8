"""The collector against synthetic histories with a known truth, on SQLite and MariaDB (db_config)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from conftest import ROOT, load_settings
from homepower import schema
from homepower import settings as settings_mod
from homepower import hours as H
from tests import synth
from homepower.collect import Request, collect
from homepower.errors import DataError

TOL_KWH = 0.003  # linear interpolation between 5-minute samples of a smooth curve: well under 3 Wh
LATER = datetime(2030, 1, 1)  # "now" for runs over past days
COLS = schema.value_columns("pvhistory")


def settings_for(tmp_path, db_url, meteo=None, **env):
    return load_settings(tmp_path, DATABASE_URL=db_url, METEO_FILE=str(meteo or tmp_path / "no-forecast.json"), **env)


def day_range(first: date, days: int) -> Request:
    return Request(
        "range",
        start=datetime.combine(first, datetime.min.time()),
        end=datetime.combine(first + timedelta(days=days), datetime.min.time()),
    )


def stored(store):
    return store.fetch("pvhistory", COLS)


def assert_matches_truth(rows, syn):
    """Every hour of the history, compared with what really happened."""
    by_ts = {r["ts_utc"]: r for r in rows}
    assert sorted(by_ts) == sorted(syn.truth), "one row per local clock hour, no more, no less"
    gap_truth = gap_found = 0.0
    for ts, truth in syn.truth.items():
        row = by_ts[ts]
        flags = set((row["flags"] or "").split(",")) - {""}
        assert truth.flags <= flags, (ts, truth.flags, flags)
        local = H.hour_at(ts, syn.tz)
        assert (row["year"], row["month"], row["day"], row["hour"]) == (local.year, local.month, local.day, local.hour)
        if truth.kwh_pv is None:
            assert row["kwh_pv"] is None, ts
        elif H.LONG_GAP in truth.flags:  # interpolation spreads a gap's energy; its total is right
            gap_truth += truth.kwh_pv
            gap_found += row["kwh_pv"]
        else:
            assert row["kwh_pv"] == pytest.approx(truth.kwh_pv, abs=TOL_KWH), (ts, row, truth)
        if truth.kwh_return is not None and H.LONG_GAP not in truth.flags:
            assert row["kwh_return"] == pytest.approx(truth.kwh_return, abs=TOL_KWH), ts
    assert gap_found == pytest.approx(gap_truth, abs=TOL_KWH)


SCENARIOS = {
    "spring_dst_reset_gap": dict(
        start=date(2025, 3, 29),
        days=3,
        seed=11,
        reset_at=datetime(2025, 3, 31, 12, 32),
        gap=(datetime(2025, 3, 29, 9, 10), 3.5),
    ),
    "autumn_dst_wrap": dict(
        start=date(2025, 10, 25),
        days=3,
        seed=12,
        source="inverters",
        meter=False,
        wrap_at=datetime(2025, 10, 26, 11, 41),
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_synthetic_history_matches_truth_hour_by_hour(name, store, db_url, tmp_path):
    params = dict(SCENARIOS[name])
    first, days = params.pop("start"), params.pop("days")
    syn = synth.generate(first, days, **params)
    store.upsert("enphase_production", syn.rows())
    collect(settings_for(tmp_path, db_url), day_range(first, days), store, now_utc=LATER)
    rows = stored(store)
    assert_matches_truth(rows, syn)
    per_day = {}
    for r in rows:
        per_day[(r["month"], r["day"])] = per_day.get((r["month"], r["day"]), 0) + 1
    dst_day = (3, 30) if first.month == 3 else (10, 26)
    assert per_day[dst_day] == (23 if first.month == 3 else 25)
    flags = [r["flags"] or "" for r in rows]
    assert any("reset" in f for f in flags) == ("reset_at" in params)
    assert any("wrap" in f for f in flags) == ("wrap_at" in params)


def test_outage_and_noise_nights_are_zero_not_null(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 6, 1), 2, seed=5, noise=True, outage=True)
    store.upsert("enphase_production", syn.rows())
    collect(settings_for(tmp_path, db_url), day_range(date(2025, 6, 1), 2), store, now_utc=LATER)
    rows = stored(store)
    assert_matches_truth(rows, syn)
    at_23 = [r for r in rows if r["hour"] == 23]
    assert [r["kwh_pv"] for r in at_23] == [0.0, 0.0] and all(r["flags"] != "long_gap" for r in at_23)


def test_hours_without_samples_are_null_never_zero(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 6, 1), 1, seed=5)
    store.upsert("enphase_production", syn.rows())
    collect(settings_for(tmp_path, db_url), day_range(date(2025, 6, 3), 1), store, now_utc=LATER)
    rows = stored(store)
    assert len(rows) == 24 and all(r["kwh_pv"] is None and r["kwh_return"] is None for r in rows)


def write_meteo(path, syn, drop=(), gr_w_of=None):
    doc = syn.meteoserver()
    rows = [dict(r) for r in doc["forecast"] if int(r["time"]) not in drop]
    if gr_w_of:
        for r in rows:
            r["gr_w"] = str(gr_w_of(int(r["time"])))
    doc["forecast"] = rows
    path.write_text(json.dumps(doc))
    return path


def test_forecast_of_the_same_hour_is_joined_never_the_next(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    # A distinct irradiance per hour: the hour starting at unix t gets t // 3600 % 1000.
    meteo = write_meteo(tmp_path / "meteo.json", syn, gr_w_of=lambda t: t // 3600 % 1000)
    settings = settings_for(tmp_path, db_url, meteo)
    collect(settings, day_range(date(2025, 6, 1), 1), store, now_utc=LATER)
    rows = stored(store)
    assert len(rows) == 24
    from solar3p.meteo import read_meteo
    from solar3p.model import hourly_kwh

    by_time = {r.time: r for r in read_meteo(meteo)}
    predicted = hourly_kwh(read_meteo(meteo), settings.pv)
    for row in rows:
        unix = int(H.epoch_s(row["ts_utc"]))
        assert row["gr_w"] == unix // 3600 % 1000
        assert row["tc"] == by_time[unix].tc and row["temp"] == by_time[unix].temp
        assert row["kwh_s3p"] == pytest.approx(predicted[unix], abs=1e-5)
        assert "no_forecast" not in (row["flags"] or "")
    assert any(r["kwh_s3p"] > 0 for r in rows)


def test_the_forecast_model_is_remembered_per_file_and_settings(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = write_meteo(tmp_path / "meteo.json", syn)
    noon = Request("hour", hour=datetime(2025, 6, 1, 13))
    first = collect(settings_for(tmp_path, db_url, meteo), noon, store, now_utc=LATER)[0].kwh_s3p
    assert first > 0 and (tmp_path / "state" / "solar3p-cache.json").is_file()
    again = collect(settings_for(tmp_path, db_url, meteo), noon, store, now_utc=LATER)[0].kwh_s3p
    assert again == first
    # Other PV settings or another forecast: modelled anew, never a stale number.
    bigger = collect(settings_for(tmp_path, db_url, meteo, PV_PANELS=24), noon, store, now_utc=LATER)
    assert bigger[0].kwh_s3p > first * 1.5
    dim = write_meteo(tmp_path / "dim.json", syn, gr_w_of=lambda t: 50)
    doc = json.loads(dim.read_text())
    doc["issued"] = str(int(H.epoch_s(datetime(2025, 6, 1, 9))))  # before the hour: the join prefers it
    dim.write_text(json.dumps(doc))
    dull = collect(settings_for(tmp_path, db_url, dim), noon, store, now_utc=LATER)[0].kwh_s3p
    assert 0 < dull < first
    (tmp_path / "state" / "solar3p-cache.json").write_text("{not json")
    assert collect(settings_for(tmp_path, db_url, dim), noon, store, now_utc=LATER)[0].kwh_s3p == dull


def test_a_state_dir_that_cannot_hold_the_cache_still_stores_the_forecast(store, db_url, tmp_path, caplog):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = write_meteo(tmp_path / "meteo.json", syn)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where STATE_DIR should be")
    caplog.set_level(logging.WARNING)
    noon = Request("hour", hour=datetime(2025, 6, 1, 13))
    rows = collect(settings_for(tmp_path, db_url, meteo, STATE_DIR=str(blocked)), noon, store, now_utc=LATER)
    assert rows[0].kwh_s3p > 0 and stored(store)[0]["kwh_s3p"] == rows[0].kwh_s3p
    assert "modelled again next run" in caplog.text


def test_missing_forecast_file_or_hour_is_null_with_a_warning(store, db_url, tmp_path, caplog):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    caplog.set_level(logging.WARNING)
    collect(settings_for(tmp_path, db_url), day_range(date(2025, 6, 1), 1), store, now_utc=LATER)
    rows = stored(store)
    assert all(r["gr_w"] is None and r["kwh_s3p"] is None and r["tc"] is None for r in rows)
    assert all(r["kwh_pv"] is not None for r in rows)
    assert "no-forecast.json" in caplog.text

    caplog.clear()
    noon = H.local_hours(datetime(2025, 6, 1, 12), datetime(2025, 6, 1, 13), syn.tz)[0]
    meteo = write_meteo(tmp_path / "meteo.json", syn, drop={noon.unix})
    collect(settings_for(tmp_path, db_url, meteo), day_range(date(2025, 6, 1), 1), store, now_utc=LATER)
    rows = {r["ts_utc"]: r for r in stored(store)}
    assert rows[noon.start]["gr_w"] is None and rows[noon.start]["kwh_s3p"] is None
    assert "no_forecast" in rows[noon.start]["flags"]
    assert rows[noon.start + H.HOUR]["gr_w"] is not None
    assert "no forecast for 1 of 24" in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        '{"forecast": [{"time": "1748736000"',
        "[1, 2, 3]",
        '{"forecast": [{"time": "1748736000", "gr_w": "x", "temp": "1"}]}',
    ],
)
def test_a_malformed_forecast_file_is_a_data_error_naming_the_file(store, db_url, tmp_path, content):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    bad = tmp_path / "data.broken"
    bad.write_text(content)
    with pytest.raises(DataError) as err:
        collect(settings_for(tmp_path, db_url, bad), day_range(date(2025, 6, 1), 1), store, now_utc=LATER)
    assert err.value.exit_code == 65 and str(bad) in str(err.value)
    rows = stored(store)  # the energy is stored all the same, without a forecast
    assert len(rows) == 24 and all(r["kwh_pv"] is not None and r["gr_w"] is None for r in rows)


def test_one_hour_alone_equals_the_range_run_and_reruns_replace(store, db_url, tmp_path):
    # A gap longer than the read window around an hour: the nearest readings come from the edge look-up.
    syn = synth.generate(date(2025, 10, 25), 2, seed=4, gap=(datetime(2025, 10, 26, 9, 10), 9))
    store.upsert("enphase_production", syn.rows())
    meteo = write_meteo(tmp_path / "meteo.json", syn)
    settings = settings_for(tmp_path, db_url, meteo)
    collect(settings, day_range(date(2025, 10, 25), 2), store, now_utc=LATER)
    ranged = stored(store)
    assert len(ranged) == 49
    assert_matches_truth(ranged, syn)
    assert sum("long_gap" in (r["flags"] or "") for r in ranged) >= 9
    store.execute("DELETE FROM pvhistory")
    store.commit()
    for local in sorted({datetime(r["year"], r["month"], r["day"], r["hour"]) for r in ranged}):
        collect(settings, Request("hour", hour=local), store, now_utc=LATER)
    assert stored(store) == ranged
    collect(settings, day_range(date(2025, 10, 25), 2), store, now_utc=LATER)  # rerun: replaced
    assert stored(store) == ranged


def test_reading_in_chunks_changes_nothing(store, db_url, tmp_path, monkeypatch):
    syn = synth.generate(date(2025, 10, 25), 2, seed=4, gap=(datetime(2025, 10, 26, 9, 10), 9))
    store.upsert("enphase_production", syn.rows())
    settings = settings_for(tmp_path, db_url, write_meteo(tmp_path / "meteo.json", syn))
    whole = collect(settings, day_range(date(2025, 10, 25), 2), store, now_utc=LATER)
    from homepower import collect as collect_mod

    monkeypatch.setattr(collect_mod, "CHUNK_HOURS", 5)
    assert collect(settings, day_range(date(2025, 10, 25), 2), store, now_utc=LATER) == whole
    assert len(stored(store)) == 49


def test_the_repeated_autumn_hour_gives_two_rows(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 10, 26), 1, seed=4)
    store.upsert("enphase_production", syn.rows())
    rows = collect(
        settings_for(tmp_path, db_url), Request("hour", hour=datetime(2025, 10, 26, 2)), store, now_utc=LATER
    )
    assert [r.ts_utc for r in rows] == [datetime(2025, 10, 26, 0), datetime(2025, 10, 26, 1)]
    assert [r["hour"] for r in stored(store)] == [2, 2]


def test_no_arguments_fills_the_last_hour_and_missing_or_null_hours_only(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 6, 1), 3, seed=6)
    store.upsert("enphase_production", syn.rows())
    settings = settings_for(tmp_path, db_url)
    now = datetime(2025, 6, 3, 10, 7)  # UTC: the last completed hour is 09:00-10:00 UTC (11:00 local)
    hour_list = [h for h in syn.hours if h.end <= now][-48:]
    last = hour_list[-1]
    sentinel, null_hour, kept_null = hour_list[10], hour_list[20], hour_list[0]
    store.upsert(
        "pvhistory",
        [
            {"ts_utc": sentinel.start, "year": 1, "month": 1, "day": 1, "hour": 0, "kwh_pv": 9.99},
            {"ts_utc": null_hour.start, "year": 1, "month": 1, "day": 1, "hour": 0, "kwh_pv": None},
            {"ts_utc": last.start, "year": 1, "month": 1, "day": 1, "hour": 0, "kwh_pv": 7.77},
        ],
    )
    store.execute(
        "DELETE FROM enphase_production WHERE ts_utc < " + store.dialect.placeholder,
        (store.dialect.to_db(kept_null.end - timedelta(minutes=10)),),
    )
    store.commit()
    collect(settings, Request(), store, now_utc=now)
    rows = {r["ts_utc"]: r for r in stored(store)}
    assert rows[sentinel.start]["kwh_pv"] == 9.99  # a stored value is left alone
    assert rows[null_hour.start]["kwh_pv"] == pytest.approx(syn.truth[null_hour.start].kwh_pv, abs=TOL_KWH)
    assert rows[last.start]["kwh_pv"] == pytest.approx(syn.truth[last.start].kwh_pv, abs=TOL_KWH)
    assert kept_null.start not in rows  # cannot be computed: no row rather than a made-up one
    assert now.replace(minute=0) not in rows  # the running hour is not over
    assert len(rows) == 47  # 47 computable of the last 48, none invented
    assert all(h.start in rows for h in hour_list[1:])


def test_dry_run_prints_and_writes_nothing(store, db_url, tmp_path, capsys):
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    request = Request("range", start=datetime(2025, 6, 1, 12), end=datetime(2025, 6, 1, 15), dry_run=True)
    rows = collect(settings_for(tmp_path, db_url), request, store, now_utc=LATER)
    assert len(rows) == 3 and stored(store) == []
    from homepower.hourtable import format_table

    out = format_table(rows)
    assert "2025-06-01 12:00" in out and "2025-06-01 14:00" in out and "kwh_pv" in out
    assert "kwh_fc_p10" in out.splitlines()[0] and "kwh_fc_p90" in out.splitlines()[0]  # the band beside kwh_fc
    banded = dataclasses.replace(rows[0], kwh_fc=0.5, kwh_fc_p10=0.25, kwh_fc_p90=0.75)
    assert "0.250" in format_table([banded]) and "0.750" in format_table([banded])


# -- the script, end to end ------------------------------------------------------------------------
def script_env(tmp_path, db_url, meteo=None, log_level="INFO") -> dict:
    """The environment the collector tests run the scripts with."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(meteo or tmp_path / "absent.json"),
        "LOG_LEVEL": log_level,
        settings_mod.ENV_FILE: "none",  # not the developer's .env beside the scripts
    }


def run_script(tmp_path, db_url, *args, meteo=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), *args],
        env=script_env(tmp_path, db_url, meteo),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_script_end_to_end(store, db_url, tmp_path):
    syn = synth.generate(date(2025, 3, 30), 1, seed=9)
    store.upsert("enphase_production", syn.rows())
    meteo = write_meteo(tmp_path / "meteo.json", syn)
    done = run_script(tmp_path, db_url, "--from", "2025-03-30", "--to", "2025-03-31", meteo=meteo)
    assert done.returncode == 0, done.stderr
    store.commit()  # end the reader's snapshot (MariaDB REPEATABLE READ)
    rows = stored(store)
    assert_matches_truth(rows, syn)
    assert all(r["gr_w"] is not None for r in rows)

    dry = run_script(tmp_path, db_url, "--hour", "2025-03-30T13", "--dry-run", meteo=meteo)
    assert dry.returncode == 0 and "2025-03-30 13:00" in dry.stdout

    spring = run_script(tmp_path, db_url, "--hour", "2025-03-30T02", meteo=meteo)
    assert spring.returncode == 64 and "does not exist" in spring.stderr

    bad = tmp_path / "data.bad"
    bad.write_text('{"forecast": [')
    broken = run_script(tmp_path, db_url, "--hour", "2025-03-30T13", meteo=bad)
    assert broken.returncode == 65 and str(bad) in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--hour", "2025-06-01"],
        ["--hour", "tomorrow"],
        ["--from", "2025-06-02", "--to", "2025-06-01"],
        ["--from", "2025-06-01"],
        ["--hour", "2025-06-01T10", "--from", "2025-06-01", "--to", "2025-06-02"],
        ["--bogus"],
        # Found in review: the calendar's ends ended with 70 (OverflowError)
        ["--hour", "0001-01-01T00"],
        ["--hour", "9999-12-31T23"],
        ["--from", "0001-01-02", "--to", "0001-01-03"],
        ["--calibrate", "--from", "9999-12-01", "--to", "9999-12-31"],
    ],
)
def test_bad_usage_exits_64(tmp_path, args):
    done = run_script(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", *args)
    assert done.returncode == 64, done.stderr


def test_a_database_that_does_not_answer_exits_75_in_one_line_without_the_password(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run_script(tmp_path, f"mysql://hp:s3cret-pw@127.0.0.1:{port}/homepower", "--hour", "2025-06-01T13")
    assert done.returncode == 75, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "unavailable" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_a_real_recaptured_day_through_the_real_replay_and_collector(db_url, store, tmp_path):
    """The shared recapture (one /ivp/pdm/energy answer an hour from midnight, a real 12 x 405 Wp day near
    Rotterdam) through get_enphase_hour_measure.py --replay, then the collector with the sample forecast."""
    from conftest import shared_fixture

    recapture = shared_fixture("pdm_energy", "recapture_2025-03-05.json")
    lifetimes = [b["production"]["pcu"]["wattHoursLifetime"] for b in json.loads(recapture.read_text())["data"]]
    forecast = ROOT / "solar3p" / "data" / "data.rotterdam"
    env = script_env(tmp_path, db_url, forecast, log_level="WARNING")
    replay = subprocess.run(
        [
            sys.executable,
            str(ROOT / "get_enphase_hour_measure.py"),
            "--replay",
            str(recapture),
            "--start",
            "2025-03-05 00:00",
            "--step",
            "60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    done = subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), "--from", "2025-03-05", "--to", "2025-03-06"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    store.commit()
    rows = stored(store)
    assert [r["hour"] for r in rows] == list(range(24))
    want = [round((b - a) / 1000, 5) for a, b in zip(lifetimes, lifetimes[1:], strict=False)]
    assert [r["kwh_pv"] for r in rows[: len(want)]] == pytest.approx(want, abs=1e-5)
    assert all(r["kwh_pv"] is None for r in rows[len(want) :])  # no reading after 20:00: unknown, not 0
    assert sum(want) == pytest.approx(23.374)
    assert all(r["source"] == "pdm" for r in rows[: len(want)])
    if forecast.is_file():
        assert all(r["gr_w"] is not None for r in rows) and max(r["kwh_s3p"] for r in rows) > 0.5


def test_the_bulk_sample_read_gives_what_a_plain_fetch_gives(store):
    from homepower.store import SAMPLE_COLS, Sample

    syn = synth.generate(date(2025, 6, 1), 2, seed=8, source="inverters", meter=False)
    rows = syn.rows()
    rows[5] = dict(rows[5], wattHoursLifetime=None, source=None)
    rows[6] = dict(rows[6], whExportedLifetime=1234567.891)
    store.upsert("enphase_production", rows)
    start, end = datetime(2025, 5, 31, 12), datetime(2025, 6, 3)
    plain = [
        Sample(H.epoch_s(r["ts_utc"]), *[r[c] for c in SAMPLE_COLS[1:]])
        for r in store.fetch("enphase_production", SAMPLE_COLS, start, end)
    ]
    assert store.read_samples(start, end) == plain
    assert len(plain) > 500 and (plain[5].wh, plain[5].source) == (None, None) and plain[6].exported == 1234567.891


@pytest.mark.parametrize(
    "now,zone,want",
    [
        (datetime(2025, 6, 1, 10, 3), "Europe/Amsterdam", datetime(2025, 6, 1, 9)),
        (datetime(2025, 10, 26, 1, 3), "Europe/Amsterdam", datetime(2025, 10, 26, 0)),  # the first 02:00
        (datetime(2025, 10, 26, 2, 3), "Europe/Amsterdam", datetime(2025, 10, 26, 1)),  # the second 02:00
        (datetime(2025, 3, 30, 1, 3), "Europe/Amsterdam", datetime(2025, 3, 30, 0)),  # 01:00, before the skip
        (datetime(2025, 6, 1, 10, 7), "Asia/Kolkata", datetime(2025, 6, 1, 8, 30)),  # local hours at :30 UTC
    ],
)
def test_the_last_completed_hour(now, zone, want):
    from zoneinfo import ZoneInfo
    from homepower.collect import last_completed_start

    assert last_completed_start(now, ZoneInfo(zone)) == want


@pytest.mark.parametrize(
    "stamp", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S+00:00"]
)
def test_sqlite_samples_written_by_hand_in_other_iso_forms_are_read(tmp_path, stamp):
    """SQLite keeps DATETIME as the text inserted: rows written by another tool ("T", fractions, an
    offset) must give the same hours as ours, not a crash (found in review: exit 70)."""
    import sqlite3
    from homepower.store import Store

    syn = synth.generate(date(2025, 3, 29), 2, seed=21, noise=False, gap=(datetime(2025, 3, 29, 4, 0), 5.0))
    db = tmp_path / "hand.db"
    con = sqlite3.connect(db)
    con.executescript((ROOT / "sql" / "sqlite.sql").read_text())
    con.executemany(
        "INSERT INTO enphase_production (ts_utc, year, month, day, hour, minute, "
        "wattHoursLifetime, whExportedLifetime, source) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                r["ts_utc"].strftime(stamp),
                r["year"],
                r["month"],
                r["day"],
                r["hour"],
                r["minute"],
                r["wattHoursLifetime"],
                r["whExportedLifetime"],
                r["source"],
            )
            for r in syn.rows()
        ],
    )
    con.commit()
    con.close()
    settings = settings_for(tmp_path, f"sqlite:///{db}")
    with Store.connect(settings.database, settings.timezone) as store:
        collect(settings, day_range(date(2025, 3, 29), 2), store, now_utc=LATER)
        assert_matches_truth(stored(store), syn)
        # one hour alone reaches for the nearest samples outside its window (the 5-hour gap)
        alone = collect(settings, Request("hour", hour=datetime(2025, 3, 29, 8)), store, now_utc=LATER)
    assert alone[0].kwh_pv is not None and "long_gap" in alone[0].flags


@pytest.mark.parametrize(
    "ts_utc, wh",
    [("2025-03-29 25:00:00", 1000.0), ("2025-03-29T10:40:00+25:00", 1000.0), ("2025-03-29 10:40:00", "abc")],
)
def test_a_sqlite_row_another_tool_wrote_wrong_is_left_out_with_a_warning(tmp_path, caplog, ts_utc, wh):
    """Found in review: an hour 25 or a counter of text ended every run over it with 70."""
    import sqlite3

    from homepower.store import Store

    syn = synth.generate(date(2025, 3, 29), 1, seed=21, noise=False)
    settings = settings_for(tmp_path, f"sqlite:///{tmp_path / 'h.db'}")
    with Store.connect(settings.database, settings.timezone) as store:
        store.upsert("enphase_production", syn.rows())
    con = sqlite3.connect(tmp_path / "h.db")
    con.execute(
        "INSERT INTO enphase_production (ts_utc, year, month, day, hour, minute, wattHoursLifetime, source) "
        "VALUES (?, 2025, 3, 29, 10, 40, ?, 'eim')",
        (ts_utc, wh),
    )
    con.commit()
    con.close()
    with Store.connect(settings.database, settings.timezone) as store:
        with caplog.at_level("WARNING"):
            collect(settings, day_range(date(2025, 3, 29), 1), store, now_utc=LATER)
        assert_matches_truth(stored(store), syn)
    assert "left out 1 enphase_production row(s)" in caplog.text


def test_the_sql_files_run_statement_by_statement(store):
    """Setting up by hand (as acceptance scripts do) often splits sql/*.sql on ";": the generated header
    comment once held one and broke MariaDB's first statement (found in review)."""
    text = (ROOT / "sql" / ("mysql.sql" if store.dialect.kind == "mysql" else "sqlite.sql")).read_text()
    statements = [s for s in text.split(";") if s.strip()]
    assert len(statements) == len(schema.TABLES)
    for sql in statements:
        store.execute(sql)


def test_a_forecast_path_that_is_a_directory_is_a_bad_file_not_a_missing_one(store, db_url, tmp_path):
    """Found in review: a directory was reported as "does not exist" and the run went on with NULLs."""
    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    folder = tmp_path / "forecasts"
    folder.mkdir()
    with pytest.raises(DataError) as err:
        collect(settings_for(tmp_path, db_url, folder), day_range(date(2025, 6, 1), 1), store, now_utc=LATER)
    assert err.value.exit_code == 65 and str(folder) in str(err.value)


def test_a_far_to_builds_no_hour_after_now():
    """Found in review: --to 2400-01-01 built every hour until then first (718 MB), 9999 never ended."""
    from zoneinfo import ZoneInfo

    from homepower.collect import select_hours

    tz = ZoneInfo("Europe/Amsterdam")
    now = datetime(2025, 6, 1, 10, 30)
    hours = select_hours(Request("range", start=datetime(2025, 5, 30), end=datetime(2199, 1, 1)), tz, now)
    assert hours[0].start == datetime(2025, 5, 29, 22) and hours[-1].end <= now and len(hours) == 60


def test_output_a_reader_stopped_reading_ends_quietly_with_the_work_done(tmp_path):
    """`history_collector.py --calibrate --from --to | head -1` ended with 70 (BrokenPipeError): the
    backtest had stored its days before it printed."""
    code = (
        "import sys\n"
        "from solar3p.edge import run\n"
        "def body():\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "sys.exit(run(body, 'x'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
