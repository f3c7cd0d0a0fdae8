"""One reader of forecast files: the same bad file fails the same way on ``python -m solar3p`` (the model)
and on ``history_collector.py --archive`` (the archive), with the same message; the same good file gives
both the same hours."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

HOUR = 1_741_168_800  # 2025-03-05 10:00 UTC, an hour start


def _row(time: int, issued: int | None = None, gr_w: str = "300") -> dict[str, str]:
    row = {"time": str(time), "cet": "-", "gr_w": gr_w, "tc": "40", "temp": "8"}
    if issued is not None:
        row["issued"] = str(issued)
    return row


def _rows(n: int = 3) -> str:
    return ",".join(json.dumps(_row(HOUR + 3600 * i)) for i in range(n))


BAD = {
    "issued twice": '{"issued": "1741100000", "issued": "1741100001", "forecast": [%s]}' % _rows(),
    "provider twice": '{"provider": "meteoserver", "provider": "open-meteo", "forecast": [%s]}' % _rows(),
    "two forecast lists": '{"forecast": [%s], "forecast": [%s]}' % (_rows(), _rows()),
    "one hour twice": '{"forecast": [%s, %s]}' % (_rows(), json.dumps(_row(HOUR, gr_w="900"))),
    "one hour and issue twice": '{"forecast": [%s, %s]}'
    % (json.dumps(_row(HOUR, issued=HOUR - 7200)), json.dumps(_row(HOUR, issued=HOUR - 7200, gr_w="1"))),
    "a row off the hour": '{"forecast": [%s]}' % json.dumps(_row(HOUR + 900)),
    "an unknown provider": '{"provider": "darksky", "forecast": [%s]}' % _rows(),
    "truncated": '{"forecast": [%s' % _rows(),
    "no temperature": '{"forecast": [{"time": "%d", "gr_w": "1", "tc": "1"}]}' % HOUR,
}


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "STATE_DIR": str(tmp_path / "state"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'state' / 'homepower.db'}",
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(tmp_path / "absent.json"),
    }


def _model(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solar3p", "--file", str(path), "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _archive(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "history_collector.py", "--archive", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _archived(tmp_path: Path) -> int:
    db = tmp_path / "state" / "homepower.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM forecast").fetchone()[0])
        except sqlite3.OperationalError:  # no table yet: nothing was stored
            return 0


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_same_bad_file_fails_the_same_way_for_the_model_and_the_archive(tmp_path, case):
    path = tmp_path / "bad.json"
    path.write_text(BAD[case])
    env = _env(tmp_path)
    model, archive = _model(path, env), _archive(path, env)
    assert (model.returncode, archive.returncode) == (65, 65), model.stderr + archive.stderr
    said = model.stderr.strip()
    assert said.count("\n") == 0 and said.startswith(f"forecast file {path}"), said
    assert archive.stderr.strip().startswith(said), (said, archive.stderr)  # the archive adds what it did
    assert model.stdout == "" and _archived(tmp_path) == 0


def test_several_issues_of_an_hour_are_all_archived_and_the_model_takes_the_newest(tmp_path):
    rows = [_row(HOUR + 3600 * i, issued=HOUR - 86400) for i in range(3)]
    rows.append(_row(HOUR, issued=HOUR - 3600, gr_w="50"))  # a newer forecast of the first hour
    path = tmp_path / "past.json"
    path.write_text(json.dumps({"provider": "open-meteo", "forecast": rows}))
    env = _env(tmp_path)
    archive = _archive(path, env)
    assert archive.returncode == 0 and "4 new forecast row(s) of 4" in archive.stdout, archive.stderr
    model = _model(path, env)
    assert model.returncode == 0, model.stderr
    hours = json.loads(model.stdout)
    assert [hour["gr_w"] for hour in hours] == [50.0, 300.0, 300.0]
