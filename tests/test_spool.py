"""Nothing lost: the durable spool (torn lines, idempotent drain), a database that is down, the run lock
and concurrent runs."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest

from fakes.gateway import FakeGateway, info_xml
from fakes.harness import PYTHON, SCRIPT, poller_env, run_poller
from homepower import lock, spool
from homepower.errors import LockTimeout
from homepower.gateway.parse import Grid, Values
from homepower.reading import Reading

SERIAL = "122233445566"
V1 = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3000, "wattsNow": 4}'
DB_DOWN = "mysql://root@127.0.0.1:1/test"  # nothing listens on port 1


def reading(second: int, lifetime: float = 1000.0) -> Reading:
    ts = datetime(2025, 3, 5, 12, 0, second, 250000, tzinfo=timezone.utc)
    return Reading.of(ts, "eim", Values(1.0, 2.0, lifetime, 3.0), Grid(exported=9.5, imported=4.25))


@pytest.fixture
def gateway(tmp_path):
    with FakeGateway(
        bodies={"/info": info_xml(SERIAL, "D5.0.62", False), "/api/v1/production": V1}, workdir=tmp_path / "certs"
    ) as gw:
        yield gw


def stored(db_config):
    from zoneinfo import ZoneInfo
    from homepower.store import Store

    with Store.connect(db_config, ZoneInfo("Europe/Amsterdam")) as store:
        return store.fetch("enphase_production", ["ts_utc", "wattHoursLifetime", "source"])


# -- the file itself -------------------------------------------------------------------------------


def test_append_and_read_back_round_trip(tmp_path):
    spool.append(tmp_path, [reading(1), reading(2, 2000.0)])
    got, bad, torn = spool.read(tmp_path)
    assert bad == [] and torn is None and got == [reading(1), reading(2, 2000.0)]
    assert got[0].ts_utc.microsecond == 0 and got[0].whExportedLifetime == 9.5
    assert (got[0].whImportedLifetime, got[0].whConsumedLifetime) == (4.25, None)
    assert (tmp_path / "spool.jsonl").stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_set_aside_by_the_next_append_and_never_read(tmp_path):
    spool.append(tmp_path, [reading(1)])
    cut = reading(2).to_line()[:25]
    with open(tmp_path / "spool.jsonl", "ab") as handle:  # a crash in the middle of a write
        handle.write(cut.encode())
    assert spool.read(tmp_path) == ([reading(1)], [], cut)
    spool.append(tmp_path, [reading(3)])
    assert spool.read(tmp_path) == ([reading(1), reading(3)], [], None)
    assert (tmp_path / "spool.rejected").read_text() == cut + "\n"
    spool.clear(tmp_path, [])
    assert spool.read(tmp_path) == ([], [], None)


def test_a_run_killed_mid_write_leaves_a_tail_the_next_run_sets_aside_exit_0(tmp_path, gateway, db_url, db_config):
    """Every whole line is stored, the torn tail is kept in spool.rejected with one warning line, and the
    run succeeds: the normal trace of a crash is no error (65 stays for a whole line not understood)."""
    state = tmp_path / "state"
    spool.append(state, [reading(1), reading(2)])
    with open(state / "spool.jsonl", "ab") as handle:
        handle.write(reading(3).to_line().encode()[:40])
    run = run_poller(poller_env(state, gateway, DATABASE_URL=db_url, LOG_LEVEL="WARNING"))
    assert run.code == 0, run.output
    assert len(stored(db_config)) == 3  # the two whole lines and the new reading
    warned = [line for line in run.stderr.splitlines() if "spool.rejected" in line]
    assert len(warned) == 1 and "cut short" in warned[0], run.stderr
    assert (state / "spool.jsonl").read_text() == ""
    assert (state / "spool.rejected").read_text() == reading(3).to_line()[:40] + "\n"


def test_lock_waits_then_times_out(tmp_path):
    with lock.hold(tmp_path):
        with pytest.raises(LockTimeout) as err:
            with lock.hold(tmp_path, wait_s=0.3):
                pass
        assert err.value.exit_code == 75
    with lock.hold(tmp_path, wait_s=0.3):  # released
        pass


# -- a database that is down ---------------------------------------------------------------------------


def test_database_down_spools_then_the_next_run_stores_it(tmp_path, gateway, db_url, db_config):
    env = poller_env(tmp_path / "state", gateway, DATABASE_URL=DB_DOWN)
    first = run_poller(env)
    assert first.code == 75, first.output
    assert "spool" in first.stderr
    lines = (tmp_path / "state" / "spool.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["body"]["wattHoursLifetime"] == 3000
    time.sleep(1.1)  # the next poll falls in another second (the same second would replace the row)
    second = run_poller(poller_env(tmp_path / "state", gateway, DATABASE_URL=db_url))
    assert second.code == 0, second.output
    rows = stored(db_config)
    assert len(rows) == 2 and {r["source"] for r in rows} == {"v1"}
    assert (tmp_path / "state" / "spool.jsonl").read_text() == ""


def test_a_spool_that_cannot_be_written_is_a_configuration_error_in_one_line(tmp_path, gateway):
    (tmp_path / "state" / "spool.jsonl").mkdir(parents=True)  # as unusable as a root-owned file, for root too
    run = run_poller(poller_env(tmp_path / "state", gateway, DATABASE_URL=DB_DOWN))
    assert run.code == 78, run.output
    assert "spool" in run.stderr and "unavailable" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_spool_is_stored_first_even_when_the_gateway_is_down(tmp_path, gateway, db_url, db_config):
    spool.append(tmp_path / "state", [reading(1), reading(2)])
    gateway.stop()
    run = run_poller(poller_env(tmp_path / "state", gateway, DATABASE_URL=db_url))
    assert run.code == 69, run.output
    assert len(stored(db_config)) == 2
    assert spool.read(tmp_path / "state") == ([], [], None)


def test_draining_twice_is_one_row_per_second(tmp_path, gateway, db_url, db_config):
    spool.append(tmp_path / "state", [reading(1), reading(1, 1500.0), reading(2)])
    # a crash after the commit and before the spool was emptied: the same lines are stored again
    assert run_poller(poller_env(tmp_path / "state", gateway, DATABASE_URL=db_url)).code == 0
    spool.append(tmp_path / "state", [reading(1, 1500.0), reading(2)])
    assert run_poller(poller_env(tmp_path / "state", gateway, DATABASE_URL=db_url)).code == 0
    rows = [r for r in stored(db_config) if r["ts_utc"].year == 2025]
    assert [r["wattHoursLifetime"] for r in rows] == [1500.0, 1000.0]


def test_concurrent_runs_all_succeed(tmp_path, gateway, db_url, db_config):
    env = poller_env(tmp_path / "state", gateway, DATABASE_URL=db_url)
    assert run_poller(env).code == 0  # pins the certificate first
    procs = [
        subprocess.Popen([PYTHON, str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close(), p.stderr.close()
    assert [code for code, _ in results] == [0] * 6, results
    rows = stored(db_config)
    assert 1 <= len(rows) <= 7 and len({r["ts_utc"] for r in rows}) == len(rows)
