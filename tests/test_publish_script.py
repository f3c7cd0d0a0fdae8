"""pv_report.py --publish end to end, as cron runs it: an installation in the database (SQLite and MariaDB),
a real Mosquitto with a password file, and a subscriber reading back exactly what Home Assistant gets;
Predbat's reading of the Solcast-shaped sensors replayed on it; the database untouched."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import calib_synth as S
from homepower import schema
from homepower.calibration import calibration_row, forecast_kwh_fc
from solar3p import calibrate as C
from solar3p.meteo import MeteoRow
from solar3p.quantiles import hour_quantiles
from tests.fakes import mosquitto

pytestmark = pytest.mark.skipif(mosquitto.available() is not None, reason=str(mosquitto.available()))

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2025, 5, 15, 10, 0)  # naive UTC: 12:00 local on Thursday 15 May
TODAY_UTC = datetime(2025, 5, 14, 22)  # local midnight of May 15
NEW_ISSUE = datetime(2025, 5, 15, 9, 0)  # the newest download: from 06:00 UTC on (as Meteoserver starts)
OLD_ISSUE = datetime(2025, 5, 14, 18, 0)  # yesterday's: covered today's early hours
FORECAST_END = datetime(2025, 5, 17, 12, 0)  # the newest issue's last hour starts here (14:00 local May 17)
FITTED = datetime(2025, 5, 15, 2, 30)
PREDBAT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
SENSORS = ("pv_forecast_today", "pv_forecast_tomorrow", "pv_forecast_d3")


def run_env(tmp_path, db_url, **more) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "LOG_LEVEL": "INFO",
        "HOMEPOWER_ENV_FILE": "none",
    }
    env.update(more)
    return env


def run(tmp_path, db_url, *args, **more):
    env = run_env(tmp_path, db_url, **more)
    return subprocess.run(
        [sys.executable, str(ROOT / "pv_report.py"), "--publish", "--now", NOW.isoformat(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def forecast_row(r: dict, issued: datetime, provider: str, bump: float = 0.0) -> dict:
    return {
        "ts_utc": r["ts_utc"],
        "issued_utc": issued,
        "provider": provider,
        "gr_w": r["gr_w"] + bump,
        "tc": r["tc"],
        "temp": r["temp"],
    }


@pytest.fixture
def installation(store):
    """14 days of history, a calibration fitted on it last night, two archived forecast issues, a fresh
    reading. Returns what the forecast should be made of: {hour start UTC: the archived forecast row chosen},
    and the calibration."""
    h = S.generate(date(2025, 5, 1), 18, azimuth=180.0, tilt=35.0, seed=21)
    past = h.rows[: next(i for i, r in enumerate(h.rows) if r["ts_utc"] >= TODAY_UTC)]
    store.upsert("pvhistory", past)
    n = len(past)
    cal = C.fit(h.feat.take(slice(0, n)), h.kwh[:n], h.day[:n], S.given(135.0, 35.0))
    store.upsert("calibration", [calibration_row(cal, FITTED)])
    ahead = [r for r in h.rows if TODAY_UTC - timedelta(hours=4) <= r["ts_utc"] <= FORECAST_END]
    old = [forecast_row(r, OLD_ISSUE, "open-meteo", bump=40.0) for r in ahead if r["ts_utc"] < NOW]
    new = [forecast_row(r, NEW_ISSUE, "meteoserver") for r in ahead if r["ts_utc"] >= datetime(2025, 5, 15, 6)]
    store.store_forecasts(old + new)
    store.upsert(
        "enphase_production",
        [
            {
                "ts_utc": NOW - timedelta(minutes=4),
                "year": 2025,
                "month": 5,
                "day": 15,
                "hour": 11,
                "minute": 56,
                "wattHoursLifetime": 1000.0,
                "source": "eim",
            }
        ],
    )
    store.commit()
    chosen = {f["ts_utc"]: f for f in old}
    chosen.update({f["ts_utc"]: f for f in new})
    return chosen, cal, past[-1]


def snapshot(store, db_config) -> tuple:
    store.commit()
    tables = {}
    for table in schema.TABLES:
        cols = [c for c, _ in schema.TABLES[table]]
        rows = store.execute(f"SELECT {', '.join(store.q(c) for c in cols)} FROM {store.q(table)}", fetch=True)
        tables[table] = sorted(repr(tuple(r)) for r in rows)
    digest = None
    if db_config.kind == "sqlite":  # the file itself, once our own writes are checkpointed out of the WAL
        store.execute("PRAGMA wal_checkpoint(TRUNCATE)", fetch=True)
        digest = hashlib.sha256(db_config.path.read_bytes()).hexdigest()
    return tables, digest


@pytest.fixture
def broker(tmp_path):
    b = mosquitto.start(tmp_path / "broker")
    yield b
    b.stop()


def predbat_reads(retained: dict[str, bytes], sensors=SENSORS) -> tuple[list[dict], float, int]:
    """Predbat's fetch of HA-sensor forecasts (solcast.py): each sensor's detailedForecast entries joined,
    the unit factor from today's sum against today's state, the slot length from the first two entries."""
    data: list[dict] = []
    total_data = total_sensor = 0.0
    for key in sensors:
        attrs = json.loads(retained[f"homepower/{key}"])
        entries = attrs["detailedForecast"]
        data += entries
        if key == "pv_forecast_today":
            total_data = round(sum(e["pv_estimate"] for e in entries), 2)
            total_sensor = round(float(attrs["estimate"]), 2)
    factor = round(total_data / total_sensor, 1)
    t0, t1 = (datetime.strptime(e["period_start"], PREDBAT_TIME_FORMAT) for e in data[:2])
    return data, factor, int((t1 - t0).total_seconds() // 60)


def test_publish_gives_home_assistant_the_sensors_and_predbat_a_solcast_forecast(
    store, db_config, db_url, tmp_path, broker, installation
):
    chosen, cal, last_row = installation
    before = snapshot(store, db_config)
    done = run(tmp_path, db_url, MQTT_URL=broker.url())
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.strip().splitlines()) == 1 and "2025-05-15:" in done.stdout
    assert broker.users["alice"] not in done.stdout + done.stderr
    got = broker.retained(expect=10)
    assert set(got) == {f"homepower/{k}" for k in (*SENSORS, "pv_energy_last_hour", "problem")} | {
        f"homeassistant/sensor/homepower/{k}/config" for k in (*SENSORS, "pv_energy_last_hour")
    } | {"homeassistant/binary_sensor/homepower/problem/config"}
    assert all(len(p) < 16 * 1024 for p in got.values())

    # What the calibration forecasts for each chosen hour, through solar3p's own API (quantiles of rows)...
    def unix(t: datetime) -> int:
        return int(t.replace(tzinfo=timezone.utc).timestamp())

    starts = sorted(chosen)
    rows = [
        MeteoRow(
            unix(t),
            "",
            None,
            None,
            chosen[t]["temp"],
            None,
            chosen[t]["gr_w"],
            None,
            chosen[t]["tc"],
            None,
            None,
            None,
            None,
            None,
            issued=unix(chosen[t]["issued_utc"]),
        )
        for t in starts
    ]
    expect = {t: q.values for t, q in zip(starts, hour_quantiles(rows, cal, (0.1, 0.5, 0.9)), strict=True)}
    # ... and the median is kwh_fc as the collector computes it, to the digit
    kwh_fc = forecast_kwh_fc(
        [(0, cal)],
        [unix(t) for t in starts],
        [chosen[t]["gr_w"] for t in starts],
        [chosen[t]["temp"] for t in starts],
        [chosen[t]["tc"] for t in starts],
        [unix(chosen[t]["issued_utc"]) for t in starts],
    )
    # (None: the hours before today, which the calibration learned from)
    assert [q[1] for q, k in zip(expect.values(), kwh_fc, strict=True) if k is not None] == [
        k for k in kwh_fc if k is not None
    ]
    assert all(k is not None for t, k in zip(starts, kwh_fc, strict=True) if t >= TODAY_UTC)
    for key, day, hours in zip(SENSORS, (15, 16, 17), (24, 24, 15), strict=True):
        attrs = json.loads(got[f"homepower/{key}"])
        entries = attrs["detailedForecast"]
        assert attrs["date"] == f"2025-05-{day}" and len(entries) == hours == attrs["hours"]
        local = [datetime.fromisoformat(e["period_start"]) for e in entries]
        assert [t.hour for t in local] == list(range(hours)) and all(t.day == day for t in local)
        for t, e in zip(local, entries, strict=True):
            p10, p50, p90 = expect[t.astimezone(timezone.utc).replace(tzinfo=None)]
            assert (e["pv_estimate10"], e["pv_estimate"], e["pv_estimate90"]) == pytest.approx(
                (p10, p50, p90), abs=5e-4
            )
        assert attrs["estimate"] == pytest.approx(sum(e["pv_estimate"] for e in entries), abs=1e-9)
        for band in ("10", "90"):  # Solcast's day bands: the sums of the hourly quantiles
            assert attrs[f"estimate{band}"] == pytest.approx(sum(e[f"pv_estimate{band}"] for e in entries), abs=1e-9)
        assert all(e["pv_estimate10"] <= e["pv_estimate"] <= e["pv_estimate90"] for e in entries)
        assert attrs["estimate10"] < attrs["estimate"] < attrs["estimate90"]
    today = json.loads(got["homepower/pv_forecast_today"])["detailedForecast"]
    assert max(e["pv_estimate"] for e in today) > 1.0  # a May day on a 4.9 kWp roof

    data, factor, period = predbat_reads(got)
    assert factor == 1.0 and period == 60 and len(data) == 24 + 24 + 15

    config = json.loads(got["homeassistant/sensor/homepower/pv_forecast_today/config"])
    assert config["state_topic"] == config["json_attributes_topic"] == "homepower/pv_forecast_today"
    assert config["value_template"] == "{{ value_json.estimate }}" and config["device"]["name"] == "homepower"

    last = json.loads(got["homepower/pv_energy_last_hour"])
    assert last["kwh"] == pytest.approx(last_row["kwh_pv"], abs=1e-4)
    assert last["hour_start"] == "2025-05-14T23:00:00+02:00"
    problem = json.loads(got["homepower/problem"])
    assert problem["problem"] == "OFF" and problem["exit_code"] == 0, problem

    assert snapshot(store, db_config) == before  # nothing written, not even a table created


def test_the_problem_sensor_follows_status(store, db_url, tmp_path, broker, installation):
    store.execute(f"DELETE FROM {store.q('enphase_production')}")
    store.commit()
    status = subprocess.run(
        [sys.executable, str(ROOT / "pv_report.py"), "--status", "--now", NOW.isoformat()],
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": db_url,
            "STATE_DIR": str(tmp_path / "state"),
            "SITE_TIMEZONE": "Europe/Amsterdam",
            "HOMEPOWER_ENV_FILE": "none",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    done = run(tmp_path, db_url, MQTT_URL=broker.url())
    assert done.returncode == 0, done.stderr
    problem = json.loads(broker.retained(expect=10)["homepower/problem"])
    assert problem["problem"] == "ON" and problem["exit_code"] == status.returncode == 69
    assert "readings" in problem["reason"] and problem["reason"] in " ".join(status.stderr.split())


def test_without_discovery_prefix_only_the_states_are_sent(store, db_url, tmp_path, broker, installation):
    done = run(tmp_path, db_url, MQTT_URL=broker.url(), HA_DISCOVERY_PREFIX="", MQTT_PREFIX="house/pv")
    assert done.returncode == 0, done.stderr
    got = broker.retained()
    assert sorted(got) == sorted(f"house/pv/{k}" for k in (*SENSORS, "pv_energy_last_hour", "problem"))


def test_without_mqtt_url_it_is_78_saying_what_to_set(store, db_url, tmp_path):
    done = run(tmp_path, db_url)
    assert done.returncode == 78 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "MQTT_URL" in done.stderr and "mqtt://" in done.stderr


@pytest.mark.parametrize("case", ["password", "down"])
def test_broker_faults_are_one_line_without_the_password(store, db_url, tmp_path, broker, installation, case):
    before = snapshot(store, type("C", (), {"kind": "none"})())
    if case == "password":
        done = run(tmp_path, db_url, MQTT_URL=broker.url("alice", "Wr0ng-pass"))
        assert done.returncode == 77
    else:
        broker.stop()
        done = run(tmp_path, db_url, MQTT_URL=broker.url())
        assert done.returncode == 69
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    for secret in ("Wr0ng-pass", broker.users["alice"]):
        assert secret not in done.stderr
    assert snapshot(store, type("C", (), {"kind": "none"})()) == before


def test_plain_mqtt_to_a_tls_port_is_one_line_hinting_at_mqtts(store, db_url, tmp_path, installation):
    b = mosquitto.start(tmp_path / "tls-broker", tls=True)
    try:
        done = run(tmp_path, db_url, MQTT_URL=f"mqtt://alice:{b.users['alice']}@127.0.0.1:{b.tls_port}")
    finally:
        b.stop()
    assert done.returncode == 69 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "mqtts://" in lines[0] and "refused" not in lines[0], done.stderr
    assert b.users["alice"] not in done.stderr


def test_before_any_calibration_the_forecast_waits_and_the_rest_is_published(
    store, db_url, tmp_path, broker, installation
):
    store.execute(f"DELETE FROM {store.q('calibration')}")
    store.commit()
    done = run(tmp_path, db_url, MQTT_URL=broker.url())
    assert done.returncode == 78 and "history_collector.py --calibrate" in done.stderr
    got = broker.retained()
    assert "homepower/problem" in got and "homepower/pv_energy_last_hour" in got
    assert not any(f"homepower/{k}" in got for k in SENSORS)  # no uncalibrated number dressed as calibrated


def test_a_database_that_does_not_answer_is_75_and_home_assistant_sees_the_problem(tmp_path, broker):
    port = mosquitto.free_port()  # nothing listens there: no database server
    done = run(tmp_path, f"mysql://hp:db-s3cret@127.0.0.1:{port}/homepower", MQTT_URL=broker.url())
    assert done.returncode == 75, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "db-s3cret" not in done.stderr + done.stdout
    got = broker.retained()
    problem = json.loads(got["homepower/problem"])
    assert problem["problem"] == "ON" and problem["exit_code"] == 75 and "db-s3cret" not in problem["reason"]
    assert "homeassistant/binary_sensor/homepower/problem/config" in got
    assert not any(f"homepower/{k}" in got for k in SENSORS)  # the forecasts are left as they were


def test_even_at_debug_the_password_is_in_no_output(store, db_url, tmp_path, broker, installation):
    done = run(tmp_path, db_url, MQTT_URL=broker.url(), LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    assert "CONNECT" in done.stderr  # paho's packet log is there
    assert broker.users["alice"] not in done.stdout + done.stderr
    assert "wonder" not in done.stdout + done.stderr


@pytest.mark.parametrize("layout", ["original", "table_missing"])
def test_publishing_never_creates_or_upgrades_tables(tmp_path, broker, layout):
    """--publish writes nothing to the database: it used to create missing tables and upgrade the original
    layout in place (through the status check) before anything else ran."""
    import sqlite3

    path = tmp_path / "homepower.db"
    with sqlite3.connect(path) as conn:
        if layout == "original":  # the layout of the scripts this project grew from: Wh, no ts_utc
            conn.execute(
                "CREATE TABLE pvhistory (year INT, month INT, day INT, hour INT, wh_pv INT, wh_s3p INT, "
                "wh_return INT, PRIMARY KEY (year, month, day, hour))"
            )
            conn.execute("INSERT INTO pvhistory VALUES (2025, 5, 14, 12, 2500, 2300, 900)")
        else:  # a database from before a table was added: the next poll creates it, not the publisher
            for table in schema.TABLES:
                if table != "pv_forecast":
                    conn.execute(schema.create_sql(table, "sqlite"))

    def dump() -> list[str]:  # schema and rows (the file's header may change: SQLite's WAL mode is set)
        with sqlite3.connect(path) as conn:
            return list(conn.iterdump())

    before = dump()
    done = run(tmp_path, f"sqlite:///{path}", MQTT_URL=broker.url())
    assert dump() == before
    assert done.returncode == 78, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "history_collector.py" in lines[0], done.stderr
    problem = json.loads(broker.retained()["homepower/problem"])
    assert problem["problem"] == "ON" and problem["exit_code"] == 78


def test_kwh_fc_the_published_median_and_solar3p_are_one_number_at_dawn_and_dusk_too(
    store, db_url, tmp_path, broker, installation
):
    """One function makes the median (solar3p.quantiles.calibrated_kwh): the collector's kwh_fc, the
    published pv_estimate and python -m solar3p --quantiles 0.5 agree for every hour of the same forecast."""
    chosen, cal, _ = installation

    def unix(t: datetime) -> int:
        return int(t.replace(tzinfo=timezone.utc).timestamp())

    newest = {t: f for t, f in chosen.items() if f["issued_utc"] == NEW_ISSUE}
    doc = {
        "plaatsnaam": [{"plaats": "Rotterdam"}],
        "issued": str(unix(NEW_ISSUE)),
        "provider": "meteoserver",
        "forecast": [
            {"time": str(unix(t)), "gr_w": repr(f["gr_w"]), "tc": repr(f["tc"]), "temp": repr(f["temp"])}
            for t, f in sorted(newest.items())
        ],
    }
    meteo = tmp_path / "meteo.json"
    meteo.write_text(json.dumps(doc))
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(cal.as_json()))
    env = {"METEO_FILE": str(meteo), "PV_ORIENTATION": "SE", "PV_TILT": "35"}
    done = run(tmp_path, db_url, MQTT_URL=broker.url(), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    got = broker.retained(expect=10)
    published = {}
    for key in SENSORS:
        for e in json.loads(got[f"homepower/{key}"])["detailedForecast"]:
            start = datetime.fromisoformat(e["period_start"]).astimezone(timezone.utc).replace(tzinfo=None)
            published[start] = (e["pv_estimate10"], e["pv_estimate"], e["pv_estimate90"])
    collected = subprocess.run(
        [sys.executable, str(ROOT / "history_collector.py"), "--from", "2025-05-16", "--to", "2025-05-17T15"],
        env={**run_env(tmp_path, db_url), **env, "LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    store.commit()
    rows = {
        r["ts_utc"]: tuple(None if r[c] is None else float(r[c]) for c in ("kwh_fc_p10", "kwh_fc", "kwh_fc_p90"))
        for r in store.fetch("pvhistory", ("ts_utc", "kwh_fc", "kwh_fc_p10", "kwh_fc_p90"))
        if r["ts_utc"] >= TODAY_UTC + timedelta(days=1)
    }
    shown = subprocess.run(
        [sys.executable, "-m", "solar3p", "--file", str(meteo), "--calibration", str(path)]
        + ["--quantiles", "0.1,0.5,0.9", "--format", "json"],
        env={**run_env(tmp_path, db_url), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert shown.returncode == 0, shown.stderr
    solar3p = {
        datetime.fromisoformat(r["hour_start"]).astimezone(timezone.utc).replace(tzinfo=None): r
        for r in json.loads(shown.stdout)
    }
    hours = sorted(rows)
    assert len(hours) == 24 + 15 and all(rows[t][1] is not None for t in hours)
    for t in hours:
        q = solar3p[t]["kwh_fc_quantiles"]
        assert rows[t][1] == solar3p[t]["kwh_fc"] == q["0.5"], t
        assert rows[t] == (q["0.1"], q["0.5"], q["0.9"]), t
        assert published[t] == tuple(round(v, 4) for v in rows[t]), t
    # Dawn and dusk are among them: hours with a little light, before and after the day's peak.
    light = [t for t in hours if 0 < rows[t][1] < 0.1]
    peak = max(hours[:24], key=lambda t: rows[t][1])
    assert any(t < peak for t in light) and any(peak < t < hours[24] for t in light)


def test_forecast_hours_without_irradiance_are_left_out_with_one_warning(installation, caplog):
    """Meteoserver writes '-' for a value it lacks: that hour cannot be forecast, and the day totals Home
    Assistant shows are short of it, so the owner is told which hour is missing."""
    from zoneinfo import ZoneInfo

    from homepower.forecast_join import ArchivedForecast
    from homepower.publisher import hour_forecasts

    chosen, cal, _ = installation
    rows = [
        ArchivedForecast(t, f["issued_utc"], f["provider"], f["gr_w"], f["tc"], f["temp"])
        for t, f in sorted(chosen.items())
    ]
    tz = ZoneInfo("Europe/Amsterdam")
    caplog.set_level("WARNING")
    whole = hour_forecasts(rows, cal, tz)
    assert not [r for r in caplog.records if "left out" in r.getMessage()]
    noon = next(i for i, r in enumerate(rows) if r.ts_utc.hour == 10 and r.ts_utc > TODAY_UTC + timedelta(days=1))
    rows[noon] = dataclasses.replace(rows[noon], gr_w=None)
    short = hour_forecasts(rows, cal, tz)
    assert len(short) == len(whole) - 1
    said = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    first = rows[noon].ts_utc.replace(tzinfo=timezone.utc).astimezone(tz).isoformat(timespec="minutes")
    assert len(said) == 1 and "1 forecast hour(s)" in said[0] and first in said[0], said
