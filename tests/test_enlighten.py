"""The gateway token's life through the fakes (real sockets, the poller as cron runs it): obtained from a
(fake) Enlighten, cached 0600, reused, renewed by the contract's rule, renewed once on a 401, ENVOY_TOKEN
without cloud, a dead or hostile Enlighten, rejected and two-factor accounts not asked again within the
hour. The rule itself is unit-tested in test_token_policy.py."""

from __future__ import annotations

import json
import os
import sqlite3
import time

import pytest

import netio

from fakes.enlighten import INSTALLER_LIFETIME_S, FakeEnlighten, make_jwt
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import poller_env, run_poller
from homepower import enlighten as tokens
from homepower import token_policy as policy
from homepower.enlighten import Credentials, TokenSource, jwt_exp
from homepower.errors import AuthError, ConfigError, DataError, UnreachableError

SERIAL = "122233445566"
V1 = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3000, "wattsNow": 4}'
DAY = 86400


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


def state(tmp_path):
    return tmp_path / "state"


def stored_rows(tmp_path) -> int:
    with sqlite3.connect(str(state(tmp_path) / "homepower.db")) as conn:
        return conn.execute("SELECT COUNT(*) FROM enphase_production").fetchone()[0]


def cached(tmp_path) -> str:
    return json.loads((state(tmp_path) / "envoy-token.json").read_text())["token"]


def write_cached(tmp_path, token):
    tokens.write_cache(state(tmp_path), SERIAL, token)


def owner_token(days_left: float) -> str:
    """A year-long owner token with ``days_left`` to go."""
    exp = time.time() + days_left * DAY
    return make_jwt(SERIAL, exp=exp, iat=exp - 365 * DAY)


def creds_of(en: FakeEnlighten, password: str | None = None) -> Credentials:
    return Credentials(en.user, password or en.password, en.url, en.url)


def age_attempt(tmp_path, en, seconds: float, password: str | None = None) -> None:
    """Move the recorded Enlighten attempt ``seconds`` into the past (as if the hour had gone by)."""
    path = state(tmp_path) / "enlighten-attempt.json"
    record = json.loads(path.read_text())
    tokens.write_attempt(state(tmp_path), creds_of(en, password), SERIAL, record["at"] - seconds, record["outcome"])


def test_jwt_exp_is_read_without_checking_the_signature():
    assert jwt_exp(make_jwt(exp=1_900_000_000)) == 1_900_000_000
    assert jwt_exp("not-a-jwt") is None
    assert jwt_exp("a.!!!.c") is None


def test_first_run_logs_in_caches_0600_and_later_runs_reuse(tmp_path, gateway, enlighten):
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1
    path = state(tmp_path) / "envoy-token.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert cached(tmp_path) == enlighten.tokens[0]
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1  # reused
    assert "sessionId" in gateway.requests[-1]["headers"].get("Cookie", "")


@pytest.mark.parametrize("fmt", ["text", "json", "quoted"])
def test_entrez_answers_text_or_json(fmt, tmp_path, gateway, enlighten):
    enlighten.token_format = fmt
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert cached(tmp_path) == enlighten.tokens[0]


# -- the renewal rule, one run per side of each boundary ---------------------------------------------


def test_an_owner_token_is_renewed_30_days_before_expiry_not_earlier(tmp_path, gateway, enlighten):
    write_cached(tmp_path, owner_token(31))
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.calls == []  # 31 days left: not due
    write_cached(tmp_path, owner_token(29))
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1 and cached(tmp_path) == enlighten.tokens[0]


def test_an_installer_token_lives_12_hours_and_costs_no_login_per_poll(tmp_path, gateway):
    with FakeEnlighten(account="installer") as installer:
        for _ in range(3):  # a 5-minute cron
            assert run_poller(env(tmp_path, gateway, installer)).code == 0
        assert installer.logins == 1
        claims = policy.Claims.from_token(cached(tmp_path))
        assert claims.user_type == "installer" and claims.exp - claims.iat == INSTALLER_LIFETIME_S
        age_attempt(tmp_path, installer, 3601)  # that login was over an hour ago
        # 80 minutes left: not yet; 60 minutes left: inside the last tenth (72 min), renewed
        for minutes_left, logins in ((80, 1), (60, 2)):
            exp = time.time() + minutes_left * 60
            write_cached(tmp_path, make_jwt(SERIAL, exp=exp, iat=exp - INSTALLER_LIFETIME_S, account="installer"))
            assert run_poller(env(tmp_path, gateway, installer)).code == 0
            assert installer.logins == logins


def test_a_failed_renewal_keeps_polling_and_is_retried_at_most_hourly(tmp_path, gateway, enlighten):
    old = owner_token(10)
    write_cached(tmp_path, old)
    enlighten.fault = 503
    for _ in range(3):
        run = run_poller(env(tmp_path, gateway, enlighten))
        assert run.code == 0, run.output
    assert enlighten.calls == ["/login/login.json"]  # once, not on every poll
    assert cached(tmp_path) == old
    age_attempt(tmp_path, enlighten, 3601)
    enlighten.fault = None
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    assert enlighten.logins == 1 and cached(tmp_path) == enlighten.tokens[0]


def test_dead_enlighten_with_a_valid_cached_token_keeps_polling(tmp_path, gateway, enlighten):
    old = owner_token(2)  # due for renewal, still valid
    write_cached(tmp_path, old)
    enlighten.stop()
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert cached(tmp_path) == old


def test_dead_enlighten_without_a_token_exits_69(tmp_path, gateway, enlighten):
    enlighten.fault = 503
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 69 and "Enlighten" in run.stderr and "HTTP 503" in run.stderr


def test_expired_cached_token_and_dead_enlighten_exits_69(tmp_path, gateway, enlighten):
    write_cached(tmp_path, make_jwt(SERIAL, exp=time.time() - 60))
    enlighten.stop()
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 69 and "cannot be reached" in run.stderr


# -- rejected credentials, two-factor accounts ------------------------------------------------------


def test_rejected_credentials_are_not_retried_within_the_hour(tmp_path, gateway, enlighten):
    enlighten.lock_after = 5  # a real account locks after a few wrong passwords
    wrong = env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="wrong-pw")
    first = run_poller(wrong)
    assert first.code == 77 and "ENVOY_PASSWORD" in first.stderr and "wrong-pw" not in first.stderr
    for _ in range(11):  # the rest of an hour of 5-minute cron
        again = run_poller(wrong)
        assert again.code == 77 and "not asked again before" in again.stderr, again.output
    assert enlighten.login_attempts == 1 and not enlighten.locked
    record = (state(tmp_path) / "enlighten-attempt.json").read_text()
    assert "wrong-pw" not in record and (state(tmp_path) / "enlighten-attempt.json").stat().st_mode & 0o777 == 0o600
    age_attempt(tmp_path, enlighten, 3601, password="wrong-pw")  # an hour later: asked once more
    assert run_poller(wrong).code == 77 and enlighten.login_attempts == 2
    # the user fixes the password: asked at once
    fixed = run_poller(env(tmp_path, gateway, enlighten))
    assert fixed.code == 0, fixed.output
    assert enlighten.logins == 1


def test_a_two_factor_account_exits_77_saying_envoy_token_is_the_way(tmp_path, gateway, enlighten):
    enlighten.two_factor = True
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77, run.output
    assert "two-factor" in run.stderr and "ENVOY_TOKEN" in run.stderr
    assert "check ENVOY_USER and ENVOY_PASSWORD" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    again = run_poller(env(tmp_path, gateway, enlighten))
    assert again.code == 77 and "two-factor" in again.stderr and "ENVOY_TOKEN" in again.stderr
    assert enlighten.codes_sent == 1  # each login may text the owner a code: not on every poll
    pasted = make_jwt(SERIAL)
    assert run_poller(env(tmp_path, gateway, enlighten, ENVOY_TOKEN=pasted)).code == 0
    assert enlighten.codes_sent == 1


def test_a_malformed_envoy_token_on_a_two_factor_account_is_named(tmp_path, gateway, enlighten):
    enlighten.two_factor = True
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 77
    run = run_poller(env(tmp_path, gateway, enlighten, ENVOY_TOKEN="garbage.not.jwt"))
    assert run.code == 77, run.output
    assert "ENVOY_TOKEN given is not a valid token" in run.stderr, run.stderr
    assert "garbage.not.jwt" not in run.output and len(run.stderr.strip().splitlines()) == 1
    assert enlighten.codes_sent == 1


def test_a_blocked_account_is_named(tmp_path, gateway, enlighten):
    enlighten.locked = True
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77 and "blocked" in run.stderr and "ENVOY_TOKEN" in run.stderr


def test_bad_credentials_exit_77_naming_enlighten(tmp_path, gateway, enlighten):
    run = run_poller(env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="wrong"))
    assert run.code == 77
    assert "Enlighten" in run.stderr and "ENVOY_PASSWORD" in run.stderr and "wrong" not in run.stderr


# -- the gateway's 401 ------------------------------------------------------------------------------


def test_a_401_renews_once_and_retries_once(tmp_path, gateway, enlighten):
    old = make_jwt(SERIAL)
    write_cached(tmp_path, old)
    gateway.revoke(old)
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert enlighten.logins == 1 and cached(tmp_path) == enlighten.tokens[0] != old


def test_a_gateway_that_rejects_fresh_tokens_too_exits_77_without_a_login_per_poll(tmp_path, gateway, enlighten):
    gateway.fault("*", "401")
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77, run.output
    assert enlighten.logins == 2  # a fresh token, then one renewal; no loop
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 77 and "ENVOY_SERIAL" in run.stderr, run.output
    assert enlighten.logins == 2  # the gateway refused a fresh token within the hour: not asked again


def test_a_fresh_token_refused_once_is_renewed_once_and_the_poll_goes_on(tmp_path, gateway, enlighten):
    gateway.fault("/api/v1/production", "401", times=1)  # e.g. the gateway restarted meanwhile
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert enlighten.logins == 2 and cached(tmp_path) == enlighten.tokens[1]


# -- answers that are not what the protocol says, hostile answers ---------------------------------


def test_an_enlighten_login_answered_with_an_html_page_exits_65(tmp_path, gateway, enlighten):
    enlighten.login_page = "<!DOCTYPE html><html><body><h1>We'll be back soon</h1></body></html>"
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 65, run.output
    assert "Enlighten" in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "hostile, path",
    [("huge", "/login/login.json"), ("endless", "/tokens"), ("deep", "/login/login.json"), ("deep", "/tokens")],
)
def test_huge_endless_or_deep_answers_exit_65_and_cache_nothing(hostile, path, tmp_path, gateway, enlighten):
    enlighten.hostile, enlighten.hostile_path = hostile, path
    enlighten.deep = 30_000  # 60 KB: under the cap, so the nesting itself is what is refused
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 65, run.output
    said = "cap" if hostile != "deep" else "JSON" if path == "/login/login.json" else "did not answer a token"
    assert said in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
    assert not (state(tmp_path) / "envoy-token.json").exists()


def test_an_endless_answer_costs_bounded_memory(tmp_path, gateway, enlighten):
    """The poller's own peak memory (measured by the bench's launcher) with an Enlighten that never stops
    sending, against a normal first run: within the contract's 64 MiB above the imports."""
    from bench import proc
    from fakes.harness import PYTHON, ROOT, SCRIPT

    def peak(state_name: str) -> tuple[int, float]:
        run = proc.run(
            [PYTHON, str(SCRIPT)], poller_env(tmp_path / state_name, gateway, enlighten), str(ROOT), 60, False
        )
        return run.returncode, run.maxrss_kib / 1024

    code, normal = peak("normal")
    assert code == 0
    enlighten.hostile = "endless"
    code, hostile = peak("hostile")
    assert code == 65
    assert hostile < normal + 64


def test_a_huge_answer_is_refused_at_the_cap_without_being_read(enlighten):
    enlighten.hostile, enlighten.huge_bytes = "huge", 10**12  # a terabyte announced: refused at once
    with pytest.raises(tokens.ServiceAnswer) as caught:
        tokens.request_token(creds_of(enlighten), SERIAL)
    assert "64 KiB cap" in str(caught.value) and caught.value.service == "Enlighten"


@pytest.mark.parametrize("path", ["/login/login.json", "/tokens"])
def test_a_trickling_service_cannot_stretch_the_deadline(path, enlighten):
    """One byte every 0.05 s: the whole answer would arrive in about 15 s, each byte well within any
    per-read timeout; the conversation's deadline (1 s here) ends it all the same."""
    enlighten.hostile, enlighten.hostile_path, enlighten.trickle_s = "trickle", path, 0.05
    with pytest.raises(tokens.ServiceUnreachable) as caught:
        tokens.request_token(creds_of(enlighten), SERIAL, deadline_s=1.0)
    err = caught.value
    assert "within the 1 s allowed" in str(err) and err.elapsed is not None
    assert err.service == ("Enlighten" if path == "/login/login.json" else "Entrez")  # it ended there
    assert isinstance(err.__cause__, netio.TimedOut)  # the cause is kept


def test_a_slow_service_within_the_deadline_is_fine(enlighten):
    enlighten.delay_s = 0.3
    token = tokens.request_token(creds_of(enlighten), SERIAL, deadline_s=20.0)
    assert token == enlighten.tokens[0]


def test_errors_carry_their_fields_and_cause(enlighten):
    enlighten.fault, enlighten.fault_path = 502, "/tokens"
    with pytest.raises(tokens.ServiceUnreachable) as caught:
        tokens.request_token(creds_of(enlighten), SERIAL)
    assert (caught.value.service, caught.value.status) == ("Entrez", 502)
    enlighten.fault = None
    with pytest.raises(tokens.CredentialsRejected) as rejected:
        tokens.request_token(creds_of(enlighten, "nope"), SERIAL)
    assert (rejected.value.kind, rejected.value.status, rejected.value.user) == ("password", 401, enlighten.user)
    enlighten.login_page = "<html>maintenance</html>"
    with pytest.raises(tokens.ServiceAnswer) as page:
        tokens.request_token(creds_of(enlighten), SERIAL)
    assert isinstance(page.value.__cause__, ValueError)


def test_entrez_down_after_a_good_login_exits_69_naming_entrez(tmp_path, gateway, enlighten):
    enlighten.fault, enlighten.fault_path = 502, "/tokens"
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 69, run.output
    assert "Entrez" in run.stderr and "HTTP 502" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert enlighten.logins == 1 and enlighten.tokens == []


def test_a_serial_entrez_refuses_exits_77(tmp_path, gateway):
    with FakeEnlighten(serials=["999999999999"]) as other:
        run = run_poller(env(tmp_path, gateway, other))
        assert run.code == 77 and "ENVOY_SERIAL" in run.stderr, run.output


# -- files in STATE_DIR, secrets -------------------------------------------------------------------


def test_a_token_cache_found_readable_by_others_is_restored_to_0600_with_one_warning(tmp_path, gateway, enlighten):
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0
    path = state(tmp_path) / "envoy-token.json"
    os.chmod(path, 0o644)
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert run.stderr.count("restored to 0600") == 1 and "WARNING" in run.stderr
    again = run_poller(env(tmp_path, gateway, enlighten))
    assert "restored to 0600" not in again.stderr
    assert enlighten.logins == 1


def test_a_cache_file_that_is_not_understood_is_replaced(tmp_path, gateway, enlighten):
    path = state(tmp_path) / "envoy-token.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"token": ' + "[" * 100_000)
    run = run_poller(env(tmp_path, gateway, enlighten))
    assert run.code == 0, run.output
    assert cached(tmp_path) == enlighten.tokens[0]


def test_no_secret_in_any_output_at_debug(tmp_path, gateway, enlighten):
    """Every token path at LOG_LEVEL=DEBUG: obtain, renew, 401 renewal, failure, two-factor, rejection."""
    outputs = []
    debug = dict(LOG_LEVEL="DEBUG")
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, **debug)))
    write_cached(tmp_path, owner_token(5))
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, **debug)))
    gateway.revoke(cached(tmp_path))
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, **debug)))
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="Wr0ng-Secret", **debug)))
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="Wr0ng-Secret", **debug)))
    enlighten.two_factor = True
    tokens.drop_cache(state(tmp_path))
    outputs.append(run_poller(env(tmp_path, gateway, enlighten, **debug)))
    text = "".join(run.output for run in outputs)
    assert [run.code for run in outputs] == [0, 0, 0, 0, 0, 77], text
    assert "DEBUG" in text
    secrets_seen = [enlighten.password, "Wr0ng-Secret", *enlighten.tokens, *enlighten.sessions]
    for secret in secrets_seen:
        assert secret not in text
    for token in enlighten.tokens:  # not even a recognisable part of one
        assert token.split(".")[2][:16] not in text


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
    assert pasted not in (state(tmp_path) / "envoy-token.json").read_text()
    fresh = make_jwt(SERIAL)  # a newly pasted token is used again, without the cloud
    assert run_poller(env(tmp_path, gateway, enlighten, ENVOY_TOKEN=fresh)).code == 0
    assert enlighten.logins == 1
    assert any(r["headers"].get("Authorization") == f"Bearer {fresh}" for r in gateway.requests)


def test_no_credentials_on_firmware_7_is_a_configuration_error(tmp_path, gateway):
    run = run_poller(env(tmp_path, gateway, None))
    assert run.code == 78 and "ENVOY_USER" in run.stderr


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


@pytest.mark.parametrize("blocker", ["directory", "fifo"])
def test_a_token_cache_that_cannot_be_written_is_found_before_any_login(blocker, tmp_path, gateway, enlighten):
    """A token that could not be kept would cost a login on every 5-minute poll: the run stops first,
    naming the file, and Enlighten is never asked."""
    cache = state(tmp_path) / "envoy-token.json"
    cache.parent.mkdir(parents=True)
    cache.mkdir() if blocker == "directory" else os.mkfifo(cache)
    for _ in range(2):
        run = run_poller(env(tmp_path, gateway, enlighten))
        assert run.code == 78, run.output
        assert str(cache) in run.stderr and "token cache" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert enlighten.login_attempts == 0 and stored_rows(tmp_path) == 0
    cache.rmdir() if blocker == "directory" else cache.unlink()
    assert run_poller(env(tmp_path, gateway, enlighten)).code == 0 and enlighten.logins == 1


def test_no_login_when_the_attempt_record_cannot_be_written(tmp_path, gateway, enlighten):
    (state(tmp_path) / "enlighten-attempt.json").mkdir(parents=True)  # unwritable, for root too
    for _ in range(3):
        run = run_poller(env(tmp_path, gateway, enlighten))
        assert run.code == 78, run.output
        assert "STATE_DIR" in run.stderr and "attempt record" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert enlighten.login_attempts == 0  # a login that cannot be remembered is not made
    wrong = env(tmp_path, gateway, enlighten, ENVOY_PASSWORD="wrong-pw")  # nor a wrong password, ever
    assert run_poller(wrong).code == 78 and enlighten.login_attempts == 0


# -- the token source without processes ----------------------------------------------------------


def test_token_source_renewal_failure_falls_back_only_while_valid(tmp_path):
    creds = Credentials("u@example.com", "pw", "http://127.0.0.1:9", "http://127.0.0.1:9")

    def dead(creds, serial):
        raise UnreachableError("Enlighten down")

    soon = owner_token(0.01)
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


def test_the_attempt_record_holds_a_salted_hash_never_the_password(tmp_path):
    creds = Credentials("u@example.com", "hunter2-pw", "http://x", "http://x")
    tokens.write_attempt(tmp_path, creds, SERIAL, 1_800_000_000, policy.REJECTED)
    first = json.loads((tmp_path / "enlighten-attempt.json").read_text())
    tokens.write_attempt(tmp_path, creds, SERIAL, 1_800_000_000, policy.REJECTED)
    second = json.loads((tmp_path / "enlighten-attempt.json").read_text())
    assert "hunter2" not in json.dumps(first) and first["credentials"] != second["credentials"]  # salted
    assert tokens.read_attempt(tmp_path, creds, SERIAL).same_credentials
    other = Credentials("u@example.com", "hunter3-pw", "http://x", "http://x")
    assert not tokens.read_attempt(tmp_path, other, SERIAL).same_credentials
    assert "hunter2" not in repr(creds)


def test_entrez_body_forms():
    token = make_jwt(SERIAL)
    assert tokens._token_from_body(f"{token}\n") == token
    assert tokens._token_from_body(json.dumps({"token": token, "expires_at": 1})) == token
    assert tokens._token_from_body("opaque-token-without-exp") == "opaque-token-without-exp"
    assert tokens._token_from_body(json.dumps(token)) == token  # a JSON string, quotes and all
    for bad in (
        "",
        "<html><body>Sign in</body></html>",
        '{"message": "no"}',
        "Error: session expired",
        "[" * 50000,
        '{"token": ' + "[" * 50000,
    ):
        with pytest.raises(DataError):
            tokens._token_from_body(bad)
