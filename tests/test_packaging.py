"""The project installs: pyproject.toml builds a wheel of homepower, solar3p and netio whose console scripts
run outside any checkout, reading .env and STATE_DIR from the XDG folders; requirements.txt says what
pyproject.toml says. Offline and fast: the wheel is built without build isolation and installed with
--no-deps into a fresh venv that borrows this venv's libraries (requests, pvlib, ...) through a .pth file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPTS = ("homepower-poll", "homepower-collect", "homepower-report", "solar3p")


def _requirement(line: str) -> str:
    return re.sub(r"\s+", "", line.split("#")[0]).lower()


def test_requirements_txt_and_pyproject_list_the_same_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = [_requirement(line) for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert sorted(r for r in listed if r) == sorted(_requirement(d) for d in project["dependencies"])
    assert sorted(project["scripts"]) == sorted(SCRIPTS)


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (its bin/) with the project's wheel installed, built from a copy of the sources."""
    pytest.importorskip("wheel", reason="building the wheel offline needs the wheel package (requirements-test)")
    base = tmp_path_factory.mktemp("install")
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("homepower", "solar3p", "netio"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(base / "dist"), str(source)])  # fmt: skip
    wheels = list((base / "dist").glob("homepower-*.whl"))
    assert len(wheels) == 1
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheels[0])])  # fmt: skip
    # The requirements: this venv's libraries, behind the fresh venv's own site-packages.
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    (Path(purelib) / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv / "bin"


def _outside(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the checkout and an owner's environment: HOME there, the default .env."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    env.update(HOME=str(home), HOMEPOWER_ENV_FILE="", SITE_TIMEZONE="Europe/Amsterdam")
    return work, env


def test_every_console_script_answers_help_outside_the_checkout(installed, tmp_path):
    work, env = _outside(tmp_path)
    for script in SCRIPTS:
        assert (installed / script).is_file(), script
        done = _run([str(installed / script), "--help"], cwd=work, env=env)
        assert done.stdout.startswith(f"usage: {script} "), (script, done.stdout)  # its own name, not the script's
    code = "import homepower, solar3p, netio; print(solar3p.__file__)"
    where = _run([str(installed / "python"), "-c", code], cwd=work, env=env)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout


def test_installed_solar3p_forecasts_the_shipped_sample_and_reads_the_xdg_env(installed, tmp_path):
    work, env = _outside(tmp_path)
    config = tmp_path / "home" / ".config" / "homepower"
    config.mkdir(parents=True)
    (config / ".env").write_text("PV_PANELS=7\nPV_PANEL_WP=400\n")
    help_text = "".join(_run([str(installed / "solar3p"), "--help"], cwd=work, env=env).stdout.split())
    assert "PV_PANELS=7" in help_text  # argparse wraps even inside a path: compared without white space
    assert str(tmp_path / "home" / ".local" / "state" / "homepower") in help_text  # STATE_DIR's default
    assert "`solar3pfetch--help`" in help_text and "-msolar3p" not in help_text  # the command it can run
    done = _run([str(installed / "solar3p"), "--file", "rotterdam", "--format", "json"], cwd=work, env=env)
    hours = json.loads(done.stdout)
    assert len(hours) >= 24 and sum(h["kwh"] or 0 for h in hours) > 1
    seven = sum(h["kwh"] or 0 for h in hours)
    twelve = _run([str(installed / "solar3p"), "--file", "rotterdam", "--format", "json", "--pans", "14"],
                  cwd=work, env=env)  # fmt: skip
    assert sum(h["kwh"] or 0 for h in json.loads(twelve.stdout)) == pytest.approx(2 * seven, rel=0.02)
    assert list(work.iterdir()) == []  # nothing written where it ran


def test_installed_collector_keeps_its_state_in_the_xdg_state_folder(installed, tmp_path):
    work, env = _outside(tmp_path)
    sample = installed.parent / "lib"  # the shipped sample, from the installed package
    found = list(sample.glob("python*/site-packages/solar3p/data/data.rotterdam"))
    assert len(found) == 1
    done = _run([str(installed / "homepower-collect"), "--archive", str(found[0])], cwd=work, env=env)
    assert "new forecast row(s)" in done.stdout
    state = tmp_path / "home" / ".local" / "state" / "homepower"
    assert (state / "homepower.db").is_file() and list(work.iterdir()) == []


def test_installed_messages_name_the_installed_commands_and_the_xdg_env(installed, tmp_path):
    # An installed copy has no .venv/bin/python, no history_collector.py and no .env beside the scripts:
    # the next step a message names must be one the owner can type.
    work, env = _outside(tmp_path)
    state = tmp_path / "home" / ".local" / "state" / "homepower"
    done = subprocess.run([str(installed / "solar3p")], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 65, done.stderr
    assert f"{state / 'forecast.json'}: does not exist" in done.stderr and "`solar3p fetch`" in done.stderr
    assert ".venv" not in done.stderr
    sample = next(installed.parent.glob("lib/python*/site-packages/solar3p/data/data.rotterdam"))
    _run([str(installed / "homepower-collect"), "--archive", str(sample)], cwd=work, env=env)  # the database
    report = subprocess.run([str(installed / "homepower-report"), "--status"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "homepower-collect" in report.stdout and "history_collector.py" not in report.stdout, report.stdout
    config = tmp_path / "home" / ".config" / "homepower"
    three = subprocess.run([str(installed / "homepower-report"), "--status"], cwd=work, capture_output=True,
                           text=True, timeout=120, env=env | {"DATABASE_URL": "sqlite:///tmp/x.db"})  # fmt: skip
    assert three.returncode == 78 and f"inside {config} " in three.stderr and "checkout" not in three.stderr
    code = "from homepower.poll import unset_hint; print(unset_hint())"
    hint = _run([str(installed / "python"), "-c", code], cwd=work, env=env).stdout
    assert str(tmp_path / "home" / ".config" / "homepower" / ".env") in hint and "beside the scripts" not in hint


def test_fetch_source_names_every_weather_provider_a_forecast_file_may_say():
    # docs/architecture.md: a new forecast provider's name goes in solar3p.settings.FORECAST_FILE_PROVIDERS; fetch
    # --source must then accept it (it was a list of its own, which refused the new name with 64).
    from solar3p import fetch, meteo, settings
    from solar3p.providers import PV_PROVIDERS

    env = os.environ | {"HOMEPOWER_ENV_FILE": "none"}
    argv = [sys.executable, "-m", "solar3p", "fetch", "--help"]
    help_text = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env).stdout
    shown = re.search(r"--source \{([^}]*)\}", help_text)
    assert shown is not None, help_text
    assert shown.group(1).split(",") == [*fetch.PROVIDERS, *PV_PROVIDERS]
    assert set(fetch.PROVIDERS) == set(settings.FORECAST_FILE_PROVIDERS) - {"file"} == set(meteo.PROVIDERS) - {"file"}
