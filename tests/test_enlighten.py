"""The gateway token's life: obtained from a (fake) Enlighten, cached 0600, reused, renewed within a day of
expiry, renewed once on a 401, ENVOY_TOKEN without cloud, a dead Enlighten with a valid cached token."""

from __future__ import annotations

import json
import time

import pytest

from fakes.enlighten import FakeEnlighten, make_jwt
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import poller_env, run_poller
from homepower import enlighten as tokens
from homepower.enlighten import Credentials, TokenSource, jwt_exp
from homepower.errors import AuthError, ConfigError, DataError, UnreachableError

SERIAL = "122233445566"
V1 = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3000, "wattsNow": 4}'


@pytest.fixture
def enlighten():
    with FakeEnlighten() as fake:
        yield fake


@pytest.fixture
def gateway(tmp_path):
    with FakeGateway(
        bodies={"/info": info_xml(SERIAL, "D7.6.175", False), "/api/v1/production": V1},
        workdir=tmp_path / "certs",
        require_cookie=True,
    ) as gw:
        yield gw


def env(tmp_path, gw, en, **extra):
    return poller_env(tmp_path / "state", gw, en, **extra)


def cached(tmp_path) -> str:
    return json.loads((tmp_path / "state" / "envoy-token.json").read_text())["token"]


def write_cached(tmp_path, token):
    tokens.write_cache(tmp_path / "state", SERIAL, token)


def test_jwt_exp_is_read_without_checking_the_signature():
    assert jwt_exp(make_jwt(exp=1_900_000_000)) == 1_900_000_000
    assert jwt_exp("not-a-jwt") is None
    assert jwt_exp("a.!!!.c") is None


def test_first_run_logs_in_caches_0600_and_later_runs_reuse(tmp_path, gateway, enlighten):
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1
    path = tmp_path / "state" / "envoy-token.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert cached(tmp_path) == enlighten.tokens[0]
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1  # reused
    assert "sessionId" in gateway.requests[-1]["headers"].get("Cookie", "")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_entrez_answers_text_or_json(fmt, tmp_path, gateway, enlighten):
    enlighten.token_format = fmt
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert cached(tmp_path) == enlighten.tokens[0]


def test_token_within_a_day_of_expiry_is_renewed(tmp_path, gateway, enlighten):
    write_cached(tmp_path, make_jwt(SERIAL, exp=time.time() + 3600))
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1
    assert cached(tmp_path) == enlighten.tokens[0]


def test_dead_enlighten_with_a_valid_cached_token_keeps_polling(tmp_path, gateway, enlighten):
    old = make_jwt(SERIAL, exp=time.time() + 3600)  # due for renewal, still valid
    write_cached(tmp_path, old)
    enlighten.stop()
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert cached(tmp_path) == old


def test_dead_enlighten_without_a_token_exits_69(tmp_path, gateway, enlighten):
    enlighten.fault = 503
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 69 and "Enlighten" in run.stderr


def test_expired_cached_token_and_dead_enlighten_exits_69(tmp_path, gateway, enlighten):
    write_cached(tmp_path, make_jwt(SERIAL, exp=time.time() - 60))
    enlighten.stop()
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 69


def test_a_401_renews_once_and_retries_once(tmp_path, gateway, enlighten):
    old = make_jwt(SERIAL)
    write_cached(tmp_path, old)
    gateway.revoke(old)
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert enlighten.logins == 1 and cached(tmp_path) == enlighten.tokens[0] != old


def test_a_gateway_that_rejects_fresh_tokens_too_exits_77(tmp_path, gateway, enlighten):
    gateway.fault("*", "401")
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77, run.output
    assert enlighten.logins == 2  # a fresh token, then one renewal; no loop
    write_cached(tmp_path, make_jwt(SERIAL))
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77, run.output
    assert enlighten.logins == 3  # the cached token, then one renewal; no loop


def test_a_fresh_token_refused_once_is_renewed_once_and_the_poll_goes_on(tmp_path, gateway, enlighten):
    gateway.fault("/api/v1/production", "401", times=1)  # e.g. the gateway restarted meanwhile
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert enlighten.logins == 2 and cached(tmp_path) == enlighten.tokens[1]


def test_an_enlighten_login_answered_with_an_html_page_exits_65(tmp_path, gateway, enlighten):
    enlighten.login_page = "<!DOCTYPE html><html><body><h1>We'll be back soon</h1></body></html>"
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 65, run.output
    assert "Enlighten" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_bad_credentials_exit_77_naming_enlighten(tmp_path, gateway, enlighten):
    run = run_poller(env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="wrong"))
    assert run.code == 77
    assert "Enlighten" in run.stderr and "ENVOY_PASSWORD" in run.stderr and "wrong" not in run.stderr


def test_pasted_envoy_token_needs_no_cloud(tmp_path, gateway, enlighten):
    enlighten.stop()
    pasted = make_jwt(SERIAL)
    run = run_poller(env(tmp_path, gateway, None, ENVOY_TOKEN=f"  {pasted[:40]}\n {pasted[40:]}  \n"))
    assert run.code == 0, run.output
    gateway.revoke(pasted)
    run = run_poller(env(tmp_path, gateway, None, ENVOY_TOKEN=pasted))
    assert run.code == 77 and "ENVOY_TOKEN" in run.stderr


def test_a_rejected_envoy_token_is_replaced_once_not_on_every_run(tmp_path, gateway, enlighten):
    pasted = make_jwt(SERIAL)
    gateway.revoke(pasted)  # e.g. the gateway was reset; the user still has it in .env
    for _ in range(3):
        run = run_poller(env(tmp_path, gateway, enlighten, ENVOY_TOKEN=pasted))
        assert run.code == 0, run.output
    assert enlighten.logins == 1  # the replacement from Enlighten is cached and used from then on
    assert pasted not in (tmp_path / "state" / "envoy-token.json").read_text()
    fresh = make_jwt(SERIAL)  # a newly pasted token is used again, without the cloud
    assert run_poller(env(tmp_path, gateway, enlighten, ENVOY_TOKEN=fresh)).code == 0
    assert enlighten.logins == 1
    assert any(r["headers"].get("Authorization") == f"Bearer {fresh}" for r in gateway.requests)


def test_no_credentials_on_firmware_7_is_a_configuration_error(tmp_path, gateway):
    run = run_poller(env(tmp_path, gateway, None))
    assert run.code == 78 and "ENVOY_USER" in run.stderr


# -- the token source without processes ----------------------------------------------------------


def test_token_source_renewal_failure_falls_back_only_while_valid(tmp_path):
    creds = Credentials("u@example.com", "pw", "http://127.0.0.1:9", "http://127.0.0.1:9")

    def dead(creds, serial):
        raise UnreachableError("Enlighten down")

    soon = make_jwt(SERIAL, exp=time.time() + 600)
    tokens.write_cache(tmp_path, SERIAL, soon)
    assert TokenSource(creds, tmp_path, fetch=dead).token(SERIAL) == soon
    tokens.write_cache(tmp_path, SERIAL, make_jwt(SERIAL, exp=time.time() - 1))
    with pytest.raises(UnreachableError):
        TokenSource(creds, tmp_path, fetch=dead).token(SERIAL)
    # a cache for another gateway is not used
    tokens.write_cache(tmp_path, "999", make_jwt("999"))
    fresh = make_jwt(SERIAL)
    assert TokenSource(creds, tmp_path, fetch=lambda c, s: fresh).token(SERIAL) == fresh


def test_expired_pasted_token_without_credentials_is_77(tmp_path):
    creds = Credentials(None, None, "http://x", "http://x")
    with pytest.raises(AuthError):
        TokenSource(creds, tmp_path, pasted=make_jwt(exp=time.time() - 5)).token(SERIAL)
    with pytest.raises(ConfigError):
        TokenSource(creds, tmp_path).token(SERIAL)


def test_entrez_body_forms():
    token = make_jwt(SERIAL)
    assert tokens._token_from_body(f"{token}\n") == token
    assert tokens._token_from_body(json.dumps({"token": token, "expires_at": 1})) == token
    assert tokens._token_from_body("opaque-token-without-exp") == "opaque-token-without-exp"
    assert tokens._token_from_body(json.dumps(token)) == token  # a JSON string, quotes and all
    for bad in ("", "<html><body>Sign in</body></html>", '{"message": "no"}', "Error: session expired"):
        with pytest.raises(DataError):
            tokens._token_from_body(bad)


def test_enlighten_over_https_is_verified_normally(tmp_path, gateway):
    """Enlighten's certificate is checked like any web site's: a self-signed one is refused in one line,
    and trusted once the user names its CA (SSL_CERT_FILE, as for other OpenSSL tools)."""
    with FakeEnlighten(tls_dir=tmp_path / "enlighten-tls") as https_enlighten:
        base = env(tmp_path, gateway, https_enlighten)
        base = {k: v for k, v in base.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
        refused = run_poller(base)
        assert refused.code == 69, refused.output
        assert "Enlighten" in refused.stderr and "not trusted" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and https_enlighten.logins == 0
        trusted = run_poller(dict(base, SSL_CERT_FILE=str(https_enlighten.cert)))
        assert trusted.code == 0, trusted.output
        assert https_enlighten.logins == 1


def test_a_token_cache_that_cannot_be_written_is_a_configuration_error(tmp_path, gateway, enlighten):
    (tmp_path / "state" / "envoy-token.json").mkdir(parents=True)  # unwritable, for root too
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 78, run.output
    assert "token cache" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.startswith(".")]  # no temp file left


def test_entrez_down_after_a_good_login_exits_69_naming_entrez(tmp_path, gateway, enlighten):
    enlighten.fault, enlighten.fault_path = 502, "/tokens"
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 69, run.output
    assert "Entrez" in run.stderr and "HTTP 502" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert enlighten.logins == 1 and enlighten.tokens == []
