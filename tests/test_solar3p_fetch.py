"""``python -m solar3p fetch`` as a user runs it, against the fake forecast services on 127.0.0.1 (never the
internet): tests/fakes/forecast.py models Meteoserver, Open-Meteo and its historical forecast API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import netio
import pytest

from conftest import ROOT
from fakes.forecast import QUOTA_REASON, FakeForecastServices, _ghi, closed_port
from solar3p.meteo import read_meteo, read_meteo_file
from test_solar3p_support import row, unix, write

KEY = "sekrit-meteo-key-123"
SITE = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def fake():
    server = FakeForecastServices(key=KEY)
    yield server
    server.close()


@pytest.fixture
def env(clean_env, fake):
    """Environment for the fetch subprocess: base URLs on the fake, METEO_FILE in a folder not yet made."""
    prefixes = ("PV_", "METEO", "OPEN_METEO", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")
    variables = {k: v for k, v in os.environ.items() if not k.startswith(prefixes + ("all_proxy",))}
    variables.update(
        {
            "METEOSERVER_URL": fake.url + "/api",
            "OPEN_METEO_URL": fake.url,
            "OPEN_METEO_HISTORY_URL": fake.url + "/history",
            "METEO_FILE": str(clean_env / "state" / "forecasts" / "data.rotterdam"),
            "METEOSERVER_KEY": KEY,
            "NO_PROXY": "127.0.0.1,localhost",
            "SITE_TIMEZONE": "Europe/Amsterdam",
            "STATE_DIR": str(clean_env / "state"),
        }
    )
    return variables


def fetch(env, *argv, timeout=90):
    return subprocess.run(
        [sys.executable, "-m", "solar3p", "fetch", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line(result, key=KEY, debug=False):
    """A failure: exactly one line on stderr (at DEBUG the log streams live: the last line), no traceback,
    never the key."""
    assert debug or len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and key not in result.stdout + result.stderr


def test_meteoserver_download_is_stamped_and_written_as_the_location_file(env, fake):
    before = int(time.time())
    result = fetch(env, "--source", "meteoserver", "--location", "Delft")
    after = int(time.time())
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    path, query = fake.requests[-1]
    assert path == "/api/solar.php" and query == {"locatie": "Delft", "key": KEY}
    written = Path(env["METEO_FILE"]).parent / "data.delft"  # the folder did not exist: made
    document = json.loads(written.read_text())
    assert document["provider"] == "meteoserver" and isinstance(document["issued"], str)
    assert before <= int(document["issued"]) <= after
    assert read_meteo_file(written).provider == "meteoserver" and len(read_meteo(written)) == 96
    assert os.stat(written).st_mode & 0o777 == 0o644  # a forecast is no secret: other users may read it
    assert not os.path.exists(env["METEO_FILE"])


def test_meteoserver_default_location_comes_from_meteo_file(env, fake):
    result = fetch(env)  # the key is set: meteoserver is the default source
    assert result.returncode == 0, result.stderr
    assert fake.requests[-1][1]["locatie"] == "rotterdam"
    assert len(read_meteo(env["METEO_FILE"])) == 96


def test_meteoserver_dashes_are_null_fields_and_every_row_is_kept(env, fake):
    fake.dash = ("gr_w", "temp", "tc")
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 0, result.stderr
    rows = read_meteo(env["METEO_FILE"])
    assert len(rows) == 96
    dashed = [r for r in rows if r.gr_w is None]
    assert len(dashed) == 32 and all(r.temp is None and r.tc is None for r in dashed)
    assert all(r.gr_w is not None and r.temp is not None for r in rows if r not in dashed)
    forecast = subprocess.run(
        [sys.executable, "-m", "solar3p", "--file", env["METEO_FILE"], "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert forecast.returncode == 0, forecast.stderr
    kwh = [line["kwh"] for line in json.loads(forecast.stdout)]
    assert len(kwh) == 96 and kwh.count(None) == 32  # an hour without irradiance has no kWh, not 0


@pytest.mark.parametrize("status", [401, 403, 404, 500])
def test_a_key_the_server_echoes_url_encoded_is_not_shown(env, fake, status):
    """Found in review: a key with characters a URL encodes came back in 401/403 messages, encoded."""
    from urllib.parse import quote, quote_plus

    key = "Se+CrEt/KeY=12 3456"
    fake.status = (status, f"error for request /solar.php?key={quote_plus(key)}&k2={quote(key, safe='')}".encode())
    result = fetch(dict(env, METEOSERVER_KEY=key), "--source", "meteoserver")
    assert result.returncode in (77, 65, 69), result.stderr
    said = result.stdout + result.stderr
    assert "error for request" in said
    assert key not in said and quote_plus(key) not in said and quote(key, safe="") not in said


def test_a_meteoserver_answer_without_any_irradiance_keeps_the_previous_file(env, fake):
    """Found in review: every gr_w '-' was written over a good file, exit 0, every kWh then null."""
    previous = write(_made(env["METEO_FILE"]), [row(unix("2025-03-05 11:00Z"), 300.0)])
    before = open(previous).read()
    fake.dash, fake.dash_every = ("gr_w",), 1
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 65, result.stderr
    assert "no forecast hour with irradiance" in result.stderr and "is kept as it was" in result.stderr
    assert open(previous).read() == before


def test_an_answer_without_a_forecast_list_is_retried(env, fake):
    fake.no_forecast = 2
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 0, result.stderr
    assert len(fake.paths("/api/solar.php")) == 3
    assert len(read_meteo(env["METEO_FILE"])) == 96


def test_a_service_that_never_sends_a_forecast_list_fails_after_a_few_tries(env, fake):
    previous = write(_made(env["METEO_FILE"]), [row(unix("2025-03-05 11:00Z"), 300.0)])
    before = open(previous).read()
    fake.no_forecast = 100
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 65, result.stderr
    one_line(result)
    assert "without a forecast list 4 time(s)" in result.stderr and "is kept as it was" in result.stderr
    assert len(fake.paths("/api/solar.php")) == 4
    assert open(previous).read() == before


def _made(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_open_meteo_covers_the_whole_local_day_it_starts_in(env, fake):
    out = Path(env["STATE_DIR"]) / "data.home"
    started = datetime.now(SITE).date()
    result = fetch(env, "--source", "open-meteo", "--lat", "52.1", "--lon", "5.2", "--out", str(out))
    ended = datetime.now(SITE).date()
    assert result.returncode == 0, result.stderr
    query = fake.paths("/v1/forecast")[-1]
    assert (query["latitude"], query["longitude"]) == ("52.1000", "5.2000")
    assert query["timezone"] == "GMT" and query["timeformat"] == "unixtime" and query["past_days"] == "1"
    document = json.loads(out.read_text())
    assert document["provider"] == "open-meteo" and int(document["issued"]) <= time.time()
    first = document["forecast"][0]
    assert all(isinstance(v, str) for v in first.values())
    assert set(first) == {
        "time",
        "cet",
        "elev",
        "az",
        "temp",
        "gr",
        "gr_w",
        "sd",
        "tc",
        "lc",
        "mc",
        "hc",
        "vis",
        "prec",
    }
    rows = read_meteo(out)
    # Local midnight, not 00:00 UTC (01:00 or 02:00 here): the first local hours have their rows.
    midnights = {int(datetime(d.year, d.month, d.day, tzinfo=SITE).timestamp()) for d in (started, ended)}
    assert rows[0].time in midnights
    assert [b.time - a.time for a, b in zip(rows, rows[1:], strict=False)] == [3600] * (len(rows) - 1)
    assert len(rows) >= 24 * 4
    # Open-Meteo's radiation at T is the mean of the hour before T: it belongs to the row starting T-1h.
    noon = next(r for r in rows if r.time % 86400 == 11 * 3600)
    assert noon.gr_w == round(_ghi(noon.time + 1800)) and noon.gr_w > 0


@pytest.mark.parametrize("history", [False, True])
def test_the_open_meteo_quota_exits_69_with_its_reason(env, fake, history):
    fake.quota = True
    argv = ["--from", "2024-06-01", "--to", "2024-06-03"] if history else []
    result = fetch(env, "--source", "open-meteo", *argv)
    assert result.returncode == 69, result.stderr
    one_line(result)
    assert "HTTP 429" in result.stderr and QUOTA_REASON in result.stderr and "nothing written" in result.stderr


def test_open_meteo_400_names_the_services_reason(env, fake):
    fake.history_from = date(2023, 1, 1)  # the service's archive starts later than its documentation says
    result = fetch(env, "--source", "open-meteo", "--from", "2022-06-01", "--to", "2022-06-05")
    assert result.returncode == 65, result.stderr
    one_line(result)
    assert "HTTP 400" in result.stderr and "Parameter 'start_date' is out of allowed range" in result.stderr


def test_past_forecasts_are_fetched_in_chunks_each_row_with_its_issued(env, fake):
    out = Path(env["STATE_DIR"]) / "past" / "spring.json"
    result = fetch(env, "--source", "open-meteo", "--from", "2024-03-01", "--to", "2024-05-15", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"--archive {out}" in result.stdout
    asked = [(q["start_date"], q["end_date"]) for q in fake.paths("/history/v1/forecast")]
    # Local days in chunks of 31; each asks the GMT days that hold them (local midnight is 23:00/22:00 UTC)
    # and the hour after, whose end-stamped radiation belongs to the last local hour.
    assert asked == [("2024-02-29", "2024-03-31"), ("2024-03-31", "2024-05-01"), ("2024-05-01", "2024-05-14")]
    assert all("past_days" not in q and "forecast_days" not in q for q in fake.paths("/history/v1/forecast"))
    parsed = read_meteo_file(out)
    assert parsed.provider == "open-meteo"
    lo = int(datetime(2024, 3, 1, tzinfo=SITE).timestamp())
    hi = int(datetime(2024, 5, 15, tzinfo=SITE).timestamp())
    assert [r.time for r in parsed.rows] == list(range(lo, hi, 3600))  # 75 days less the spring hour
    assert len(parsed.rows) == 75 * 24 - 1
    assert all(r.issued == r.time - 3 * 3600 for r in parsed.rows)


def test_a_failed_chunk_writes_nothing(env, fake):
    out = Path(env["STATE_DIR"]) / "past.json"
    fake.fail_history_after = 1
    result = fetch(env, "--source", "open-meteo", "--from", "2024-01-01", "--to", "2024-03-01", "--out", str(out))
    assert result.returncode == 69, result.stderr
    one_line(result)
    assert "HTTP 500" in result.stderr and "nothing written" in result.stderr
    assert not out.exists() and not list(out.parent.glob(".*"))


@pytest.mark.parametrize(
    "argv",
    [
        ["--lat", "52"],
        ["--source", "knmi"],
        ["--lat", "100", "--lon", "1"],
        ["--source", "meteoserver", "--location", "X", "--lat", "1", "--lon", "2"],
        ["--from", "2024-01-01"],
        ["--from", "2024-02-01", "--to", "2024-01-01"],
        ["--from", "2024-01-01", "--to", "2024-01-01"],
        ["--from", "2024-13-01", "--to", "2024-12-01"],
        ["--from", "2024-1-1", "--to", "2024-12-01"],
        ["--source", "meteoserver", "--from", "2024-01-01", "--to", "2024-01-02"],
        ["--from", "2010-01-01", "--to", "2020-01-01"],
        ["--from", "", "--to", "2024-01-02"],
        ["--out", ""],
        ["--location", ""],
        ["--timeout", ""],
        ["--timeout", "0"],
        ["--out", str(ROOT / "solar3p" / "data" / "data.rotterdam")],
    ],
)
def test_fetch_bad_usage_exits_64(env, fake, argv):
    result = fetch(env, *argv)
    assert result.returncode == 64, result.stderr
    one_line(result)
    assert fake.requests == []


def test_meteo_file_in_the_program_folder_is_a_configuration_error(env, fake):
    shipped = ROOT / "solar3p" / "data" / "data.rotterdam"
    before = shipped.read_bytes()
    result = fetch(dict(env, METEO_FILE=str(shipped)), "--source", "open-meteo")
    assert result.returncode == 78 and "METEO_FILE" in result.stderr
    assert shipped.read_bytes() == before and fake.requests == []


@pytest.mark.parametrize(
    "status,body,code",
    [
        (500, b"<html>oops</html>", 69),
        (503, b"", 69),
        (502, f"upstream said key={KEY}".encode(), 69),  # a body echoing the key: scrubbed
        (401, f'{{"error": "key {KEY} unknown"}}'.encode(), 77),
        (200, b'{"plaatsnaam": [{"plaats": "Rotterdam"}], "forecast": [{"time": "17', 65),
        (200, b"<html><body>Maintenance</body></html>", 65),
        (200, b'{"forecast": [{"time": "1748736000", "gr_w": "lots", "tc": "1", "temp": "12"}]}', 65),
        (200, b"[1, 2]", 65),
        (404, b"not here", 65),
    ],
)
def test_a_failed_download_keeps_the_previous_file(env, fake, status, body, code):
    previous = write(_made(env["METEO_FILE"]), [row(unix("2025-03-05 11:00Z"), 300.0)])
    before = open(previous).read()
    fake.status = (status, body)
    for level in ("INFO", "DEBUG"):
        result = fetch(dict(env, LOG_LEVEL=level), "--source", "meteoserver")
        assert result.returncode == code, result.stderr
        one_line(result, debug=level == "DEBUG")
        assert "is kept as it was" in result.stderr.strip().splitlines()[-1]
    if status == 401:
        assert "METEOSERVER_KEY" in result.stderr
    assert open(previous).read() == before
    assert sorted(os.listdir(os.path.dirname(previous))) == ["data.rotterdam"]  # no temp file left


SOURCES = {
    "meteoserver": ["--source", "meteoserver"],
    "open-meteo": ["--source", "open-meteo"],
    "history": ["--source", "open-meteo", "--from", "2024-01-01", "--to", "2024-03-01", "--out", "/dev/null/x"],
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("mode", ["huge", "endless", "deep"])
def test_a_hostile_answer_is_refused_and_nothing_is_written(env, fake, mode, source):
    fake.hostile = mode
    argv = [a.replace("/dev/null/x", str(Path(env["STATE_DIR"]) / "past.json")) for a in SOURCES[source]]
    result = fetch(env, *argv)
    assert result.returncode == 65, result.stderr
    one_line(result)
    assert ("refused" if mode != "deep" else "nested too deep") in result.stderr
    assert not os.path.exists(env["METEO_FILE"]) and not (Path(env["STATE_DIR"]) / "past.json").exists()


def _peak_rss_mib(env, *argv) -> tuple[int, float]:
    """Exit code and peak resident memory (MiB) of a fetch child process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "solar3p", "fetch", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def test_an_endless_body_costs_bounded_memory(env, fake):
    code, normal = _peak_rss_mib(env, "--source", "meteoserver")
    assert code == 0
    fake.hostile = "endless"
    code, hostile = _peak_rss_mib(env, "--source", "meteoserver")
    assert code == 65
    assert hostile < normal + 64  # the contract: 64 MiB above the imports, whatever the sender does


@pytest.mark.parametrize(
    "mode,source", [("slow_headers", "meteoserver"), ("slow_body", "meteoserver"), ("slow_body", "history")]
)
def test_a_server_sending_a_byte_a_second_cannot_stretch_the_deadline(env, fake, mode, source):
    fake.hostile = mode
    argv = [a.replace("/dev/null/x", str(Path(env["STATE_DIR"]) / "past.json")) for a in SOURCES[source]]
    result = fetch(env, *argv, "--timeout", "3", timeout=60)  # unbounded: 600+ s
    assert result.returncode == 69, result.stderr
    one_line(result)
    assert "within the fetch's 3 s deadline" in result.stderr
    assert not os.path.exists(env["METEO_FILE"])


def test_an_unreachable_service_exits_69(env):
    env = dict(env, OPEN_METEO_URL=f"http://127.0.0.1:{closed_port()}")
    result = fetch(env, "--source", "open-meteo")
    assert result.returncode == 69 and "nothing written" in result.stderr
    one_line(result)
    assert not os.path.exists(env["METEO_FILE"])


def test_meteoserver_without_a_key_is_a_configuration_error(env):
    env = {k: v for k, v in env.items() if k != "METEOSERVER_KEY"}
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 78 and "METEOSERVER_KEY" in result.stderr


def test_a_base_url_that_is_not_http_is_a_configuration_error(env):
    env = dict(env, OPEN_METEO_URL="ftp://127.0.0.1/forecast")
    result = fetch(env, "--source", "open-meteo")
    assert result.returncode == 78 and "OPEN_METEO_URL" in result.stderr
    one_line(result)
    assert not os.path.exists(env["METEO_FILE"])


def test_the_key_is_not_logged_even_at_debug(env, fake):
    fake.no_forecast = 1  # a retry logs too
    result = fetch(dict(env, LOG_LEVEL="DEBUG"), "--source", "meteoserver", "--location", "Delft")
    assert result.returncode == 0, result.stderr
    assert "data.delft" in result.stdout and "retrying" in result.stderr
    assert KEY not in result.stdout + result.stderr


def test_history_chunks_cover_local_days_exactly():
    from solar3p.fetch import history_chunks

    chunks = list(history_chunks(date(2024, 10, 1), date(2024, 11, 5), SITE, days=31))
    assert [(c[2], c[3]) for c in chunks] == [
        (date(2024, 9, 30), date(2024, 10, 31)),
        (date(2024, 10, 31), date(2024, 11, 4)),
    ]
    assert chunks[0][1] == chunks[1][0]  # no gap, no overlap
    assert (chunks[-1][1] - chunks[0][0]) // 3600 == 35 * 24 + 1  # the autumn day has 25 hours
    assert datetime.fromtimestamp(chunks[0][0], SITE).hour == 0
    assert timedelta(seconds=chunks[0][1] - chunks[0][0]) == timedelta(days=31, hours=1)


def test_errors_carry_their_fields_and_cause(fake):
    import requests

    from solar3p.download import Deadline, ServiceError, ServiceUnreachable, get

    url = fake.url + "/v1/forecast"
    fake.quota = True
    with pytest.raises(ServiceUnreachable) as quota:
        get("Open-Meteo", url, {"latitude": "52", "longitude": "4"}, Deadline(10))
    assert (quota.value.status, quota.value.reason, quota.value.exit_code) == (429, QUOTA_REASON, 69)
    fake.quota = False
    with pytest.raises(ServiceError) as refused:
        get("Open-Meteo", url, {"latitude": "52", "longitude": "4", "hourly": "snow_flakes"}, Deadline(10))
    assert refused.value.status == 400 and "snow_flakes" in refused.value.reason and refused.value.exit_code == 65
    with pytest.raises(ServiceUnreachable) as down:
        get("Open-Meteo", f"http://127.0.0.1:{closed_port()}/v1/forecast", {}, Deadline(10))
    assert isinstance(down.value.__cause__, netio.ConnectFailed) and down.value.status is None
    assert isinstance(down.value.__cause__.__cause__, requests.ConnectionError)  # the library's own, kept


# -- found by the acceptance review (/work/notes/review-report-fetch.md) ---------------------------------
def _checkout(tmp_path) -> Path:
    """A throw-away checkout (git index included) to aim ``--out`` at: the real one is never put at risk."""
    import shutil

    clone = tmp_path / "checkout"
    clone.mkdir()
    for name in (
        "homepower",
        "solar3p",
        "netio",
        "tests",
        "log.py",
        "README.md",
        "Makefile",
        "history_collector.py",
        ".gitignore",
    ):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, clone / name)
    (clone / "docs").mkdir()
    (clone / "docs" / "guide.md").write_text("a tracked file outside the program's folders\n")
    (clone / "notes").mkdir()  # the owner's own folder in the checkout, not tracked
    done = subprocess.run(["git", "init", "-q"], cwd=clone, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"git cannot make a checkout here: {done.stderr.strip()}")
    subprocess.run(
        ["git", "add", "homepower", "solar3p", "netio", "tests", "log.py", "README.md", "Makefile"], cwd=clone
    )
    subprocess.run(["git", "add", "history_collector.py", "docs", ".gitignore"], cwd=clone, check=True)
    return clone


@pytest.mark.parametrize(
    "target",
    [
        "README.md",
        "history_collector.py",
        "Makefile",
        "log.py",
        "forecast.json",  # a new file at the top level, beside the scripts cron runs
        "docs/guide.md",  # tracked, outside the program's folders
        "solar3p/data/data.rotterdam",
        "homepower/new.json",
        ".git/forecast.json",
    ],
)
def test_out_never_writes_into_the_checkout(env, fake, tmp_path, target):
    clone = _checkout(tmp_path)
    path = clone / target
    before = path.read_bytes() if path.exists() else None
    for argv in (["--source", "open-meteo"], ["--source", "open-meteo", "--from", "2024-06-01", "--to", "2024-06-02"]):
        result = subprocess.run(
            [sys.executable, "-m", "solar3p", "fetch", *argv, "--out", target],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert result.returncode == 64, result.stdout + result.stderr
        one_line(result)
        assert "checkout" in result.stderr and fake.requests == []
        assert (path.read_bytes() if path.exists() else None) == before
    changed = subprocess.run(["git", "diff", "--name-only"], cwd=clone, capture_output=True, text=True)
    added = subprocess.run(["git", "ls-files", "-o", "--exclude-standard"], cwd=clone, capture_output=True, text=True)
    assert changed.stdout + added.stdout == ""


def test_out_may_go_to_an_untracked_folder_of_the_checkout(env, fake, tmp_path):
    clone = _checkout(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "solar3p", "fetch", "--source", "open-meteo", "--out", "notes/today.json"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert read_meteo(clone / "notes" / "today.json")


def test_a_bad_value_in_an_answer_is_cut_and_the_url_shown_right(env, fake):
    digits = "1" * 100_000
    body = {"forecast": [{"time": digits, "gr_w": "1", "tc": "1", "temp": "1"}]}
    fake.status = (200, json.dumps(body).encode())
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 65, result.stderr
    one_line(result)
    line = result.stderr.strip()
    assert len(line) < 600, len(line)
    assert f"{fake.url}/api/solar.php" in line  # http://127.0.0.1:port, not http:/127.0.0.1
    assert "answer" in line and "forecast file" not in line and "'time'" in line
    assert "100000 characters" in line  # says how long the value it cut was


def test_open_meteo_hours_without_radiation_keep_their_weather(env, fake):
    # Every variable unknown at 30 and 31; only the radiation at 40 (it belongs to the hour starting at 39).
    fake.nulls = {30: None, 31: None, 40: ("shortwave_radiation",)}
    out = Path(env["STATE_DIR"]) / "nulls.json"
    result = fetch(env, "--source", "open-meteo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    raw = {int(r["time"]): r for r in document["forecast"]}
    rows = {r.time: r for r in read_meteo(out)}
    start = int(datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()) - 86400
    hour = lambda i: start + 3600 * i  # noqa: E731
    # The hour starting at 39: radiation unknown, its temperature and clouds known: kept, "-" for the rest.
    assert raw[hour(39)]["gr_w"] == "-" and raw[hour(39)]["gr"] == "-"
    assert rows[hour(39)].gr_w is None and rows[hour(39)].temp is not None and rows[hour(39)].tc is not None
    # 29 has its own temperature (its radiation, stamped 30, is unknown); 30 knows nothing at all: no row.
    assert rows[hour(29)].gr_w is None and rows[hour(29)].temp is not None
    assert hour(30) not in rows
    assert rows[hour(31)].gr_w is not None  # its radiation (stamped 32) is known
    first = min(rows)
    assert sorted(rows) == [t for t in range(first, max(rows) + 1, 3600) if t != hour(30)]
    assert f"wrote {len(rows)} forecast hours" in result.stdout


def test_meteoserver_duplicate_and_unsorted_hours_are_one_row_each(env, fake):
    fake.shuffle = True  # 48 hours in reverse order, two of them twice (the repeat last, with other values)
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 0, result.stderr
    document = json.loads(Path(env["METEO_FILE"]).read_text())
    times = [int(r["time"]) for r in document["forecast"]]
    assert times == sorted(set(times)) and len(times) == 48
    assert "wrote 48 forecast hours" in result.stdout and "2 repeated" in result.stdout
    repeated = [r for r in document["forecast"] if r["temp"] == "99.0"]
    assert len(repeated) == 2  # the last of each repeated hour is the one kept


@pytest.mark.parametrize(
    "first,end,says",
    [
        ("2015-01-01", "2015-01-03", "2022-01-01"),
        ("2021-12-31", "2022-01-02", "2022-01-01"),
        ("2030-01-01", "2030-01-03", "future"),
        ("today", "tomorrow", "future"),
    ],
)
def test_past_forecasts_outside_the_services_archive_are_bad_usage(env, fake, first, end, says):
    today = datetime.now(SITE).date()
    days = {"today": str(today), "tomorrow": str(today + timedelta(days=1))}
    result = fetch(env, "--source", "open-meteo", "--from", days.get(first, first), "--to", days.get(end, end))
    assert result.returncode == 64, result.stderr
    one_line(result)
    assert says in result.stderr and fake.requests == []


def test_past_forecasts_up_to_today_and_from_the_first_day_are_fetched(env, fake):
    today = datetime.now(SITE).date()
    for first, end in (("2022-01-01", "2022-01-02"), (str(today - timedelta(days=1)), str(today))):
        out = Path(env["STATE_DIR"]) / f"{first}.json"
        result = fetch(env, "--source", "open-meteo", "--from", first, "--to", end, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert len(read_meteo(out)) in (23, 24, 25)


def test_a_successful_fetch_says_what_it_wrote_once(env, fake):
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 0, result.stderr
    said = (result.stdout + result.stderr).count("wrote 96 forecast hours")
    assert said == 1, result.stdout + result.stderr
