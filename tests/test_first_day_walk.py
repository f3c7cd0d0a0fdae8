"""The first day walked again (issue 25): each trap a new owner fell into, over the real scripts, so that
none comes back. The wrong Python, the silent wait for a wrong ENVOY_HOST, the nightly calibration mail,
SQLite URLs, day one's report and status."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from homepower import cli

SCRIPTS = ("get_enphase_hour_measure.py", "history_collector.py", "pv_report.py")


def script(name: str, *args: str, env: dict[str, str] | None = None, python: tuple[str, ...] = (sys.executable,)):
    return subprocess.run(
        [*python, str(ROOT / name), *args],
        cwd=ROOT,
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- the wrong Python ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCRIPTS)
def test_a_python_without_the_requirements_names_the_module_and_the_fix(name):
    # -S: no site-packages, as the system Python of a fresh Raspberry Pi (no dotenv, urllib3, ...)
    done = script(name, python=(sys.executable, "-S"))
    assert done.returncode == 78, done.stderr
    (line,) = done.stderr.splitlines()
    assert "is not installed for" in line and ".venv/bin/python" in line and "make install" in line, line
    assert "unexpected" not in line and "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [("-m", "solar3p"), ("-m", "solar3p", "fetch")])
def test_solar3p_without_the_requirements_names_the_module_and_the_fix(command):
    done = subprocess.run([sys.executable, "-S", *command], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 78 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("solar3p: the Python module") and ".venv/bin/python" in line, line


def test_log_level_debug_shows_the_traceback_of_a_missing_module():
    done = script("pv_report.py", env=dict(os.environ, LOG_LEVEL="DEBUG"), python=(sys.executable, "-S"))
    assert done.returncode == 78
    assert "Traceback (most recent call last)" in done.stderr and "No module named" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("pv_report: the Python module")


def test_log_level_debug_shows_the_traceback_of_an_unexpected_error(monkeypatch, capsys):
    def broken() -> int:
        raise RuntimeError("a bug of ours")

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # before log.setup, as when the settings fail to import
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    assert cli.run(broken, "pv_report") == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug of ours" in err
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    assert cli.run(broken, "pv_report") == 70
    assert capsys.readouterr().err.splitlines() == [
        "pv_report: unexpected error (RuntimeError); run with LOG_LEVEL=DEBUG for details and report it"
    ]


# -- SQLite URLs --------------------------------------------------------------------------------------
def _collect(clone, url: str):
    env = dict(os.environ, DATABASE_URL=url)
    return subprocess.run(
        [sys.executable, "history_collector.py", "--now", "2025-06-02T10:00"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sqlite_urls_say_which_path_they_mean(tmp_path):
    from test_first_day import project_copy

    clone = project_copy(tmp_path)
    # Three slashes before a folder of the machine's root: <checkout>/tmp/x.db is not what was meant.
    done = _collect(clone, "sqlite:///tmp/homepower-first-day.db")
    assert done.returncode == 78, done.stderr
    assert "sqlite:////tmp/homepower-first-day.db" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (clone / "tmp").exists() and not os.path.exists("/tmp/homepower-first-day.db")
    # Two slashes name a server, which SQLite has not: the two spellings that work.
    done = _collect(clone, "sqlite://var/hp.db")
    assert done.returncode == 78 and "sqlite:///var/hp.db" in done.stderr and "sqlite:////var/hp.db" in done.stderr
    # Four slashes: the absolute path; three before var/ (STATE_DIR's default): the checkout's, fresh or not.
    absolute = tmp_path / "elsewhere" / "hp.db"
    absolute.parent.mkdir()
    assert _collect(clone, f"sqlite:///{absolute}").returncode == 0 and absolute.is_file()
    assert not (clone / "var").exists()
    assert _collect(clone, "sqlite:///var/hp.db").returncode == 0 and (clone / "var" / "hp.db").is_file()
    assert _collect(clone, "sqlite:///./tmp/hp.db").returncode == 0 and (clone / "tmp" / "hp.db").is_file()


def test_env_example_sets_each_setting_once():
    import re
    from collections import Counter

    names = Counter(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert names and [name for name, count in names.items() if count > 1] == []


# -- the nightly calibration on the first days ----------------------------------------------------------
def test_the_scheduled_calibration_waits_quietly_while_a_hand_run_says_65(store, db_url, tmp_path):
    from datetime import date

    import calib_synth as S
    from test_calibration import collector, put_history

    put_history(store, S.generate(date(2025, 5, 1), 2, seed=14))  # two days: one short of a fit
    scheduled = collector(tmp_path, db_url, "--calibrate", "--if-ready", "--now", "2025-06-01T00:00:00")
    assert scheduled.returncode == 0, scheduled.stderr
    lines = (scheduled.stdout + scheduled.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calibration not yet") and "at least 3" in lines[0], lines
    by_hand = collector(tmp_path, db_url, "--calibrate", "--now", "2025-06-01T00:00:00")
    assert by_hand.returncode == 65 and "2 local day(s)" in by_hand.stderr
    store.commit()
    assert store.calibrations() == [] and not (tmp_path / "state" / "solar3p-calibration.json").exists()
    # --if-ready is the scheduled fit's flag only: nowhere else does it change a failure into success.
    assert collector(tmp_path, db_url, "--if-ready").returncode == 64
    assert (
        collector(
            tmp_path, db_url, "--calibrate", "--if-ready", "--from", "2025-05-01", "--to", "2025-05-02"
        ).returncode
        == 64
    )


def test_the_crontab_and_the_timer_schedule_the_quiet_calibration():
    cron = [line for line in (ROOT / "crontab.example").read_text().splitlines() if "--calibrate" in line]
    jobs = [line for line in cron if not line.startswith("#")]
    assert len(jobs) == 1 and "history_collector.py --calibrate --if-ready >>" in jobs[0]
    unit = (ROOT / "contrib" / "systemd" / "homepower-calibrate.service").read_text()
    assert "history_collector.py --calibrate --if-ready\n" in unit


# -- a wrong ENVOY_HOST -------------------------------------------------------------------------------
def _poller(tmp_path, host: str, *args: str, retry_s: str = "240", dotenv: str | None = None) -> subprocess.Popen:
    from homepower import settings as settings_mod

    env = settings_mod.isolated_environ(
        ENVOY_HOST=host, ENVOY_RETRY_S=retry_s, ENVOY_TIMEOUT="5", STATE_DIR=str(tmp_path / "state")
    )
    if dotenv is not None:  # an owner's .env, as copied from .env.example
        (tmp_path / "owner.env").write_text(dotenv)
        env[settings_mod.ENV_FILE] = str(tmp_path / "owner.env")
        del env["ENVOY_HOST"]
    return subprocess.Popen(
        [sys.executable, str(ROOT / "get_enphase_hour_measure.py"), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line_while_retrying(run: subprocess.Popen) -> str:
    assert run.stderr is not None
    line = run.stderr.readline()
    still_retrying = run.poll() is None
    run.kill()
    run.communicate()
    assert still_retrying, line  # said at the first failure, not at the end of ENVOY_RETRY_S
    return line


def test_an_unreachable_gateway_says_so_at_the_first_failure_then_keeps_retrying(tmp_path):
    from fakes.forecast import closed_port

    line = _first_line_while_retrying(_poller(tmp_path, f"127.0.0.1:{closed_port()}"))
    assert "WARNING" in line and "cannot be reached (connection refused)" in line, line
    assert "check ENVOY_HOST" in line and "retrying for up to 240 s (ENVOY_RETRY_S)" in line, line


def test_a_name_that_does_not_resolve_and_the_example_host_are_named_at_once(tmp_path):
    line = _first_line_while_retrying(_poller(tmp_path, "no-such-gateway.invalid"))
    assert "the name no-such-gateway.invalid does not resolve; check ENVOY_HOST" in line, line
    # .env copied from .env.example with ENVOY_HOST untouched (no gateway answers to envoy.local here)
    example = (ROOT / ".env.example").read_text()
    assert "\nENVOY_HOST=envoy.local\n" in example
    line = _first_line_while_retrying(_poller(tmp_path, "", dotenv="ENVOY_HOST=envoy.local\n"))
    assert "envoy.local, the example's value" in line and "IP address" in line, line
    # and the line cron mails says it too, when the retrying is over
    done = _poller(tmp_path, "", retry_s="1", dotenv="ENVOY_HOST=envoy.local\n")
    _, err = done.communicate(timeout=60)
    assert done.returncode == 69 and "the example's value" in err.splitlines()[-1], err


def test_a_dry_run_does_not_retry_an_unreachable_gateway(tmp_path):
    from fakes.forecast import closed_port

    run = _poller(tmp_path, f"127.0.0.1:{closed_port()}", "--dry-run")
    out, err = run.communicate(timeout=60)  # ENVOY_RETRY_S=240: a retrying dry run would not end in time
    assert run.returncode == 69 and out == "", err
    (line,) = err.splitlines()
    assert "cannot be reached (connection refused)" in line and "--dry-run tries once" in line, line


# -- day one: status and report ---------------------------------------------------------------------
def test_day_one_status_and_report_say_what_there_is_and_end_with_a_report(tmp_path):
    import json
    from datetime import date, datetime, timezone

    import synth
    from homepower import settings as settings_mod

    # The owner's first poll was at 09:37 local; it is now 15:40 (14:40 UTC) on 2025-03-05.
    day = synth.generate(date(2025, 3, 5), 1, "Europe/Amsterdam", seed=25)
    first_poll = datetime(2025, 3, 5, 8, 37)
    now_utc = datetime(2025, 3, 5, 14, 40)
    day.samples = [s for s in day.samples if first_poll <= s["ts_utc"] <= now_utc]
    day.write_replay(tmp_path / "polls.jsonl")
    forecast = day.meteoserver()
    forecast["issued"] = str(int(datetime(2025, 3, 5, 8, 50, tzinfo=timezone.utc).timestamp()))  # the first fetch
    (tmp_path / "forecast.json").write_text(json.dumps(forecast))
    env = settings_mod.isolated_environ(
        STATE_DIR=str(tmp_path / "state"),
        SITE_TIMEZONE="Europe/Amsterdam",
        METEO_FILE=str(tmp_path / "forecast.json"),
    )
    now = ("--now", now_utc.isoformat())
    assert script("get_enphase_hour_measure.py", "--replay", str(tmp_path / "polls.jsonl"), env=env).returncode == 0

    # Before the collector ran: not "all fresh", and the report says there is no hour yet and why.
    status = script("pv_report.py", "--status", *now, env=env)
    assert status.returncode == 69 and "all fresh" not in status.stdout, status.stdout
    assert "before the first reading" in status.stdout and "the stored readings could give" in status.stdout
    assert "pvhistory: 5 of the last 48 hours lack kwh_pv the stored readings could give" in status.stderr
    assert "(from hour 2025-03-05 10:00 local)" in status.stderr and "history_collector.py" in status.stderr
    assert str(tmp_path / "state" / "collector.log") in status.stderr  # its log where STATE_DIR is, not var/
    report = script("pv_report.py", *now, env=env)
    assert report.returncode == 65 and "pvhistory has no hour with kwh_pv yet" in report.stderr, report.stderr

    assert script("history_collector.py", *now, env=env).returncode == 0
    status = script("pv_report.py", "--status", *now, env=env)
    assert "pvhistory:" not in status.stderr and "the stored readings could give" not in status.stdout

    # The default period (30 complete days) holds none of today: the line names the day and the command.
    report = script("pv_report.py", *now, env=env)
    assert report.returncode == 65
    (line,) = report.stderr.splitlines()
    assert "pvhistory has kwh_pv from 2025-03-05 to 2025-03-05 (local)" in line, line
    assert "pv_report.py --from 2025-03-05 --to 2025-03-06" in line, line
    # ... and day one ends with a report, today so far.
    for args in (("--from", "2025-03-05"), ("--from", "2025-03-05", "--to", "2025-03-06")):
        report = script("pv_report.py", *args, *now, env=env)
        assert report.returncode == 0, report.stderr
        assert report.stdout.startswith("PV report 2025-03-05 .. 2025-03-05 (1 local day"), report.stdout


# -- the report: like for like, the heat map, the summary once -------------------------------------
def test_the_report_compares_the_forecasts_on_the_same_hours_and_says_so(store, db_url, tmp_path):
    import json
    from datetime import datetime, timedelta

    from test_report import TZ, hour_row, run

    # Day one has no calibration yet (kwh_fc NULL); day two has both forecasts.
    rows = []
    for day in (datetime(2025, 6, 1), datetime(2025, 6, 2)):
        for h in range(8, 18):
            fc = 1.0 if day.day == 2 else None
            rows.append(hour_row(day + timedelta(hours=h), TZ, 1.0, 2.0 if day.day == 1 else 1.5, fc, day))
    store.upsert("pvhistory", rows)
    table = run(tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-03")
    assert table.returncode == 0, table.stderr
    assert "solar3p's forecasts judged on the same 10 hours (1 day), those both count" in table.stdout, table.stdout
    assert "on its own counting hours: solar3p 20 h, calibrated 10 h" in table.stdout
    measured = [line for line in table.stdout.splitlines() if "measured energy" in line]
    assert measured and measured[0].split()[-4:] == ["10.0", "kWh", "10.0", "kWh"], measured  # like for like
    doc = json.loads(run(tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-03", "--format", "json").stdout)
    assert doc["forecasts"]["kwh_s3p"]["hours"] == 20 and doc["forecasts"]["kwh_fc"]["hours"] == 10  # contract
    same = doc["same_hours"]
    assert same["hours"] == 10 and same["forecasts"]["kwh_s3p"]["forecast_kwh"] == 15.0
    assert same["forecasts"]["kwh_fc"]["hourly"]["mae"] == 0.0


def test_the_html_report_has_its_numbers_once_and_draws_an_all_zero_day_from_0(store, db_url, tmp_path):
    from datetime import datetime, timedelta

    import matplotlib.image
    import numpy as np
    from matplotlib import colormaps

    from test_report import TZ, hour_row, run

    # A snow day: the panels gave 0 every hour while the forecast expected sun.
    day = datetime(2025, 1, 9) - timedelta(hours=1)  # local midnight, UTC+1
    store.upsert("pvhistory", [hour_row(day + timedelta(hours=h), TZ, 0.0, 0.4, 0.3, day) for h in range(24)])
    out = tmp_path / "report"
    done = run(tmp_path, db_url, "--from", "2025-01-09", "--to", "2025-01-10", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = (out / "report.html").read_text()
    # one table of the numbers, not a text block repeating it (its label "counting hours / days")
    assert page.count("<th>hourly nMAE (%)</th>") == 1 and "counting hours / days" not in page, page
    pixels = matplotlib.image.imread(out / "heatmap.png")[..., :3]
    colours, counts = np.unique((pixels * 255).round().reshape(-1, 3), axis=0, return_counts=True)
    plain = colours.min(axis=1) < 150  # not the white page nor the light grey of unknown hours
    commonest = colours[plain][counts[plain].argmax()] / 255
    zero = np.array(colormaps["inferno"](0.0)[:3])
    assert np.abs(commonest - zero).max() < 0.05, commonest  # 0 kWh at the bar's foot, not mid-scale red


# -- solar3p: the flat hours are the inverter's limit --------------------------------------------------
def test_solar3p_names_the_inverter_limit_where_it_flattens_the_forecast(tmp_path):
    import json
    from datetime import date, datetime, timezone

    import synth

    doc = synth.generate(date(2025, 6, 21), 1, "Europe/Amsterdam", seed=3).meteoserver()
    for row in doc["forecast"]:  # a clear midday: more sun than 12 x 405 Wp behind a 4050 W inverter can pass
        if 10 <= datetime.fromtimestamp(int(row["time"]), timezone.utc).hour <= 13:
            row["gr_w"], row["tc"] = "950", "0"
    (tmp_path / "june.json").write_text(json.dumps(doc))
    args = ("-m", "solar3p", "--file", str(tmp_path / "june.json"), "--losses", "0", "--pans", "12", "--wp", "405")
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    flat = [line for line in done.stdout.splitlines() if line.endswith(" *")]
    assert flat and all(" 4.050 " in line for line in flat), done.stdout
    note = done.stdout.splitlines()[-1]
    assert note.startswith(f"* {len(flat)} hour(s) at the inverter's AC limit, 4.050 kWh in an hour (4860 Wp / 1.2"), (
        note
    )
    as_json = subprocess.run([sys.executable, *args, "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    assert max(row["kwh"] for row in json.loads(as_json.stdout)) == 4.05  # the contract's JSON is unchanged


# -- latitude and longitude against the time zone ----------------------------------------------------
@pytest.mark.parametrize(
    "lat,lon,zone,says",
    [
        ("4.48", "51.92", "Europe/Amsterdam", "they look swapped"),
        ("", "", "America/New_York", "they are the defaults (Rotterdam)"),
        ("51.92", "4.48", "Europe/Amsterdam", None),
        ("40.71", "-74.01", "America/New_York", None),
    ],
)
def test_a_site_outside_its_time_zone_is_warned_about(tmp_path, lat, lon, zone, says):
    from homepower import settings as settings_mod

    env = settings_mod.isolated_environ(
        PV_LATITUDE=lat, PV_LONGITUDE=lon, SITE_TIMEZONE=zone, STATE_DIR=str(tmp_path), LOG_LEVEL="WARNING"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-m", "solar3p", "--file", "rotterdam"], cwd=ROOT, env=env, capture_output=True, text=True
        ),
        script(
            "history_collector.py", "--now", "2025-03-05T12:00", env=dict(env, METEO_FILE=str(tmp_path / "none.json"))
        ),
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        warned = [line for line in done.stderr.splitlines() if "the site's time zone" in line]
        if says is None:
            assert warned == [], warned
        else:
            assert len(warned) == 1 and says in warned[0] and f"from {zone}" in warned[0], done.stderr


# -- the docs: one interpreter, one crontab ----------------------------------------------------------
def _docs() -> dict[str, str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / ".env.example"]
    return {p.name: p.read_text() for p in pages}


def test_the_docs_spell_the_interpreter_one_way():
    import re

    bare = re.compile(r"(?:^|[^/.\w-])python3? ", re.M)  # `python x`, `$ python3 -m ...`, not .venv/bin/python
    found = {name: bare.findall(text) for name, text in _docs().items()}
    assert {name: n for name, n in found.items() if n} == {}
    assert ".venv/bin/python history_collector.py" in _docs()["README.md"]


def test_the_crontab_lives_in_crontab_example_only():
    import re

    job = re.compile(r"(?:^|`)\s*(?:[\d*/,-]+\s+){5}cd \$HOME_POWER", re.M)
    assert {name: job.findall(text) for name, text in _docs().items() if job.search(text)} == {}
    readme = _docs()["README.md"]
    assert "crontab.example" in readme and "docs/day-one.md" in readme and len(readme.splitlines()) <= 250
