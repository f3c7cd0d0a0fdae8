"""A new owner's first day: the suite and the demo see neither the owner's .env nor their shell's settings,
``fetch`` writes into STATE_DIR and never into the shipped sample, crontab.example works on a fresh clone,
and the demo ends saying what to do next.

Tests that would write beside the scripts (a .env, var/) work on a copy of the project in a tmp folder,
never on the checkout itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, load_settings
from homepower import settings as settings_mod
from fakes.forecast import FakeForecastServices

# What a copy needs to run the scripts, the demo and the crontab; whatever of it exists is copied.
COPIED = (
    "homepower",
    "solar3p",
    "netio",  # the one HTTP client: homepower and solar3p both import it
    "demo",
    "tests",  # the demo simulates its day with tests.synth
    "get_enphase_hour_measure.py",
    "history_collector.py",
    "pv_report.py",
    "log.py",
    ".env.example",
    "crontab.example",
)
SAMPLE = Path("solar3p") / "data" / "data.rotterdam"

# An owner's .env that differs from every default the suite relies on.
OWNER_DOTENV = """\
ENVOY_HOST=192.0.2.50
ENVOY_USER=owner@example.com
ENVOY_PASSWORD=owner-secret
ENVOY_TLS=insecure
ENVOY_RETRY_S=30
SITE_TIMEZONE=UTC
PV_LATITUDE=40.1
PV_PANELS=30
PV_PANEL_WP=300
PV_ORIENTATION=W
PV_TILT=10
FORECAST_MIN_LEAD_H=24
FORECAST_PROVIDER=meteoserver
LOG_LEVEL=DEBUG
"""


def project_copy(tmp_path: Path, dotenv: str | None = None) -> Path:
    """A copy of the project's code (a fresh clone: no var/, no .venv), with ``dotenv`` as its .env."""
    dest = tmp_path / "clone"
    dest.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, dest / name)
    if dotenv is not None:
        (dest / ".env").write_text(dotenv)
    return dest


def owner_shell(**extra: str) -> dict[str, str]:
    """The environment an owner types ``make demo`` in: nothing switched off, settings exported."""
    env = dict(os.environ, **{settings_mod.ENV_FILE: ""})  # "": the .env beside the scripts
    env.update({"PV_TILT": "5", "PV_LOSSES_PCT": "40", "DATABASE_URL": "mysql://nobody:nope@127.0.0.1:1/none"})
    env.update(extra)
    return env


# -- the suite reads no .env and no shell settings ---------------------------------------------------
def test_a_dotenv_beside_the_scripts_does_not_reach_the_suites_settings(tmp_path):
    (tmp_path / ".env").write_text(OWNER_DOTENV)
    # What the scripts read by default (the environment this suite gives every process): not the .env.
    suite = settings_mod.load(base_dir=tmp_path)
    assert (suite.pv.panels, suite.gateway.url, suite.log_level) == (12, "https://envoy.local", "INFO")
    assert suite.gateway.user is None and suite.forecast.provider is None
    # The same .env is read where nobody switched it off: the check above is not vacuous.
    owner = settings_mod.load(base_dir=tmp_path, environ={})
    assert (owner.pv.panels, owner.gateway.url, owner.log_level) == (30, "https://192.0.2.50", "DEBUG")
    # HOMEPOWER_ENV_FILE may name another file.
    other = tmp_path / "elsewhere.env"
    other.write_text("PV_PANELS=7\n")
    assert settings_mod.load(base_dir=tmp_path, environ={settings_mod.ENV_FILE: str(other)}).pv.panels == 7


def test_a_script_the_suite_starts_ignores_the_dotenv_beside_it(tmp_path):
    clone = project_copy(tmp_path, OWNER_DOTENV)

    def help_text(env):
        done = subprocess.run(
            [sys.executable, "-m", "solar3p", "--help"], cwd=clone, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    suite = help_text(os.environ.copy())  # as tests start scripts
    assert "PV_PANELS = 12" in suite and "PV_TILT = 35" in suite
    owner = help_text(owner_shell())  # as the owner runs them: .env and shell both count
    assert "PV_PANELS = 30" in owner and "PV_TILT = 5" in owner


def test_the_suites_environment_holds_no_setting_of_the_developer():
    leaked = sorted(k for k in os.environ if settings_mod.is_setting(k) and k != settings_mod.ENV_FILE)
    assert leaked == [] and os.environ[settings_mod.ENV_FILE] == "none"


def test_a_child_environment_built_from_scratch_still_reads_no_dotenv(tmp_path):
    clone = project_copy(tmp_path, OWNER_DOTENV)
    code = "from homepower import settings; print(settings.load().pv.panels)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=clone, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "12", done.stderr


def test_every_setting_the_product_documents_or_reads_is_kept_out_of_the_suite():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    sources = [ROOT / "homepower" / "settings.py", *sorted((ROOT / "solar3p").glob("*.py"))]
    source = "".join(path.read_text() for path in sources)
    read = set(
        re.findall(
            r"""(?:text\(env,|env\.get\(|number\(env,|http_url\(env,|base_url\()\s*["']([A-Z][A-Z0-9_]+)["']""",
            source,
        )
    )
    assert documented and read
    missing = sorted(name for name in documented | read if not settings_mod.is_setting(name))
    assert missing == [], f"add {missing} to homepower.settings.SETTING_NAMES"


def test_env_example_lists_every_setting_and_loads_as_it_is(tmp_path):
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", text, re.M))
    missing = sorted(set(settings_mod.SETTING_NAMES) - listed - {settings_mod.ENV_FILE})
    assert missing == [], f"add {missing} to .env.example"
    (tmp_path / "state").mkdir()
    copied = text.replace("STATE_DIR=\n", f"STATE_DIR={tmp_path / 'state'}\n")
    (tmp_path / ".env").write_text(copied)
    loaded = settings_mod.load(base_dir=tmp_path, environ={settings_mod.ENV_FILE: ""})
    assert loaded.pv.arrays is None and loaded.forecast.provider is None and loaded.forecast.min_lead_h == 0


# -- the demo -------------------------------------------------------------------------------------------
def _demo(clone: Path, env: dict) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "demo.demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def test_the_demo_ignores_the_owners_dotenv_and_shell_and_says_what_to_do_next(tmp_path):
    pristine = _demo(project_copy(tmp_path / "a"), os.environ.copy())
    owned = _demo(project_copy(tmp_path / "b", OWNER_DOTENV), owner_shell())
    total = [line for line in pristine if line.startswith("day total")]
    assert total and total == [line for line in owned if line.startswith("day total")]
    table = [line for line in pristine if line.startswith("2025-03-05")]
    assert len(table) == 24 and table == [line for line in owned if line.startswith("2025-03-05")]
    # The calibration's weeks are a roof like the one PV_* describes (SE, 35 deg), not a flat one.
    (learned,) = [line for line in pristine if line.strip().startswith("learned:")]
    found = re.search(r"azimuth (\d+) deg \(you said 135 deg\); tilt (\d+) deg \(you said 35 deg\)", learned)
    assert found and abs(int(found.group(1)) - 135) <= 15 and abs(int(found.group(2)) - 35) <= 10, learned
    last = " ".join(owned[-8:])
    for step in ("cp .env.example .env", "ENVOY_HOST", "--dry-run", "solar3p fetch", "crontab"):
        assert step in last, step


# -- METEO_FILE and the shipped sample ---------------------------------------------------------------
def test_meteo_file_defaults_to_forecast_json_in_the_state_dir(tmp_path):
    assert load_settings(tmp_path).forecast.meteo_file == tmp_path / "state" / "forecast.json"
    assert (
        load_settings(tmp_path, STATE_DIR="elsewhere").forecast.meteo_file == tmp_path / "elsewhere" / "forecast.json"
    )


@pytest.fixture
def forecasts():
    server = FakeForecastServices()
    yield server
    server.close()


def _fetch_env(clone: Path, forecasts, **extra) -> dict:
    env = settings_mod.isolated_environ(
        OPEN_METEO_URL=forecasts.url,
        METEOSERVER_URL=forecasts.url + "/api",
        SITE_TIMEZONE="Europe/Amsterdam",
        NO_PROXY="127.0.0.1,localhost",
        **extra,
    )
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(proxy, None)
    return env


def _fetch(clone: Path, env: dict, *args: str):
    return subprocess.run(
        [sys.executable, "-m", "solar3p", "fetch", "--source", "open-meteo", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fetch_writes_into_the_state_dir_and_never_into_the_shipped_sample(tmp_path, forecasts):
    clone = project_copy(tmp_path)
    sample = (clone / SAMPLE).read_bytes()
    done = _fetch(clone, _fetch_env(clone, forecasts))
    assert done.returncode == 0, done.stderr
    assert (clone / "var" / "forecast.json").is_file()
    assert (clone / SAMPLE).read_bytes() == sample


def test_the_shipped_sample_is_still_found_by_its_location_name(clean_env):
    import solar3p
    from solar3p.cli import main

    settings = load_settings(clean_env)  # METEO_FILE: STATE_DIR/forecast.json, which does not exist
    assert not settings.forecast.meteo_file.exists()
    hours = solar3p.asdict("day", 405, 12, "SE", "hour", "rotterdam")  # settings from clean_env
    assert len(hours) == 5 * 24 and max(hours.values()) > 0
    assert main(["--file", "rotterdam", "--format", "csv"]) == 0


def test_a_location_file_beside_meteo_file_wins_over_the_sample(tmp_path):
    from solar3p.api import resolve_file

    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "data.rotterdam").write_text("{}")
    assert resolve_file("rotterdam", folder / "forecast.json") == folder / "data.rotterdam"
    assert resolve_file("rotterdam", tmp_path / "other" / "forecast.json") == ROOT / SAMPLE


# -- crontab.example on a fresh clone ----------------------------------------------------------------
CRON_JOB = re.compile(r"^#?\s*((?:\S+\s+){5})(cd \$HOME_POWER .*)$")


def cron_lines() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """crontab.example's variables, and its jobs (schedule, command), the commented alternatives too."""
    variables, jobs = {}, []
    for line in (ROOT / "crontab.example").read_text().splitlines():
        if re.match(r"^[A-Z_]+=", line):
            name, _, value = line.partition("=")
            variables[name] = value
        elif match := CRON_JOB.match(line):
            jobs.append((match.group(1).strip(), match.group(2)))
    return variables, jobs


def test_every_cron_job_prints_only_on_failure_and_makes_its_own_var():
    variables, jobs = cron_lines()
    assert {"MAILTO", "HOME_POWER", "PY"} <= set(variables)
    scripts = " ".join(command for _, command in jobs)
    for needed in (
        "get_enphase_hour_measure.py",
        "solar3p fetch",
        "history_collector.py >>",
        "--calibrate",
        "--status",
    ):
        assert needed in scripts, needed
    for _, command in jobs:
        # the shell's redirect needs var/ before the script starts; all output to a file, one line on failure
        assert command.startswith("cd $HOME_POWER && mkdir -p var && "), command
        match = re.search(r" (>>?)(var/\S+) 2>&1 \|\| (tail -n 1|cat) (var/\S+)$", command)
        assert match and match.group(2) == match.group(4), command


def test_the_fetch_runs_before_the_collector_within_its_hour():
    _, jobs = cron_lines()
    fetch_minutes = {int(s.split()[0]) for s, c in jobs if "solar3p fetch" in c}
    (collector,) = [
        int(s.split()[0])
        for s, c in jobs
        if c.endswith("history_collector.py >>var/collector.log 2>&1 || tail -n 1 var/collector.log")
    ]
    assert fetch_minutes and all(collector < m for m in fetch_minutes)  # the fetch of hour H-1 serves hour H


def test_crontab_example_runs_on_a_fresh_clone(tmp_path):
    from fakes.forecast import closed_port

    from tests.fakes.pvservices import FakePVServices

    server = FakeForecastServices()
    pv = FakePVServices().start()  # the commented PV service lines run too: never the real services
    try:
        dead = f"127.0.0.1:{closed_port()}"
        clone = project_copy(
            tmp_path,
            f"ENVOY_HOST=https://{dead}\nENVOY_RETRY_S=0\nENVOY_TIMEOUT=2\nENLIGHTEN_URL=http://{dead}\n"
            f"ENTREZ_URL=http://{dead}\nOPEN_METEO_URL={server.url}\nMETEOSERVER_URL={server.url}/api\n"
            "METEOSERVER_KEY=sekrit-meteo-key-123\nSITE_TIMEZONE=Europe/Amsterdam\n"
            f"FORECAST_SOLAR_URL={pv.url}\nSOLCAST_URL={pv.url}\nSOLCAST_KEY={pv.solcast_key}\n"
            f"SOLCAST_SITE={next(iter(pv.sites))}\n",
        )
        assert not (clone / "var").exists()
        variables, jobs = cron_lines()
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(variables, HOME_POWER=str(clone), PY=sys.executable, NO_PROXY="127.0.0.1")
        env[settings_mod.ENV_FILE] = ""  # as under cron: the .env beside the scripts
        mailed = {}
        for _, command in jobs:
            done = subprocess.run(
                ["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
            )
            mailed[command] = (done.stdout + done.stderr).strip().splitlines()
            target = re.search(r">>?(var/\S+) 2>&1", command).group(1)
            assert (clone / target).is_file(), command  # the script ran and its log has a home
    finally:
        server.close()
        pv.stop()
    for command, lines in mailed.items():
        assert not any("No such file" in line or "cannot create" in line for line in lines), (command, lines)
        if command.endswith("|| cat var/status.txt"):
            assert 1 <= len(lines) <= 20 and "STALE" in lines[0], lines  # nothing stored yet: the health, mailed
        else:
            assert len(lines) <= 1, (command, lines)  # cron mails one line at most
        if "solar3p fetch" in command:
            assert lines == [], (command, lines)  # a download that worked is not mailed
        if "get_enphase_hour_measure.py" in command:
            assert len(lines) == 1, command  # the gateway is unreachable here: that is mailed
    assert (clone / "var" / "forecast.json").is_file()
    assert (clone / "var" / "pv-forecast-solcast.json").is_file()
    assert (clone / "var" / "pv-forecast-forecast.solar.json").is_file()


# -- the systemd units -------------------------------------------------------------------------------
UNITS = ROOT / "contrib" / "systemd"


def test_every_systemd_timer_starts_a_service_that_reports_its_failure():
    timers = sorted(UNITS.glob("*.timer"))
    assert {t.stem for t in timers} >= {"homepower-poll", "homepower-forecast", "homepower-collector"}
    for timer in timers:
        service = (UNITS / f"{timer.stem}.service").read_text()
        assert "OnFailure=homepower-failed@%n.service" in service, timer.stem
        assert "WantedBy=timers.target" in timer.read_text()
    assert (UNITS / "homepower-failed@.service").is_file()


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed (apt install systemd) to check contrib/systemd")
    # The units name /home/pi/homepower: verify them pointed at a checkout that exists here.
    home = tmp_path / "hp"
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / ".venv" / "bin" / "python").symlink_to(sys.executable)
    units = tmp_path / "units"
    units.mkdir()
    for unit in UNITS.iterdir():
        (units / unit.name).write_text(unit.read_text().replace("/home/pi/homepower", str(home)))
    template = (units / "homepower-failed@.service").read_text()
    (units / "homepower-failed@homepower-poll.service.service").write_text(template)
    names = sorted(p.name for p in units.iterdir() if p.name != "homepower-failed@.service")
    done = subprocess.run([analyze, "verify", *names], cwd=units, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


# -- the README's MySQL set-up SQL, exactly ---------------------------------------------------------
def readme_setup_sql() -> str:
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (sql,) = [b for b in blocks if "CREATE USER" in b]
    return sql


def test_the_readme_mysql_setup_is_all_the_product_needs(tmp_path):
    import json
    import uuid
    from datetime import date, datetime, timezone

    from conftest import _admin_store, require_mysql
    from tests import synth
    from test_upgrade import make_original_tables

    require_mysql()
    tag = uuid.uuid4().hex[:8]
    database, user, password = f"hp_readme_{tag}", f"hp_{tag}", f"pw@{tag}:x"
    sql = readme_setup_sql()
    assert sql.count("homepowerdb") == 2 and "choose-a-password" in sql
    sql = sql.replace("homepowerdb", database).replace("'homepower'@", f"'{user}'@")
    sql = sql.replace("choose-a-password", password)
    admin = _admin_store()
    try:
        for statement in filter(None, (part.strip() for part in sql.split(";"))):
            admin.execute(statement)
        # The original project's tables are there already: upgrading them needs the granted rights too.
        from dataclasses import replace

        make_original_tables(replace(admin.config, database=database))
        url = settings_mod.DatabaseConfig(
            kind="mysql", host="127.0.0.1", port=admin.config.port, user=user, password=password, database=database
        ).url()
        assert "%40" in url  # the README's percent-encoding advice, taken
        day = synth.generate(date(2025, 3, 5), 1, "Europe/Amsterdam", seed=3)
        replay = tmp_path / "replay.jsonl"
        day.write_replay(replay)
        # The sample, stamped as a download of the evening before (unstamped it counts as issued now: late).
        forecast = json.loads((ROOT / SAMPLE).read_text())
        forecast["issued"] = str(int(datetime(2025, 3, 4, 18, tzinfo=timezone.utc).timestamp()))
        (tmp_path / "forecast.json").write_text(json.dumps(forecast))
        env = settings_mod.isolated_environ(
            DATABASE_URL=url,
            STATE_DIR=str(tmp_path / "state"),
            SITE_TIMEZONE="Europe/Amsterdam",
            METEO_FILE=str(tmp_path / "forecast.json"),
            ENVOY_HOST="https://127.0.0.1:9",
            ENVOY_RETRY_S="0",
        )
        runs = [
            ["get_enphase_hour_measure.py", "--replay", str(replay)],
            ["history_collector.py", "--from", "2025-03-05", "--to", "2025-03-06"],
            ["pv_report.py", "--from", "2025-03-05", "--to", "2025-03-06", "--format", "json"],
        ]
        for args in runs:
            done = subprocess.run(
                [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, (args, done.stdout + done.stderr)
            assert password not in done.stdout + done.stderr
        done = subprocess.run(
            [sys.executable, "pv_report.py", "--status"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode in (0, 69), done.stdout + done.stderr  # stale (2025), but the database answers
        ((count,),) = admin.execute(f"SELECT COUNT(*) FROM `{database}`.pvhistory WHERE kwh_pv > 0", fetch=True)
        assert count >= 8  # the day's daylight hours, stored by the user the README creates
    finally:
        admin.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        admin.close()
