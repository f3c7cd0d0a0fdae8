"""``python -m solar3p fetch --source forecast.solar|solcast`` as a user runs it, over real sockets against
the fake services of tests/fakes/pvservices.py (never the internet): every path one exit code, one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from conftest import ROOT
from tests.fakes.manners import Manner
from tests.fakes.pvservices import FakePVServices

FS_KEY = "fskey0123456789"
SC_KEY = "sc-secret-key-4567"
SITE_A, SITE_B = "aaaa-1111-bbbb-2222", "cccc-3333-dddd-4444"


@pytest.fixture
def fake():
    with FakePVServices() as server:
        yield server


@pytest.fixture
def env(clean_env, fake):
    prefixes = ("PV_", "METEO", "OPEN_METEO", "FORECAST_", "SOLCAST_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    variables = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefixes)}
    variables.update(
        {
            "FORECAST_SOLAR_URL": fake.url,
            "SOLCAST_URL": fake.url,
            "SOLCAST_KEY": SC_KEY,
            "SOLCAST_SITE": SITE_A,
            "NO_PROXY": "127.0.0.1,localhost",
            "SITE_TIMEZONE": "Europe/Amsterdam",
            "STATE_DIR": str(clean_env / "state"),
            "PV_LATITUDE": "51.92",
            "PV_LONGITUDE": "4.48",
        }
    )
    return variables


def fetch(env, *argv, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "solar3p", "fetch", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def failed(result, code: int, *words: str) -> str:
    """The run exited ``code`` with exactly one line on stderr holding ``words``, no traceback, no key."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for secret in (FS_KEY, SC_KEY):
        assert secret not in result.stdout + result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def written(env, provider: str) -> dict:
    return json.loads((Path(env["STATE_DIR"]) / f"pv-forecast-{provider}.json").read_text())


# -- Forecast.Solar -----------------------------------------------------------------------------------
def test_forecast_solar_one_call_per_plane_summed_with_horizon_and_its_azimuth(env, fake):
    env.update({"PV_ARRAYS": "8x405@E/30;6x400@W/20", "PV_HORIZON": "0,0,5,5,10,5,5,0"})
    before = int(time.time())
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and result.stderr == ""
    assert "2 planes summed" in result.stdout and "10 of 12 calls per 3600 s left" in result.stdout
    paths = [path for path, *_ in fake.requests]
    assert paths == ["/estimate/51.9200/4.4800/30/-90/3.24", "/estimate/51.9200/4.4800/20/90/2.4"]
    assert all(query["time"] == "iso8601" for _, query, *_ in fake.requests)
    assert fake.horizons == ["0,0,5,5,10,5,5,0"] * 2
    document = written(env, "forecast.solar")
    assert document["provider"] == "forecast.solar" and document["parts"] == 2
    assert before <= int(document["issued"]) <= int(time.time())
    hours = document["hours"]
    assert all(h["time"] % 3600 == 0 for h in hours)
    assert [h["time"] for h in hours] == sorted(h["time"] for h in hours)
    assert all(h["kwh_p10"] is None and h["kwh_p90"] is None for h in hours)
    assert sum(h["kwh"] for h in hours) > 0
    # the two days' nights are there as 0 kWh hours between the last and the first daylight hour
    assert any(h["kwh"] == 0 for h in hours)


def test_forecast_solar_sum_is_both_planes(env, fake):
    env["PV_ARRAYS"] = "8x405@E/30"
    assert fetch(env, "--source", "forecast.solar", "--out", str(Path(env["STATE_DIR"]) / "east.json")).returncode == 0
    env["PV_ARRAYS"] = "6x400@W/20"
    assert fetch(env, "--source", "forecast.solar", "--out", str(Path(env["STATE_DIR"]) / "west.json")).returncode == 0
    env["PV_ARRAYS"] = "8x405@E/30;6x400@W/20"
    assert fetch(env, "--source", "forecast.solar").returncode == 0
    east = {h["time"]: h["kwh"] for h in json.loads((Path(env["STATE_DIR"]) / "east.json").read_text())["hours"]}
    west = {h["time"]: h["kwh"] for h in json.loads((Path(env["STATE_DIR"]) / "west.json").read_text())["hours"]}
    both = {h["time"]: h["kwh"] for h in written(env, "forecast.solar")["hours"]}
    assert both.keys() == east.keys() == west.keys()
    assert all(abs(both[t] - east[t] - west[t]) < 1e-9 for t in both)
    morning = min(t for t in both if both[t] > 0)
    assert east[morning] > west[morning]  # the east plane sees the morning


def test_forecast_solar_key_goes_in_the_path_and_never_in_the_output(env, fake):
    env["FORECAST_SOLAR_KEY"] = FS_KEY
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr
    assert fake.requests[-1][0].startswith(f"/{FS_KEY}/estimate/")
    assert FS_KEY not in result.stdout + result.stderr
    assert "59 of 60 calls" in result.stdout


def test_forecast_solar_wrong_key_is_77(env, fake):
    env["FORECAST_SOLAR_KEY"] = "wrongkey999"
    failed(fetch(env, "--source", "forecast.solar"), 77, "Forecast.Solar", "HTTP 401", "Invalid API key")
    assert "wrongkey999" not in str(fake.requests[-1][1])


def test_forecast_solar_rate_limit_is_69_naming_the_limit_and_when(env, fake):
    fake.fs_limit = 1
    out = Path(env["STATE_DIR"]) / "pv-forecast-forecast.solar.json"
    assert fetch(env, "--source", "forecast.solar").returncode == 0
    before = out.read_text()
    line = failed(fetch(env, "--source", "forecast.solar"), 69, "429", "1 calls per 3600 s", "try again after")
    assert "Europe/Amsterdam" in line
    assert out.read_text() == before


def test_forecast_solar_too_few_calls_left_for_every_plane_stops_before_the_429(env, fake):
    fake.fs_limit = 3
    fake.fs_calls["127.0.0.1"] = [datetime.now(timezone.utc)]  # another program spent one this hour
    env["PV_ARRAYS"] = "8x405@E/30;6x400@W/20;4x400@S/35"
    out = Path(env["STATE_DIR"]) / "pv-forecast-forecast.solar.json"
    failed(fetch(env, "--source", "forecast.solar"), 69, "has 1 of its 3 calls per 3600 s", "2 more plane(s) of 3")
    assert len(fake.requests) == 1  # the calls left are not spent on a download that cannot be whole
    assert not out.exists()  # one plane's answer alone is never written


def test_forecast_solar_wrong_url_is_78(env, fake):
    env["FORECAST_SOLAR_URL"] = fake.url + "/v9/api"  # the real server answers a page "not found"
    failed(fetch(env, "--source", "forecast.solar"), 78, "HTTP 404", "FORECAST_SOLAR_URL")


@pytest.mark.parametrize(
    "mode, code, words",
    [
        ("html", 65, ("no estimate", "HTML")),
        ("empty", 65, ("no forecast hour",)),
        ("no_result", 65, ("no result",)),
    ],
)
def test_forecast_solar_bad_answers(env, fake, mode, code, words):
    out = Path(env["STATE_DIR"]) / "pv-forecast-forecast.solar.json"
    assert fetch(env, "--source", "forecast.solar").returncode == 0
    before = out.read_text()
    fake.fs_mode = mode
    failed(fetch(env, "--source", "forecast.solar"), code, *words)
    assert out.read_text() == before  # the last good file stays


def test_forecast_solar_a_day_without_sun_is_written_as_zero(env, fake):
    fake.fs_mode = "dark"
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr
    assert "0.0 kWh" in result.stdout
    assert all(h["kwh"] == 0 for h in written(env, "forecast.solar")["hours"])


def test_forecast_solar_dst_day_keys(env, fake):
    fake.today = date(2026, 10, 24)  # the clocks go back in the night to the 25th
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr
    hours = [h["time"] for h in written(env, "forecast.solar")["hours"]]
    assert all(b - a == 3600 for a, b in zip(hours, hours[1:], strict=False))  # none lost or twice
    local = [datetime.fromtimestamp(t, timezone.utc).astimezone(fake.tz) for t in hours]
    morning = [t for t in local if t.date() == date(2026, 10, 25) and t.hour < 12]
    assert len(morning) == 13  # 00:00 to 11:00, 02:00 twice (the night's hours are 0 kWh)
    assert [t.hour for t in morning].count(2) == 2


def test_forecast_solar_unreachable_is_69(env, fake):
    env["FORECAST_SOLAR_URL"] = "http://127.0.0.1:9"
    failed(fetch(env, "--source", "forecast.solar"), 69, "Forecast.Solar")


@pytest.mark.parametrize("framing", ["http10", "chunked", "until-close", "close"])
def test_forecast_solar_in_any_server_manner(env, fake, framing):
    fake.manner = Manner(framing=framing, gzip=True)
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr


def test_forecast_solar_busy_with_retry_after_is_waited_out(env, fake):
    fake.manner = Manner(busy=[(503, "1")])
    result = fetch(env, "--source", "forecast.solar")
    assert result.returncode == 0, result.stderr


# -- Solcast ------------------------------------------------------------------------------------------
def test_solcast_half_hours_become_hours_with_quantiles(env, fake):
    before = int(time.time())
    result = fetch(env, "--source", "solcast")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and result.stderr == ""
    assert "1 call(s) of the key's 10 a day" in result.stdout
    path, query, headers, _ = fake.requests[-1]
    assert path == f"/rooftop_sites/{SITE_A}/forecasts" and query == {"format": "json", "hours": "168"}
    assert headers["Authorization"] == f"Bearer {SC_KEY}"
    document = written(env, "solcast")
    assert before <= int(document["issued"]) <= int(time.time())
    hours = document["hours"]
    assert 166 <= len(hours) <= 168  # 337 half-hours: whole local hours only
    day = [h for h in hours if h["kwh"] > 0]
    assert day and all(h["kwh_p10"] <= h["kwh"] <= h["kwh_p90"] for h in day)
    assert all(h["time"] % 3600 == 0 for h in hours)


def test_solcast_two_sites_are_summed(env, fake):
    env["SOLCAST_SITE"] = f"{SITE_A}, {SITE_B}"
    result = fetch(env, "--source", "solcast")
    assert result.returncode == 0, result.stderr
    assert "2 sites summed" in result.stdout and "2 call(s)" in result.stdout
    hours = written(env, "solcast")["hours"]
    peak = max(hours, key=lambda h: h["kwh"])
    env["SOLCAST_SITE"] = SITE_A
    assert fetch(env, "--source", "solcast", "--out", str(Path(env["STATE_DIR"]) / "a.json")).returncode == 0
    alone = {h["time"]: h["kwh"] for h in json.loads((Path(env["STATE_DIR"]) / "a.json").read_text())["hours"]}
    assert peak["kwh"] == pytest.approx(alone[peak["time"]] * (3.5 + 2.0) / 3.5, rel=1e-3)


@pytest.mark.parametrize(
    "key, code, words",
    [
        ("", 78, ("SOLCAST_KEY is not set", "toolkit.solcast.com.au")),
        ("wrong-key-000", 77, ("HTTP 403", "Invalid API key")),
    ],
)
def test_solcast_key_missing_or_refused(env, fake, key, code, words):
    env["SOLCAST_KEY"] = key
    failed(fetch(env, "--source", "solcast"), code, *words)
    assert not (Path(env["STATE_DIR"]) / "pv-forecast-solcast.json").exists()


def test_solcast_unknown_site_is_78(env, fake):
    env["SOLCAST_SITE"] = "ffff-0000"
    failed(fetch(env, "--source", "solcast"), 78, "ffff-0000", "SOLCAST_SITE")


def test_solcast_no_site_is_78(env, fake):
    env["SOLCAST_SITE"] = " "
    failed(fetch(env, "--source", "solcast"), 78, "SOLCAST_SITE is not set")


def test_solcast_daily_limit_is_69_naming_it_and_when(env, fake):
    fake.daily_limit = 1
    assert fetch(env, "--source", "solcast").returncode == 0
    failed(fetch(env, "--source", "solcast"), 69, "429", "10 calls a day", "00:00 UTC", "try again after")


def test_solcast_busy_429_is_69_try_again(env, fake):
    fake.sc_mode = "busy"
    failed(fetch(env, "--source", "solcast"), 69, "too busy", "try again")


@pytest.mark.parametrize(
    "mode, words",
    [("html", ("not JSON", "HTML")), ("empty", ("no whole forecast hour",)), ("no_list", ("no forecasts list",))],
)
def test_solcast_bad_answers_are_65(env, fake, mode, words):
    fake.sc_mode = mode
    failed(fetch(env, "--source", "solcast"), 65, *words)
    assert not (Path(env["STATE_DIR"]) / "pv-forecast-solcast.json").exists()


def test_solcast_dst_day_has_25_local_hours(env, fake):
    fake.now = datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc)  # 00:00 CEST on the 25th
    result = fetch(env, "--source", "solcast")
    assert result.returncode == 0, result.stderr
    hours = [h["time"] for h in written(env, "solcast")["hours"]]
    day = [t for t in hours if datetime.fromtimestamp(t, fake.tz).date() == date(2026, 10, 25)]
    assert len(day) == 25


def test_pv_sources_take_no_history_range(env, fake):
    result = fetch(env, "--source", "solcast", "--from", "2026-01-01", "--to", "2026-01-02")
    failed(result, 64, "--from/--to")


# -- the schedules stay within the quotas ------------------------------------------------------------
def _runs_per_day(schedule: str) -> tuple[int, int]:
    """(runs a day, most runs in one hour) of a cron schedule's minute and hour fields (the forms used)."""

    def expand(field: str, top: int) -> list[int]:
        values: list[int] = []
        for part in field.split(","):
            step = 1
            if "/" in part:
                part, step_text = part.split("/")
                step = int(step_text)
            if part == "*":
                lo, hi = 0, top
            elif "-" in part:
                lo, hi = (int(x) for x in part.split("-"))
            else:
                lo = hi = int(part)
                if step > 1:
                    hi = top
            values.extend(range(lo, hi + 1, step))
        return values

    minute, hour = schedule.split()[:2]
    return len(expand(minute, 59)) * len(expand(hour, 23)), len(expand(minute, 59))


def test_crontab_lines_stay_within_each_services_quota():
    lines = (ROOT / "crontab.example").read_text().splitlines()
    fs_line = next(line for line in lines if "--source forecast.solar" in line)
    sc_line = next(line for line in lines if "--source solcast" in line)
    assert fs_line.startswith("#") and sc_line.startswith("#")  # ready to uncomment once set up
    _, per_hour = _runs_per_day(fs_line.lstrip("#"))
    assert per_hour * 12 <= 12  # one call per plane: 12 planes within the public plan's 12 an hour
    runs, _ = _runs_per_day(sc_line.lstrip("#"))
    assert runs * 2 <= 10  # two sites within a hobbyist key's 10 calls a day
    hour_field = sc_line.lstrip("#").split()[1]
    lo, hi = (int(x) for x in hour_field.split("/")[0].split("-"))
    assert 5 <= lo and hi <= 17  # in daylight (winter's too)
    for line in (fs_line, sc_line):
        assert int(line.lstrip("#").split()[0]) % 15 != 0  # off the quarter hours (Forecast.Solar asks it)


# -- hostile answers: bounded, one line ---------------------------------------------------------------
def test_a_dribbling_service_is_cut_at_the_timeout(env, fake):
    fake.manner = Manner(dribble_s=0.5)
    started = time.monotonic()
    failed(fetch(env, "--source", "solcast", "--timeout", "3"), 69, "Solcast")
    assert time.monotonic() - started < 20


def test_an_answer_over_the_cap_is_65(env, fake):
    huge = json.dumps({"forecasts": [{"period_end": "2026-06-01T12:30:00Z", "pv_estimate": 1.0}] * 30000})
    fake.sc_mode = "huge:" + huge
    failed(fetch(env, "--source", "solcast"), 65, "Solcast")
    assert not (Path(env["STATE_DIR"]) / "pv-forecast-solcast.json").exists()


def test_debug_logging_shows_no_key(env, fake):
    env.update({"LOG_LEVEL": "DEBUG", "FORECAST_SOLAR_KEY": FS_KEY})
    for source in ("forecast.solar", "solcast"):
        result = fetch(env, "--source", source)
        assert result.returncode == 0, result.stderr
        assert FS_KEY not in result.stdout + result.stderr and SC_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["forecast.solar", "solcast"])
def test_a_state_dir_that_cannot_be_written_is_78_before_any_call(env, fake, source):
    """A STATE_DIR (or --out) that cannot hold the file was an exit 70 'unexpected error' after the download:
    one line naming the path, and no call spent (Solcast's 10 a day, Forecast.Solar's 12 an hour)."""
    blocker = Path(env["STATE_DIR"]).parent / "not-a-folder"
    blocker.write_text("a file where the owner meant a folder\n")
    env["STATE_DIR"] = str(blocker / "state")
    line = failed(fetch(env, "--source", source), 78, str(blocker))
    assert "unexpected" not in line
    assert fake.requests == []
    line = failed(fetch(env, "--source", source, "--out", str(blocker / "x.json")), 78, str(blocker))
    assert fake.requests == []


def test_more_planes_than_the_plan_allows_calls_is_78_not_try_again(env, fake):
    """More planes than the plan's calls per hour can never be downloaded whole: it said 'try again within
    the hour' (exit 69) and spent calls every run. The public plan's 12 is known before any call; a paid
    plan's limit from its first answer."""
    env["PV_ARRAYS"] = ";".join(["2x400@S/30"] * 13)
    failed(fetch(env, "--source", "forecast.solar"), 78, "13 planes", "12 calls", "PV_ARRAYS")
    assert fake.requests == []
    fake.fs_limit = 2  # as a smaller plan would answer
    env["PV_ARRAYS"] = "8x405@E/30;6x400@W/20;4x400@S/35"
    failed(fetch(env, "--source", "forecast.solar"), 78, "3 planes", "2 calls", "PV_ARRAYS")
    assert len(fake.requests) == 1
