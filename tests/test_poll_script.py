"""The poller as cron runs it: a whole process against a fake HTTPS gateway and a fake Enlighten on
loopback, storing into SQLite and MariaDB. Every recorded firmware, the faults, the pin, dry run."""

from __future__ import annotations

import json

import pytest

from conftest import ENVOY_FIXTURES, shared_fixture
from fakes.enlighten import make_jwt
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import poller_env, run_poller
from poll_support import PRODUCTION, SERIAL, V1, env_for, own_bodies, rows

FOLDERS = sorted(p.name for p in ENVOY_FIXTURES.iterdir() if p.is_dir()) if ENVOY_FIXTURES.is_dir() else []

# -- every recorded firmware, end to end ------------------------------------------------------------


@pytest.mark.parametrize("name", FOLDERS or ["(no ../shared)"])
def test_every_recorded_firmware_end_to_end(name, tmp_path, gateway, enlighten):
    folder = shared_fixture("envoy", name)
    gw = gateway(firmware_dir=folder, require_cookie=True)
    env = env_for(tmp_path, gw, enlighten)
    run = run_poller(env)
    assert run.code == 0, run.output
    stored = rows(tmp_path / "state" / "homepower.db")
    assert len(stored) == 1
    assert stored[0]["wattHoursLifetime"] > 0 and stored[0]["source"] in ("eim", "v1", "inverters", "pdm", "html")
    if gw.token_required:
        assert all(r["path"] == "/info" or "Authorization" in r["headers"] for r in gw.requests)
    else:
        assert enlighten.logins == 0  # firmware below 7 needs no cloud


def test_a_stored_row_holds_local_time_source_and_export(tmp_path, gateway, enlighten, db_url, db_config):
    gw = gateway()
    run = run_poller(env_for(tmp_path, gw, enlighten, DATABASE_URL=db_url))
    assert run.code == 0, run.output
    from homepower.store import Store
    from zoneinfo import ZoneInfo

    with Store.connect(db_config, ZoneInfo("Europe/Amsterdam")) as store:
        (row,) = store.fetch(
            "enphase_production",
            [
                "ts_utc",
                "hour",
                "minute",
                "wattHoursToday",
                "wattHoursLifetime",
                "wattsNow",
                "whExportedLifetime",
                "source",
            ],
        )
    assert row["source"] == "eim"
    assert row["wattHoursLifetime"] == pytest.approx(4_500_123.5)
    assert row["wattHoursToday"] == pytest.approx(1201.5)
    assert row["whExportedLifetime"] == pytest.approx(2_345_678.25)
    assert row["ts_utc"].microsecond == 0
    local = row["ts_utc"].replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert (row["hour"], row["minute"]) == (local.hour, local.minute)


def test_dry_run_prints_json_and_stores_nothing(tmp_path, gateway, enlighten):
    gw = gateway()
    run = run_poller(env_for(tmp_path, gw, enlighten), "--dry-run")
    assert run.code == 0, run.output
    reading = json.loads(run.stdout)
    assert reading["source"] == "eim" and reading["wattHoursLifetime"] == 4_500_123.5
    assert reading["whExportedLifetime"] == 2_345_678.25
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_v1_stall_on_metered_gateway_without_ct(tmp_path, gateway, enlighten):
    bodies = own_bodies("D8.2.4264")
    bodies["/production.json"] = PRODUCTION.replace('"activeCount": 1,', '"activeCount": 0,')
    gw = gateway(bodies=bodies)
    run = run_poller(env_for(tmp_path, gw, enlighten), "--dry-run")
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["source"] == "inverters"


# -- faults: nothing stored, the right exit ------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,code",
    [
        ("truncated", 65),
        ("cutoff", 65),
        ("html200", 65),
        ("wrongtype", 65),
        ("nulls", 65),
        ("negative", 65),
        ("500", 69),
        ("503", 69),
    ],
)
def test_a_bad_answer_stores_nothing(kind, code, tmp_path, gateway, enlighten):
    gw = gateway()
    gw.fault("/production.json", kind)
    run = run_poller(env_for(tmp_path, gw, enlighten))  # default LOG_LEVEL; a first run (pins, gets a token)
    assert run.code == code, run.output
    assert len(run.stderr.strip().splitlines()) == 1  # one line a person can act on
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_firmware_3_html_401_page_and_text_401_are_handled(tmp_path, gateway, enlighten):
    bodies = {
        "/info": info_xml("121426016034", "R3.9.36", None),
        "/api/v1/production": V1,
        "/production.json": (401, "<html><head><title>401 Unauthorized</title></head></html>"),
        "/ivp/meters": "Error: 401\n",
    }
    gw = gateway(bodies=bodies)
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    assert rows(tmp_path / "state" / "homepower.db")[0]["source"] == "v1"


def test_old_firmware_digest_auth_where_asked(tmp_path, gateway, enlighten):
    bodies = {"/info": info_xml("121426016034", "D5.0.62", False), "/api/v1/production": V1}
    gw = gateway(bodies=bodies, digest_paths=("/api/v1/production", "/production.json"))
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    assert any(r["headers"].get("Authorization", "").startswith("Digest") for r in gw.requests)
    wrong = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_SERIAL="999999999999"))
    assert wrong.code == 77, wrong.output


def test_nightly_outage_is_retried_then_polled(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.outage(2.5)
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_RETRY_S=30))
    assert run.code == 0, run.output
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1


def test_outage_longer_than_retry_exits_69(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.outage(30)
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_RETRY_S=2))
    assert run.code == 69, run.output
    assert "ENVOY_RETRY_S" in run.stderr


# -- TLS ------------------------------------------------------------------------------------------------


def test_pin_on_first_use_then_a_new_certificate_is_refused_before_any_request(tmp_path, gateway, enlighten):
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten)
    assert run_poller(env).code == 0
    pin = tmp_path / "state" / "gateway-cert.sha256"
    assert pin.read_text().strip() == gw.fingerprint
    old = gw.fingerprint
    gw.swap_certificate()
    gw.requests.clear()
    run = run_poller(env)
    assert run.code == 77, run.output
    assert gw.fingerprint in run.stderr and old in run.stderr and str(pin) in run.stderr
    assert gw.requests == []  # nothing was sent to the new certificate
    pin.unlink()  # the documented way to accept it
    assert run_poller(env).code == 0
    assert pin.read_text().strip() == gw.fingerprint


def test_an_old_gateway_serving_plain_http_is_found_from_host_and_port(tmp_path, gateway, enlighten):
    """ENVOY_HOST=host:port names no scheme: HTTPS first, and plain HTTP when that port speaks no TLS
    (firmware below 7). An explicit https:// is a configuration error saying what to set."""
    bodies = {"/info": info_xml("121621012167", "D5.0.62", False), "/api/v1/production": V1}
    gw = gateway(bodies=bodies, tls=False)
    found = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_HOST=f"127.0.0.1:{gw.port}"))
    assert found.code == 0, found.output
    assert rows(tmp_path / "state" / "homepower.db")[0]["source"] == "v1"
    assert not (tmp_path / "state" / "gateway-cert.sha256").exists() and enlighten.logins == 0
    explicit = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_HOST=f"https://127.0.0.1:{gw.port}"))
    assert explicit.code == 78, explicit.output
    assert f"ENVOY_HOST=http://127.0.0.1:{gw.port}" in explicit.stderr
    assert len(explicit.stderr.strip().splitlines()) == 1


def test_a_pinned_gateway_that_answers_plain_http_gets_no_token(tmp_path, gateway, enlighten):
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten, ENVOY_HOST=f"127.0.0.1:{gw.port}")
    assert run_poller(env).code == 0
    port = gw.port
    gw.stop()
    impostor = gateway(bodies=own_bodies(), tls=False, port=port)
    run = run_poller(env)
    assert run.code == 77, run.output
    assert impostor.requests == []  # no fallback to http once a certificate is pinned


def test_insecure_and_ca_bundle(tmp_path, gateway, enlighten):
    gw = gateway()
    insecure = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TLS="insecure", LOG_LEVEL="WARNING"))
    assert insecure.code == 0 and insecure.stderr == ""  # quiet under cron
    assert not (tmp_path / "state" / "gateway-cert.sha256").exists()
    assert run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TLS=str(gw.cert))).code == 0
    other = FakeGateway(bodies=own_bodies(), workdir=tmp_path / "other")
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TLS=str(other.cert)))
    assert run.code == 77, run.output


# -- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_in_any_output_at_debug(tmp_path, gateway, enlighten):
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten, LOG_LEVEL="DEBUG")
    runs = [run_poller(env), run_poller(env, "--dry-run")]
    cache = tmp_path / "state" / "envoy-token.json"
    assert cache.stat().st_mode & 0o777 == 0o600
    token = enlighten.tokens[-1]
    gw.revoke(token)  # a 401 and a renewal, logged at DEBUG
    runs.append(run_poller(env))
    pasted = make_jwt(SERIAL)
    runs.append(run_poller(env_for(tmp_path, gw, enlighten, LOG_LEVEL="DEBUG", ENVOY_TOKEN=pasted)))
    enlighten.password = "another"  # bad credentials: the message must not echo the one tried
    gw.revoke(enlighten.tokens[-1])
    runs.append(run_poller(env))
    assert [r.code for r in runs] == [0, 0, 0, 0, 77]
    assert "Enlighten" in runs[-1].stderr
    everything = "".join(r.output for r in runs)
    assert "DEBUG" in everything
    for secret in [env["ENVOY_PASSWORD"], pasted, *enlighten.tokens, *gw.sessions]:
        assert secret not in everything
        for part in secret.split(".") if "." in secret else []:
            assert part not in everything


def test_bad_usage_exits_64(tmp_path):
    run = run_poller(poller_env(tmp_path / "state"), "--step", "5")
    assert run.code == 64
    assert run_poller(poller_env(tmp_path / "state"), "--no-such-flag").code == 64


def test_bad_setting_exits_78(tmp_path):
    run = run_poller(poller_env(tmp_path / "state", ENVOY_TIMEOUT="soon"))
    assert run.code == 78 and "ENVOY_TIMEOUT" in run.stderr


def test_meters_closed_to_the_token_leave_export_null(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.fault("/ivp/meters", "401")
    run = run_poller(env_for(tmp_path, gw, enlighten), "--dry-run")
    assert run.code == 0, run.output
    reading = json.loads(run.stdout)
    assert reading["source"] == "eim" and reading["whExportedLifetime"] is None
    assert enlighten.logins == 1  # no renewal for an optional path


def test_fake_gateway_runs_as_a_process_for_the_benchmark(tmp_path, enlighten):
    import subprocess
    from fakes.harness import PYTHON, ROOT

    folder = shared_fixture("envoy", "8.3.5169_with_generator")
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "tests.fakes.gateway",
            "--port",
            "0",
            "--firmware",
            str(folder),
            "--workdir",
            str(tmp_path / "gw"),
        ],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline().split()
        assert ready[0] == "READY"

        class Where:
            url = ready[1]

        run = run_poller(poller_env(tmp_path / "state", Where, enlighten), "--dry-run")
        assert run.code == 0, run.output
        assert json.loads(run.stdout)["whExportedLifetime"] == 3273182.77
        assert (tmp_path / "state" / "gateway-cert.sha256").read_text().strip() == ready[2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_a_gateway_refusing_info_exits_77(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.fault("/info", "401")
    run = run_poller(env_for(tmp_path, gw, enlighten, LOG_LEVEL="ERROR"))
    assert run.code == 77 and "/info" in run.stderr


def modules_of(run) -> set[str]:
    """Every module a run imported, from its -X importtime lines on stderr."""
    return {line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


def imported_by(run) -> set[str]:
    """Top-level packages a run imported, from its -X importtime lines on stderr."""
    return {name.split(".")[0] for name in modules_of(run)}


# What a poll with a cached token never needs, each imported only where it is used: the roof's and the
# forecasts' settings (homepower.settings and the solar3p modules behind it), the store's query modules
# other than the core, logging.handlers, the replay's hour arithmetic.
NOT_FOR_A_CACHED_POLL = {
    "homepower.settings",
    "solar3p.settings",
    "solar3p.plant",
    "homepower.store.sql",
    "homepower.store.samples",
    "homepower.store.history",
    "homepower.store.forecasts",
    "homepower.store.calibration",
    "homepower.store.report",
    "homepower.store.status",
    "homepower.store.panels",
    "homepower.store.upgrade",
    "homepower.hours",
    "logging.handlers",
}


def test_the_poll_path_stays_light(tmp_path, gateway, enlighten):
    """No pandas/numpy/pvlib, even transitively; no MySQL driver for an SQLite database; a poll with a
    cached token imports none of NOT_FOR_A_CACHED_POLL. (requests is on the path: netio speaks to the
    gateway with it; what that costs is measured by make bench.)"""
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten, PYTHONPROFILEIMPORTTIME="1")
    runs = [run_poller(env, *args) for args in (["--help"], [], [])]
    for run in runs:
        assert run.code == 0, run.output
        imported = imported_by(run)
        assert not imported & {"pandas", "numpy", "pvlib", "mysql"}
    assert len(enlighten.tokens) == 1  # the first poll fetched the token (with requests), the second did not
    assert len(rows(tmp_path / "state" / "homepower.db")) >= 1  # two polls in one second are one row
    cached = modules_of(runs[2])
    assert "homepower.store.core" in cached and "netio.client" in cached  # the lines are read right
    assert not cached & NOT_FOR_A_CACHED_POLL, sorted(cached & NOT_FOR_A_CACHED_POLL)


def test_a_mistake_in_the_roof_or_publishing_settings_does_not_stop_the_poll(tmp_path, gateway, enlighten):
    """The poller reads only its own settings: the readings go on being collected while the owner fixes
    PV_* or MQTT_URL (pv_report.py and the collector still refuse them with 78)."""
    gw = gateway()
    env = env_for(tmp_path, gw, enlighten, PV_ORIENTATION="SSE", PV_ARRAYS="nonsense", MQTT_URL="ftp://x")
    run = run_poller(env)
    assert run.code == 0, run.output
    assert len(rows(tmp_path / "state" / "homepower.db")) == 1
    bad = run_poller(dict(env, ENVOY_TIMEOUT="soon"))  # its own settings are checked as before
    assert bad.code == 78 and "ENVOY_TIMEOUT" in bad.stderr, bad.output


def test_an_old_gateway_with_digest_gives_a_reading(tmp_path, gateway, enlighten):
    bodies = {"/info": info_xml("121426016034", "D5.0.62", False), "/api/v1/production": V1}
    gw = gateway(bodies=bodies, digest_paths=("/api/v1/production",))
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 0, run.output
    assert rows(tmp_path / "state" / "homepower.db")[0]["source"] == "v1"


def test_a_gateway_that_stops_answering_times_out_then_exits_69(tmp_path, gateway, enlighten):
    gw = gateway()
    gw.fault("/production.json", "hang")
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_TIMEOUT="0.5", ENVOY_RETRY_S="1", LOG_LEVEL="ERROR"))
    assert run.code == 69, run.output
    # it was reached (TCP and TLS succeeded): the message says it did not answer, not that it cannot be reached
    assert "did not answer /production.json within" in run.stderr and "cannot be reached" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_a_pin_that_cannot_be_written_is_a_configuration_error_not_an_outage(tmp_path, gateway, enlighten):
    gw = gateway()
    (tmp_path / "state" / "gateway-cert.tmp").mkdir(parents=True)  # unwritable, for root too
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_RETRY_S="30"))
    assert run.code == 78, run.output
    assert "gateway-cert.sha256" in run.stderr and "retrying" not in run.stderr


def test_a_pin_that_cannot_be_read_is_a_configuration_error_not_an_outage(tmp_path, gateway, enlighten):
    gw = gateway()
    (tmp_path / "state" / "gateway-cert.sha256").mkdir(parents=True)  # unreadable as a file, for root too
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_RETRY_S="30"))
    assert run.code == 78, run.output
    assert "gateway-cert.sha256" in run.stderr and "retrying" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "info,says",
    [
        ((404, "<html><body>Not Found</body></html>"), "is ENVOY_HOST an IQ Gateway?"),  # another web server
        ("<html><body>router login</body></html>", "is ENVOY_HOST an IQ Gateway?"),  # 200, but not /info's XML
        ((301, ""), "give ENVOY_HOST as https://"),  # firmware 7+ redirecting http:// to https://
    ],
)
def test_a_host_that_is_not_a_gateway_exits_65_saying_what_to_check(info, says, tmp_path, gateway, enlighten):
    gw = gateway(bodies={"/info": info})
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 65, run.output
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert enlighten.logins == 0  # no token asked for a host that is not a gateway


def test_a_gateway_with_no_production_endpoint_exits_65(tmp_path, gateway, enlighten):
    gw = gateway(bodies={"/info": info_xml(SERIAL, "D8.2.4345", True)})  # every other path: 404
    run = run_poller(env_for(tmp_path, gw, enlighten))
    assert run.code == 65, run.output
    assert "gave no production reading" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert rows(tmp_path / "state" / "homepower.db") == []


def test_an_envoy_serial_other_than_the_gateways_is_named_in_a_warning(tmp_path, gateway, enlighten):
    bodies = {"/info": info_xml("121426016034", "D5.0.62", False), "/api/v1/production": V1}
    gw = gateway(bodies=bodies)  # old firmware, no digest asked: the wrong serial does not stop the poll
    run = run_poller(env_for(tmp_path, gw, enlighten, ENVOY_SERIAL="999999999999"))
    assert run.code == 0, run.output
    assert "ENVOY_SERIAL=999999999999" in run.output and "reports serial 121426016034" in run.output
