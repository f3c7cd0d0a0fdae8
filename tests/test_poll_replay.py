"""``--replay``: JSON lines of any supported body, the spool's own lines, the original recapture layout
with --start/--step; a malformed file stores nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import shared_fixture
from fakes.harness import poller_env, run_poller
from homepower.gateway.parse import Grid, Values
from homepower.reading import Reading

TZ = ZoneInfo("Europe/Amsterdam")
V1 = {"wattHoursToday": 100, "wattHoursSevenDays": 700, "wattHoursLifetime": 5000, "wattsNow": 50}
PDM = {
    "production": {
        "pcu": {"wattHoursToday": 10, "wattHoursSevenDays": 70, "wattHoursLifetime": 6000, "wattsNow": 5},
        "eim": {"wattHoursToday": 0, "wattHoursSevenDays": 0, "wattHoursLifetime": 0, "wattsNow": 0},
    }
}
PRODUCTION = {
    "production": [
        {"type": "inverters", "activeCount": 3, "wNow": 1, "whLifetime": 7000},
        {"type": "eim", "activeCount": 1, "wNow": 2.5, "whLifetime": 7100.5, "whToday": 3.5, "whLastSevenDays": 4.5},
    ]
}


def stored(db_config):
    from homepower.store import Store

    with Store.connect(db_config, TZ) as store:
        return store.fetch(
            "enphase_production",
            [
                "ts_utc",
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "wattHoursLifetime",
                "whExportedLifetime",
                "whImportedLifetime",
                "whConsumedLifetime",
                "source",
            ],
        )


def write_lines(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_json_lines_of_every_body_kind(tmp_path, db_url, db_config):
    spooled = Reading.of(
        datetime(2025, 3, 5, 11, 0, 3, tzinfo=timezone.utc), "eim", Values(1, 2, 8000, 3), Grid(42.0, 7.5, 100.25)
    )
    path = write_lines(
        tmp_path / "r.jsonl",
        [
            {"ts": "2025-03-05T09:00:00+01:00", "body": V1},
            {"ts": "2025-03-05T09:05:00.600+01:00", "body": PDM},
            {"ts": "2025-03-05T08:10:00Z", "body": PRODUCTION},
        ],
    )
    with open(path, "a") as handle:
        handle.write("\n" + spooled.to_line() + "\n")  # the spool's own format replays too
    run = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path))
    assert run.code == 0, run.output
    rows = stored(db_config)
    assert [(r["ts_utc"], r["source"], r["wattHoursLifetime"]) for r in rows] == [
        (datetime(2025, 3, 5, 8, 0, 0), "v1", 5000),
        (datetime(2025, 3, 5, 8, 5, 0), "pdm", 6000),
        (datetime(2025, 3, 5, 8, 10, 0), "eim", 7100.5),
        (datetime(2025, 3, 5, 11, 0, 3), "eim", 8000),
    ]
    assert (rows[0]["year"], rows[0]["hour"], rows[0]["minute"]) == (2025, 9, 0)  # local
    assert (rows[3]["whExportedLifetime"], rows[3]["whImportedLifetime"], rows[3]["whConsumedLifetime"]) == (
        42.0,
        7.5,
        100.25,
    )
    assert rows[0]["whImportedLifetime"] is None and rows[0]["whConsumedLifetime"] is None
    again = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path))
    assert again.code == 0 and len(stored(db_config)) == 4  # replaying twice is idempotent


@pytest.mark.parametrize("layout", ["lines", "recapture"])
def test_a_file_saved_with_a_byte_order_mark_and_crlf_replays(layout, tmp_path, db_url, db_config):
    path = tmp_path / "r.json"
    if layout == "lines":
        text = "\r\n".join(json.dumps({"ts": f"2025-03-05T09:0{i}:00+01:00", "body": V1}) for i in range(3))
        args = ()
    else:
        text = json.dumps({"data": [PDM, PDM, PDM]}, indent=1).replace("\n", "\r\n")
        args = ("--start", "2025-03-05 09:00", "--step", "1")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    run = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path), *args)
    assert run.code == 0, run.output
    assert len(stored(db_config)) == 3


@pytest.mark.parametrize(
    "bad",
    [
        '{"ts": "2025-03-05T09:10:00+01:00", "body": {"wattHoursLifetime": "12"}}',
        '{"ts": "2025-03-05T09:10:00", "body": {"wattHoursLifetime": 12}}',  # no offset
        '{"ts": "yesterday", "body": {"wattHoursLifetime": 12}}',
        '{"ts": "2025-03-05T09:10:00+01:00", "body": {"wattHoursLif',
        '{"ts": "2025-03-05T09:10:00+01:00", "body": {"unknown": 1}}',
        "<html>oops</html>",
    ],
)
def test_a_malformed_line_stores_nothing_from_the_file(bad, tmp_path, db_url, db_config):
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps({"ts": "2025-03-05T09:00:00+01:00", "body": V1})
        + "\n"
        + bad
        + "\n"
        + json.dumps({"ts": "2025-03-05T09:20:00+01:00", "body": V1})
        + "\n"
    )
    run = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path))
    assert run.code == 65, run.output
    assert "line 2" in run.stderr
    assert stored(db_config) == []


def test_a_bad_line_after_batches_were_written_stores_nothing_from_the_file(tmp_path, db_url, db_config):
    """Read once: the batches before the bad line went to the database, and are rolled back."""
    from homepower.poll import BATCH

    start = datetime(2025, 3, 5, 8, tzinfo=timezone.utc)
    good = [{"ts": (start + timedelta(seconds=i)).isoformat(), "body": V1} for i in range(BATCH + 10)]
    path = write_lines(tmp_path / "r.jsonl", good + [{"ts": "yesterday", "body": V1}])
    run = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path))
    assert run.code == 65, run.output
    assert f"line {BATCH + 11}" in run.stderr
    assert stored(db_config) == []
    again = run_poller(
        poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(write_lines(tmp_path / "ok.jsonl", good))
    )
    assert again.code == 0 and len(stored(db_config)) == BATCH + 10


def test_recapture_layout_with_start_and_step(tmp_path, db_url, db_config):
    path = tmp_path / "recapture.json"
    path.write_text(json.dumps({"data": [PDM] * 5}, indent=1))
    env = poller_env(tmp_path / "state", DATABASE_URL=db_url)
    assert run_poller(env, "--replay", str(path)).code == 64  # needs --start and --step
    run = run_poller(env, "--replay", str(path), "--start", "2025-03-30 01:00", "--step", "60")
    assert run.code == 0, run.output
    rows = stored(db_config)
    # 2025-03-30 is the spring change in Amsterdam: local 01:00 CET, then 03:00 CEST
    assert [r["ts_utc"] for r in rows] == [datetime(2025, 3, 30, 0, 0) + timedelta(hours=i) for i in range(5)]
    assert [r["hour"] for r in rows] == [1, 3, 4, 5, 6]
    assert {r["source"] for r in rows} == {"pdm"}


def test_recorded_recapture_day(tmp_path, db_url, db_config):
    path = shared_fixture("pdm_energy", "recapture_2025-03-05.json")
    count = len(json.loads(path.read_text())["data"])
    run = run_poller(
        poller_env(tmp_path / "state", DATABASE_URL=db_url),
        "--replay",
        str(path),
        "--start",
        "2025-03-05 00:00",
        "--step",
        "60",
    )
    assert run.code == 0, run.output
    rows = stored(db_config)
    assert len(rows) == count
    assert rows[0]["ts_utc"] == datetime(2025, 3, 4, 23, 0)
    lifetimes = [r["wattHoursLifetime"] for r in rows]
    assert lifetimes == sorted(lifetimes)


def test_start_without_recapture_layout_is_bad_usage(tmp_path):
    path = write_lines(tmp_path / "r.jsonl", [{"ts": "2025-03-05T09:00:00+01:00", "body": V1}])
    run = run_poller(
        poller_env(tmp_path / "state"), "--replay", str(path), "--start", "2025-03-05 00:00", "--step", "5"
    )
    assert run.code == 64
    assert run_poller(poller_env(tmp_path / "state"), "--replay", str(tmp_path / "missing.jsonl")).code == 64


@pytest.mark.parametrize(
    "start,step",
    [
        ("2025-03-30 02:30", "5"),  # skipped by the spring clock change
        ("2025-03-05 00:00", "nan"),
        ("2025-03-05 00:00", "0"),
    ],
)
def test_recapture_start_or_step_that_cannot_be_is_bad_usage(start, step, tmp_path):
    path = tmp_path / "recapture.json"
    path.write_text(json.dumps({"data": [PDM, PDM]}))
    run = run_poller(poller_env(tmp_path / "state"), "--replay", str(path), "--start", start, "--step", step)
    assert run.code == 64, run.output
    assert len(run.stderr.strip().splitlines()) == 1


def test_replay_with_the_database_down_exits_75_and_keeps_nothing_half_done(tmp_path):
    path = write_lines(tmp_path / "r.jsonl", [{"ts": "2025-03-05T09:00:00+01:00", "body": V1}])
    run = run_poller(
        poller_env(tmp_path / "state", DATABASE_URL="mysql://root@127.0.0.1:1/test"), "--replay", str(path)
    )
    assert run.code == 75 and "replay it again" in run.stderr


def test_a_replay_path_that_is_not_a_readable_file_exits_65(tmp_path):
    folder = tmp_path / "readings"
    folder.mkdir()
    run = run_poller(poller_env(tmp_path / "state"), "--replay", str(folder))
    assert run.code == 65, run.output
    assert "cannot be read" in run.stderr and len(run.stderr.strip().splitlines()) == 1
