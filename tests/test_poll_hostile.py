"""The poller against the real habits of gateways and against hostile ones, as a whole process over real
sockets (tests/fakes): slow answers, the 7.0.88 401 quirk, the grid meters, a wrong host that speaks
HTTPS, a database that refuses the credentials, and bodies that are huge, endless, trickling or deep
(with the child's peak memory measured where memory is the point)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from fakes.enlighten import FakeEnlighten
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import PYTHON, ROOT, poller_env, run_poller, run_poller_measured
from poll_support import METERS, PRODUCTION, READINGS, SERIAL, V1, env_for, own_bodies, rows

MIB = 1024 * 1024


def one_line(run) -> str:
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


# -- real habits --------------------------------------------------------------------------------------


def test_a_slow_gateway_is_waited_for_within_envoy_timeout(tmp_path, gateway, enlighten):
    """Firmware 7+ answers in 20-30 s (Home Assistant core #156189); here every answer takes 0.6 s and
    ENVOY_TIMEOUT is 3 s per request: the poll waits and stores."""
    gw = gateway(delay=0.6)
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="3", ENVOY_RETRY_S="10"))
    assert run.code == 0, run.output
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1


def test_an_answer_slower_than_envoy_timeout_is_unreachable(tmp_path, gateway, enlighten):
    gw = gateway(delay=1.5)
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="0.5", ENVOY_RETRY_S="1"))
    assert run.code == 69, run.output
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_a_401_for_production_json_after_an_accepted_token_falls_back_without_renewal(tmp_path, gateway, enlighten):
    """Firmware 7.0.88 without meters (pyenphase PR #304): /production.json answers 401 with a good
    token. The reading comes from /api/v1/production; the token is not renewed."""
    bodies = {"/info": info_xml(SERIAL, "D7.0.88", False), "/production.json": PRODUCTION, "/api/v1/production": V1}
    gw = gateway(bodies=bodies, require_cookie=True, refuse_despite_token=("/production.json",))
    env = env_for(tmp_path, gw, enlighten)
    first = run_poller(env, "--dry-run")
    assert first.code == 0, first.output
    assert json.loads(first.stdout)["source"] == "v1"
    again = run_poller(env, "--dry-run")
    assert again.code == 0, again.output
    assert enlighten.logins == 1 and len(enlighten.tokens) == 1  # the first run's token, never renewed


def test_every_production_path_refused_despite_the_token_is_77_after_one_renewal(tmp_path, gateway, enlighten):
    bodies = {"/info": info_xml(SERIAL, "D7.0.88", False), "/production.json": PRODUCTION, "/api/v1/production": V1}
    refused = ("/production.json", "/api/v1/production", "/ivp/pdm/energy", "/production")
    gw = gateway(bodies=bodies, refuse_despite_token=refused)
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 77, run.output
    assert "/auth/check_jwt" in one_line(run) and "/production.json" in run.stderr
    assert len(enlighten.tokens) == 2  # one renewal, no loop


def grid_bodies(total: bool = True) -> dict:
    bodies = own_bodies()
    meters = json.loads(METERS)
    readings = json.loads(READINGS)
    if total:
        meters.append({"eid": 410000003, "state": "enabled", "measurementType": "total-consumption"})
        readings.append({"eid": 410000003, "actEnergyDlvd": 7_654_321.5, "actEnergyRcvd": 12.0})
    bodies["/ivp/meters"] = json.dumps(meters)
    bodies["/ivp/meters/readings"] = json.dumps(readings)
    return bodies


def test_grid_import_and_house_consumption_are_stored_and_printed(tmp_path, gateway, enlighten, db_url, db_config):
    gw = gateway(bodies=grid_bodies())
    env = env_for(tmp_path, gw, enlighten, DATABASE_URL=db_url)
    dry = run_poller(env, "--dry-run")
    assert dry.code == 0, dry.output
    printed = json.loads(dry.stdout)
    assert (printed["whExportedLifetime"], printed["whImportedLifetime"], printed["whConsumedLifetime"]) == (
        2_345_678.25,
        900.0,
        7_654_321.5,
    )
    assert run_poller(env).code == 0
    from homepower.store import Store
    from zoneinfo import ZoneInfo

    with Store.connect(db_config, ZoneInfo("Europe/Amsterdam")) as store:
        (row,) = store.fetch("enphase_production", ["whExportedLifetime", "whImportedLifetime", "whConsumedLifetime"])
    assert row == {"whExportedLifetime": 2_345_678.25, "whImportedLifetime": 900.0, "whConsumedLifetime": 7_654_321.5}


def test_without_consumption_meters_import_and_consumption_are_null(tmp_path, gateway, enlighten):
    bodies = own_bodies()
    del bodies["/ivp/meters"], bodies["/ivp/meters/readings"]
    gw = gateway(bodies=bodies)
    run = run_poller(env_for(tmp_path, gw, enlighten), "--dry-run")
    assert run.code == 0, run.output
    printed = json.loads(run.stdout)
    assert printed["whImportedLifetime"] is None and printed["whConsumedLifetime"] is None


# -- a wrong host, a database that refuses, a newcomer with no .env --------------------------------------


def test_a_router_at_envoy_host_is_not_pinned(tmp_path, gateway, enlighten):
    """A wrong ENVOY_HOST that speaks HTTPS: /info is no gateway's, so its certificate is not pinned and
    the real gateway, once the host is right, is pinned without a mismatch."""
    router = gateway(bodies={"/info": "<html><body>router login</body></html>"}, workdir=tmp_path / "router")
    port = router.port
    env = env_for(tmp_path, router, enlighten, ENVOY_HOST=f"127.0.0.1:{port}")
    wrong = run_poller(env)
    assert wrong.code == 65, wrong.output
    pin = tmp_path / "state" / "gateway-cert.sha256"
    assert not pin.exists()
    router.stop()
    real = gateway(port=port, workdir=tmp_path / "real")
    right = run_poller(env)
    assert right.code == 0, right.output
    assert pin.read_text().strip() == real.fingerprint != router.fingerprint


@pytest.mark.parametrize("what", ["password", "database"])
def test_a_database_that_refuses_the_credentials_is_78_and_the_reading_is_spooled(what, tmp_path, gateway, enlighten):
    from conftest import TEST_DATABASE_URL, require_mysql

    require_mysql()
    base = TEST_DATABASE_URL.rsplit("/", 1)[0]
    url = (
        base.replace("://root@", "://root:not-the-password@") + "/test"
        if what == "password"
        else base + "/hp_no_such_database"
    )
    if what == "password" and "://root@" not in TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL has a password already")
    gw = gateway()
    run = run_poller(env_for(tmp_path, gw, enlighten, DATABASE_URL=url))
    assert run.code == 78, run.output
    line = one_line(run)
    assert "DATABASE_URL" in line and "spooled" in line and "not-the-password" not in run.output
    spooled = (tmp_path / "state" / "spool.jsonl").read_text().splitlines()
    assert len(spooled) == 1 and json.loads(spooled[0])["source"] == "eim"


def test_dry_run_with_no_env_file_and_the_default_host_says_so_at_once(tmp_path):
    env = poller_env(tmp_path / "state")
    del env["ENVOY_HOST"], env["ENVOY_RETRY_S"]  # the defaults: envoy.local, 240 s of retrying
    run = run_poller(env, "--dry-run", timeout=60)  # not four minutes of silence
    assert run.code == 69, run.output
    line = one_line(run)
    assert "no .env" in line and "ENVOY_HOST" in line and "envoy.local" in line


def test_retry_progress_goes_to_a_terminal(tmp_path):
    import pty

    main, child = pty.openpty()
    env = poller_env(tmp_path / "state", ENVOY_RETRY_S="2.5")
    proc = subprocess.run(
        [PYTHON, str(ROOT / "get_enphase_hour_measure.py")],  # the poll: --dry-run does not retry
        env=env,
        stdout=subprocess.PIPE,
        stderr=child,
        cwd=str(ROOT),
        timeout=60,
    )
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.returncode == 69
    text = seen.decode()
    assert "retrying in" in text and "ENVOY_RETRY_S" in text


@pytest.mark.parametrize(
    "script,args",
    [
        ("get_enphase_hour_measure.py", ["--replay", ""]),
        ("get_enphase_hour_measure.py", ["--replay", "   "]),
        ("get_enphase_hour_measure.py", ["--replay=", "--start", "2025-03-05 00:00", "--step", "5"]),
        ("get_enphase_hour_measure.py", ["--replay", "x.json", "--start", "", "--step", "5"]),
        ("history_collector.py", ["--hour", ""]),
        ("history_collector.py", ["--from", "", "--to", "2025-03-06"]),
        ("history_collector.py", ["--from", "2025-03-05", "--to", " "]),
        ("-m solar3p", ["--file", ""]),
        ("-m solar3p", ["fetch", "--out", ""]),
    ],
)
def test_an_empty_option_value_is_bad_usage_for_every_script(script, args, tmp_path):
    command = [PYTHON, *script.split()] if script.startswith("-m") else [PYTHON, str(ROOT / script)]
    env = poller_env(tmp_path / "state")
    proc = subprocess.run(command + args, env=env, capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert proc.returncode == 64, proc.stdout + proc.stderr
    assert "empty" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state" / "homepower.db").exists() or not rows(tmp_path / "state" / "homepower.db")


# -- hostile gateways: bounded memory and time -------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory):
    """The peak memory of an ordinary poll (imports, TLS, SQLite): what a hostile answer may not add
    64 MiB to."""
    tmp = tmp_path_factory.mktemp("baseline")
    with FakeEnlighten(serials=None) as cloud, FakeGateway(bodies=own_bodies(), workdir=tmp / "certs") as gw:
        run, peak = run_poller_measured(poller_env(tmp / "state", gw, cloud))
    assert run.code == 0, run.output
    return peak


@pytest.mark.parametrize("kind", ["huge", "endless"])
def test_a_huge_or_endless_body_is_refused_with_memory_bounded(kind, tmp_path, gateway, enlighten, baseline_rss):
    gw = gateway()
    gw.fault("/production.json", kind)
    run, peak = run_poller_measured(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="20"), timeout=60)
    assert run.code == 65, run.output
    assert "KiB" in one_line(run) and "/production.json" in run.stderr
    assert rows(tmp_path / "state" / "homepower.db") == []
    assert peak < baseline_rss + 64 * MIB, (peak / MIB, baseline_rss / MIB)


@pytest.mark.parametrize("kind", ["huge_challenge", "endless_challenge"])
def test_a_digest_challenge_with_a_huge_page_is_refused_with_memory_bounded(kind, tmp_path, gateway, baseline_rss):
    """Firmware below 7 asks for digest with a 401 whose page the client must read past before it answers
    the challenge: that page is capped like any body."""
    bodies = own_bodies()
    bodies["/info"] = info_xml(SERIAL, "R5.0.55", False)
    gw = gateway(bodies=bodies, token_required=False, digest_paths=("/production.json",))
    gw.fault("/production.json", kind)
    run, peak = run_poller_measured(poller_env(tmp_path / "state", gw, None, ENVOY_TIMEOUT="20"), timeout=60)
    assert run.code == 65, run.output
    assert "KiB" in one_line(run) and "/production.json" in run.stderr
    assert rows(tmp_path / "state" / "homepower.db") == []
    assert peak < baseline_rss + 64 * MIB, (peak / MIB, baseline_rss / MIB)


@pytest.mark.parametrize("kind", ["trickle", "trickle_headers"])
def test_a_gateway_sending_a_byte_a_second_is_cut_off_at_the_runs_deadline(kind, tmp_path, gateway, enlighten):
    """Each byte comes well within ENVOY_TIMEOUT, so no read ever times out; the run's deadline
    (ENVOY_RETRY_S + ENVOY_TIMEOUT = 3 s) ends it, and the message says how long it really took."""
    gw = gateway(trickle_s=0.2)  # /production.json would take minutes this way
    gw.fault("/production.json", kind)
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="2", ENVOY_RETRY_S="1"), timeout=60)
    assert run.code == 69, run.output
    line = one_line(run)
    assert "/production.json" in line and "ENVOY_RETRY_S + ENVOY_TIMEOUT = 3 s" in line
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_json_nested_100000_deep_from_the_gateway_is_65(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.fault("/production.json", "deep")
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 65, run.output
    assert "nested too deep" in one_line(run)


def test_a_lifetime_no_column_can_hold_is_65_before_any_write(tmp_path, gateway, enlighten, db_url, db_config):
    gw = gateway()
    gw.fault("/production.json", "overflow")
    run = run_poller(env_for(tmp_path, gw, enlighten, DATABASE_URL=db_url))
    assert run.code == 65, run.output
    assert "1e+11" in one_line(run)
    from homepower.store import Store

    with Store.connect(db_config) as store:
        assert store.fetch("enphase_production", ["ts_utc"]) == []


# -- replay and spool -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lifetime",
    ["1e20", "1e300", "123456789012345678901234567890", "NaN", "Infinity", "-Infinity", "1e999"],
)
def test_a_replayed_value_no_column_can_hold_stores_nothing(lifetime, tmp_path, db_url, db_config):
    good = '{"ts": "2025-03-05T09:00:00+01:00", "body": {"wattHoursLifetime": 5000, "wattsNow": 1}}'
    bad = '{"ts": "2025-03-05T09:05:00+01:00", "body": {"wattHoursLifetime": %s, "wattsNow": 1}}' % lifetime
    path = tmp_path / "r.jsonl"
    path.write_text(good + "\n" + bad + "\n")
    run = run_poller(poller_env(tmp_path / "state", DATABASE_URL=db_url), "--replay", str(path))
    assert run.code == 65, run.output
    assert "line 2" in one_line(run)
    from homepower.store import Store

    with Store.connect(db_config) as store:
        assert store.fetch("enphase_production", ["ts_utc"]) == []


@pytest.mark.parametrize("layout", ["line", "document"])
def test_a_replay_nested_100000_deep_is_65(layout, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    text = '{"ts": "2025-03-05T09:00:00Z", "body": %s}\n' % deep if layout == "line" else '{\n"data": %s\n}\n' % deep
    path = tmp_path / "r.jsonl"
    path.write_text(text)
    run = run_poller(poller_env(tmp_path / "state"), "--replay", str(path))
    assert run.code == 65, run.output
    assert "too deep" in one_line(run)


def test_a_spool_line_nested_too_deep_is_set_aside_and_the_run_says_65(tmp_path, gateway, enlighten):
    state = tmp_path / "state"
    state.mkdir()
    (state / "spool.jsonl").write_text('{"ts": "2025-03-05T09:00:00Z", "body": %s}\n' % ("[" * 100_000 + "]" * 100_000))
    gw = gateway()
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 65, run.output
    assert "spool.rejected" in one_line(run)
    assert len(rows(state / "homepower.db")) == 1  # the new reading is stored all the same
    assert (state / "spool.jsonl").read_text() == ""
    again = run_poller(env_for(tmp_path, gw, enlighten))
    assert again.code == 0, again.output
