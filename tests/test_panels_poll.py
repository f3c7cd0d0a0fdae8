"""The poll's per-panel part, as cron runs it: a whole process against the fake HTTPS gateway (recorded
firmwares, or a live roof of micro-inverters) and the fake Enlighten. The reading comes first: whatever the
per-panel endpoints do costs at most one warning line, never the reading or its exit code."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import ENVOY_FIXTURES, shared_fixture
from fakes.harness import run_poller
from fakes.roof import Roof
from poll_support import env_for, own_bodies, rows

FOLDERS = sorted(p.name for p in ENVOY_FIXTURES.iterdir() if p.is_dir()) if ENVOY_FIXTURES.is_dir() else []
INVERTERS = "/api/v1/production/inverters"
DEVICE_DATA = "/ivp/pdm/device_data"


def table(db: Path, name: str) -> list[dict]:
    conn = sqlite3.connect(str(db))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {name} ORDER BY serial")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def panel_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "WARNING homepower.panels" in line]


def expected_reports(folder: Path) -> dict[str, int]:
    """serial -> lastReportDate of the recorded micro-inverters that have reported (devType 1, or none given
    below firmware 4.10; 11 is an AC battery)."""
    data = json.loads((folder / "api_v1_production_inverters").read_text())
    if not isinstance(data, list):
        return {}
    return {e["serialNumber"]: e["lastReportDate"] for e in data if e.get("devType", 1) == 1 and e["lastReportDate"]}


def expected_intervals(folder: Path) -> dict[str, int]:
    path = folder / "ivp_pdm_device_data"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    out = {}
    for device in data.values():
        if not isinstance(device, dict) or device["devName"] != "pcu" or not device["active"]:
            continue
        reading = device["channels"][0]["lastReading"]
        if reading:
            out[device["sn"]] = reading["joulesProduced"]
    return out


@pytest.mark.parametrize("name", FOLDERS or ["(no ../shared)"])
def test_every_recorded_firmware_stores_its_panels(name, tmp_path, gateway, enlighten):
    folder = shared_fixture("envoy", name)
    # Below firmware 7 the per-panel endpoint wants digest (user envoy, the serial's last 6 digits).
    gw = gateway(firmware_dir=folder, require_cookie=True, digest_paths=(INVERTERS,))
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    db = tmp_path / "state" / "homepower.db"
    assert len(rows(db)) == 1  # the reading first, whatever the panels did
    stored = {r["serial"]: r for r in table(db, "inverter_reading")}
    want = expected_reports(folder) if (folder / "api_v1_production_inverters").exists() else {}
    assert set(stored) == set(want)
    for serial, report in want.items():
        assert stored[serial]["report_utc"] == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(report))
    energy = {r["serial"]: r for r in table(db, "inverter_energy")}
    want_energy = expected_intervals(folder)
    assert set(energy) == set(want_energy)
    for serial, joules in want_energy.items():
        assert energy[serial]["wh"] == pytest.approx(joules / 3600)
    asked = [r["path"] for r in gw.requests]
    if (folder / "api_v1_production_inverters").exists() and asked.count(INVERTERS) == 0:
        pytest.fail("the per-panel endpoint was not asked")
    if name == "3.9.36_bad_auth":  # a wrong digest password: told once, the reading stored
        assert len(panel_warnings(run.stderr)) == 1 and "refused" in run.stderr
    else:
        assert panel_warnings(run.stderr) == [], run.stderr
    firmware = tuple(int(p) for p in name.split("_")[0].split("."))
    if firmware < (8, 2, 4345):  # firmware before device_data is not asked for it (7.x: 20-30 s an answer)
        assert DEVICE_DATA not in asked


def test_a_report_seen_by_several_polls_is_one_row(tmp_path, gateway, enlighten):
    now = [time.time()]
    roof = Roof.planes([(5, 90, 30), (5, 270, 30)], clock=lambda: now[0])
    gw = gateway(roof=roof)
    env = env_for(tmp_path, gw, enlighten)
    db = tmp_path / "state" / "homepower.db"
    assert run_poller(env).code == 0
    first = table(db, "inverter_reading")
    assert run_poller(env).code == 0  # nothing reported in between: nothing new
    assert table(db, "inverter_reading") == first
    now[0] += 600  # ten minutes on: the 5-minute inverters reported, the 15-minute ones maybe not
    run = run_poller(env)
    assert run.code == 0, run.output
    stored = table(db, "inverter_reading")
    expected = sum(1 for p in roof.panels if roof.last_report(p, now[0]) != roof.last_report(p, now[0] - 600))
    assert len(stored) == len(first) + expected
    keys = [(r["serial"], r["report_utc"]) for r in stored]
    assert len(keys) == len(set(keys))
    # the poll that first saw a report stays its ts_utc
    kept = {(r["serial"], r["report_utc"]): r["ts_utc"] for r in stored}
    assert all(kept[(r["serial"], r["report_utc"])] == r["ts_utc"] for r in first)


def test_a_dead_inverter_keeps_its_ageing_report_and_adds_no_row(tmp_path, gateway, enlighten):
    now = [time.time()]
    roof = Roof.planes([(4, 180, 35)], clock=lambda: now[0])
    dead = roof.panels[0]
    dead.dies_at = now[0] - 3600
    gw = gateway(roof=roof)
    env = env_for(tmp_path, gw, enlighten)
    db = tmp_path / "state" / "homepower.db"
    for _ in range(3):
        assert run_poller(env).code == 0
        now[0] += 900
    mine = [r for r in table(db, "inverter_reading") if r["serial"] == dead.serial]
    assert len(mine) <= 1  # its last report (if the sun was up before it died), once


def test_device_data_cut_at_its_limit_stores_the_listed_and_every_report(tmp_path, gateway, enlighten):
    roof = Roof.planes([(30, 180, 35)], device_limit=20)
    gw = gateway(roof=roof)
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    db = tmp_path / "state" / "homepower.db"
    reported = [p for p in roof.panels if roof.last_report(p, time.time())]
    assert len(table(db, "inverter_reading")) == len(reported)
    assert len(table(db, "inverter_energy")) <= 20  # the meters count toward the limit; no meter is a panel
    assert all(r["serial"].startswith("4822") for r in table(db, "inverter_energy"))


def test_inverters_off_asks_nothing(tmp_path, gateway, enlighten):
    gw = gateway(roof=Roof.planes([(3, 180, 35)]))
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_INVERTERS="off"))
    assert run.code == 0, run.output
    assert not {INVERTERS, DEVICE_DATA} & {r["path"] for r in gw.requests}
    assert table(tmp_path / "state" / "homepower.db", "inverter_reading") == []


def test_inverters_setting_other_than_on_off_is_78(tmp_path, gateway, enlighten):
    run = run_poller(env_for(tmp_path, gateway(), enlighten, ENVOY_INVERTERS="maybe"))
    assert run.code == 78 and "ENVOY_INVERTERS" in run.stderr


def test_a_gateway_without_them_costs_nothing(tmp_path, gateway, enlighten):
    gw = gateway(bodies=own_bodies("D8.2.4345"))  # no per-panel bodies: 404
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    assert panel_warnings(run.stderr) == []
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1


@pytest.mark.parametrize(
    "fault, words",
    [
        ("401", "refused"),
        ("500", "HTTP 500"),
        ("503", "HTTP 503"),
        ("html200", "HTML"),
        ("truncated", "not JSON"),
        ("deep", "nested too deep"),
        ("huge", "more than"),
        ("cutoff", "cut off"),
        ("wrongtype", None),
    ],
)
def test_a_failing_panel_endpoint_is_one_warning_and_the_reading_stands(fault, words, tmp_path, gateway, enlighten):
    roof = Roof.planes([(6, 180, 35)])
    gw = gateway(roof=roof)
    gw.fault(INVERTERS, fault)
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    db = tmp_path / "state" / "homepower.db"
    assert len(rows(db)) == 1
    warned = panel_warnings(run.stderr)
    if fault == "wrongtype":  # the lifetimes as strings: the per-panel body has none, it is stored
        assert warned == [] and len(table(db, "inverter_reading")) > 0
        return
    assert len(warned) == 1, run.stderr
    assert words in warned[0] and "reading is stored" in warned[0] and "nothing stored" not in warned[0]
    assert table(db, "inverter_reading") == []
    assert DEVICE_DATA not in [r["path"] for r in gw.requests]  # a failing gateway is not asked more


def test_garbage_in_device_data_keeps_the_reports_and_says_so(tmp_path, gateway, enlighten):
    gw = gateway(roof=Roof.planes([(6, 180, 35)]))
    gw.fault(DEVICE_DATA, "truncated")
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    db = tmp_path / "state" / "homepower.db"
    stored = len(table(db, "inverter_reading"))
    assert stored > 0 and table(db, "inverter_energy") == []
    (warned,) = panel_warnings(run.stderr)
    # what was stored and what was not: not "skipped", which read as if the reports were lost too
    assert f"stored {stored} panel report(s) ({stored} new); not stored: " in warned, warned
    assert DEVICE_DATA in warned.split("not stored: ")[1] and "skipped" not in warned


class TamperedRoof(Roof):
    """A roof whose gateway garbles one micro-inverter's entry in /api/v1/production/inverters."""

    tamper: dict = {}

    def inverters_body(self, now=None):
        entries = json.loads(super().inverters_body(now))
        entries[1].update(self.tamper)
        return json.dumps(entries)


@pytest.mark.parametrize(
    "tamper, why",
    [
        ({"lastReportWatts": -400}, "below -50"),
        ({"lastReportWatts": 5000, "maxReportWatts": 6000}, "beyond the plausible"),
        ({"lastReportWatts": 400, "maxReportWatts": 300}, "above its maxReportWatts"),
        ({"lastReportDate": int(time.time()) + 30 * 86400}, "after this poll"),
        ({"lastReportDate": "yesterday"}, "not a number"),
    ],
)
def test_one_implausible_inverter_entry_is_left_out_the_others_stored(tamper, why, tmp_path, gateway, enlighten):
    roof = TamperedRoof.planes([(6, 180, 35)])
    roof.tamper = tamper
    gw = gateway(roof=roof)
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    bad = roof.panels[1].serial
    stored = {r["serial"] for r in table(tmp_path / "state" / "homepower.db", "inverter_reading")}
    assert stored == {p.serial for p in roof.panels} - {bad}
    (warned,) = panel_warnings(run.stderr)
    assert f"1 implausible entry left out ({INVERTERS} {bad}: " in warned and why in warned, warned
    assert enlighten.password not in run.stderr and "stored 5 panel report(s)" in warned


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_a_slow_panel_endpoint_is_cut_at_envoy_timeout(fault, tmp_path, gateway, enlighten):
    gw = gateway(roof=Roof.planes([(6, 180, 35)]), trickle_s=0.5)
    gw.fault(INVERTERS, fault)
    started = time.monotonic()
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="3", ENVOY_RETRY_S="60"))
    took = time.monotonic() - started
    assert run.code == 0, run.output
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1
    (warned,) = panel_warnings(run.stderr)
    assert "within 3 s (ENVOY_TIMEOUT" in warned
    assert took < 20  # not ENVOY_RETRY_S of retries: a slow per-panel answer is not waited out
    assert [r["path"] for r in gw.requests].count(INVERTERS) == 1


def test_a_panel_endpoint_cut_by_the_runs_deadline_says_so(tmp_path, gateway, enlighten):
    # ENVOY_RETRY_S=0: the run's limit is ENVOY_TIMEOUT, and the reading (0.3 s a request) used part of it
    gw = gateway(roof=Roof.planes([(6, 180, 35)]), delay=0.3)
    gw.fault(INVERTERS, "hang")
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="4", ENVOY_RETRY_S="0"))
    assert run.code == 0, run.output
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1
    (warned,) = panel_warnings(run.stderr)
    found = re.search(
        r"within ([\d.]+) s \(what was left of the run's limit, ENVOY_RETRY_S \+ ENVOY_TIMEOUT = 4 s, after "
        r"([\d.]+) s on the reading;",
        warned,
    )
    assert found, warned
    left, spent = float(found[1]), float(found[2])
    assert spent >= 0.9 and left == pytest.approx(4 - spent, abs=0.15)
    assert "(ENVOY_TIMEOUT" not in warned


def test_panels_on_mariadb_too(tmp_path, gateway, enlighten, mysql_database):
    roof = Roof.planes([(4, 90, 30), (4, 270, 30)])
    gw = gateway(roof=roof)
    env = env_for(tmp_path, gw, enlighten, DATABASE_URL=mysql_database.url())
    assert run_poller(env).code == 0
    run = run_poller(env)
    assert run.code == 0, run.output
    from zoneinfo import ZoneInfo

    from homepower.store import Store

    with Store.connect(mysql_database, ZoneInfo("UTC")) as store:
        spans = store.panel_spans()
        energy = store.execute("SELECT COUNT(*) FROM inverter_energy", fetch=True)[0][0]
    reported = [p for p in roof.panels if roof.last_report(p, time.time())]
    assert len(spans) == len(reported) and energy == len(reported)


def test_a_database_that_is_down_spools_the_reading_and_asks_no_panel(tmp_path, gateway, enlighten):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = gateway(roof=Roof.planes([(4, 180, 35)]))
    run = run_poller(env_for(tmp_path, gw, enlighten, DATABASE_URL=f"mysql://hp@127.0.0.1:{port}/homepower"))
    assert run.code == 75, run.output
    assert (tmp_path / "state" / "spool.jsonl").read_text().count("\n") == 1
    assert INVERTERS not in [r["path"] for r in gw.requests]
