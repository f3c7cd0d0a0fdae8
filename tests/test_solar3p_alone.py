"""solar3p stands alone: no module of it imports homepower, it runs from a folder that holds only solar3p
and the HTTP package it builds on (netio), and no setting of the gateway or the database can make
``python -m solar3p`` fail."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

SOLAR3P = ROOT / "solar3p"
SAMPLE = SOLAR3P / "data" / "data.rotterdam"


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_solar3p_module_imports_homepower_or_the_top_level_scripts():
    modules = sorted(SOLAR3P.rglob("*.py"))
    assert len(modules) > 10
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules
        for name in _imported(path)
        if name.split(".")[0] in ("homepower", "log", "history_collector", "pv_report", "get_enphase_hour_measure")
    }
    assert found == set()


def _alone(tmp_path: Path) -> Path:
    """A folder holding only solar3p and netio (no homepower beside them, nothing else of the checkout)."""
    folder = tmp_path / "alone"
    for package in ("solar3p", "netio"):
        shutil.copytree(ROOT / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _solar3p(cwd: Path, *argv: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(SITE_TIMEZONE="Europe/Amsterdam", STATE_DIR=str(cwd / "state"), **settings)
    return subprocess.run(
        [sys.executable, "-m", "solar3p", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_python_m_solar3p_runs_where_homepower_cannot_be_imported(tmp_path):
    folder = _alone(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", "import homepower"], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert probe.returncode != 0 and "No module named 'homepower'" in probe.stderr  # the check below means something
    done = _solar3p(folder, "--file", str(SAMPLE), "--format", "json")
    assert done.returncode == 0, done.stderr
    hours = json.loads(done.stdout)
    assert len(hours) > 24 and sum(hour["kwh"] or 0 for hour in hours) > 1
    fetch_help = _solar3p(folder, "fetch", "--help")
    assert fetch_help.returncode == 0 and "--source" in fetch_help.stdout, fetch_help.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("ENVOY_TLS", "/nonexistent/ca.pem"),
        ("DATABASE_URL", "postgres://x"),
        ("ENVOY_HOST", "https://:bad"),
        ("ENVOY_TIMEOUT", "forever"),
        ("FORECAST_PROVIDER", "nobody"),
    ],
)
def test_no_gateway_or_database_setting_makes_solar3p_fail(tmp_path, name, value):
    # The same setting stops homepower's collector: it is really bad, and solar3p really ignores it.
    collector = subprocess.run(
        [sys.executable, "history_collector.py", "--hour", "2025-03-05T12"],
        cwd=ROOT,
        env={**os.environ, "STATE_DIR": str(tmp_path / "state"), name: value},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collector.returncode == 78 and name in collector.stderr, collector.stderr
    done = _solar3p(ROOT, "--file", str(SAMPLE), "--format", "csv", **{name: value})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("hour_start,kwh,gr_w,tc,temp\n") and done.stderr == ""


def test_solar3p_still_refuses_its_own_bad_settings(tmp_path):
    done = _solar3p(ROOT, "--file", str(SAMPLE), PV_ORIENTATION="up")
    assert done.returncode == 78 and done.stderr.count("\n") == 1 and "PV_ORIENTATION" in done.stderr
