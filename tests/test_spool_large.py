"""A database that was down for months leaves a long spool; the run that finds the database back stores
all of it in bounded memory (SPEC, exit codes: no input, however large, takes a script past 64 MiB above
its imports), measured over real sockets and a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

from fakes.harness import run_poller_measured
from poll_support import env_for

MIB = 1024 * 1024
LINES = 120_000  # about 14 months of 5-minute polls; ~32 MB of spool


def _write_spool(path, lines: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with open(path, "w", encoding="utf-8") as spool:
        for i in range(lines):
            body = {"wattHoursToday": 100.0 + i % 288, "wattHoursSevenDays": 5000.0, "wattHoursLifetime": 1e6 + i}
            line = {"ts": (start + timedelta(minutes=5 * i)).isoformat(), "body": {**body, "wattsNow": 500.0}}
            spool.write(json.dumps({**line, "source": "eim", "whExportedLifetime": 8e5 + i}) + "\n")


def test_a_months_long_spool_is_stored_in_bounded_memory(tmp_path, gateway, enlighten):
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten, ENVOY_INVERTERS="off")
    first, baseline = run_poller_measured(env)  # an ordinary poll: imports, TLS, SQLite
    assert first.code == 0, first.output
    _write_spool(tmp_path / "state" / "spool.jsonl", LINES)

    run, peak = run_poller_measured(env, timeout=300)

    assert run.code == 0, run.output
    assert f"stored {LINES} spooled reading(s)" in run.output
    db = sqlite3.connect(str(tmp_path / "state" / "homepower.db"))
    # Every spooled reading, and the two polls' own (one row when both fell in the same second).
    spooled = "ts_utc >= '2025-01-01' AND ts_utc < '2026-03-01'"
    assert db.execute(f"SELECT COUNT(*) FROM enphase_production WHERE {spooled}").fetchone()[0] == LINES
    assert db.execute(f"SELECT COUNT(*) FROM enphase_production WHERE NOT ({spooled})").fetchone()[0] in (1, 2)
    assert (tmp_path / "state" / "spool.jsonl").stat().st_size == 0
    assert peak < baseline + 64 * MIB, (peak / MIB, baseline / MIB)


def test_storing_a_long_spool_does_not_cost_the_panels_their_time(tmp_path, gateway, enlighten):
    """Storing the spool is the database's time, not the gateway's: the per-panel endpoints after it still
    get their ENVOY_TIMEOUT, and no warning blames a gateway that answered at once."""
    from conftest import shared_fixture

    gw = gateway(firmware_dir=shared_fixture("envoy", "8.2.4345_with_device_data"))
    env = env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="3")
    (tmp_path / "state").mkdir()
    _write_spool(tmp_path / "state" / "spool.jsonl", LINES)  # several seconds to store on any machine

    run, _ = run_poller_measured(env, timeout=300)

    assert run.code == 0, run.output
    assert "did not finish answering" not in run.output
    db = sqlite3.connect(str(tmp_path / "state" / "homepower.db"))
    assert db.execute("SELECT COUNT(*) FROM inverter_reading").fetchone()[0] > 0
