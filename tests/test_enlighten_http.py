"""The first poll of a firmware 7+ gateway, whatever conforming server Enlighten/Entrez is: every framing
(HTTP/1.0, Connection: close, keep-alive, chunked, until-close), gzip, a 503 with Retry-After, a same-host
redirect; a redirect elsewhere refused; HTTPS_PROXY used for Enlighten and never for the gateway."""

from __future__ import annotations

import pytest

from fakes.enlighten import FakeEnlighten
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import poller_env, run_poller
from homepower import enlighten as tokens
from tests.fakes.manners import FRAMINGS, Manner
from tests.fakes.proxy import FakeProxy

SERIAL = "122233445566"
V1 = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3000, "wattsNow": 4}'


@pytest.fixture
def gateway(tmp_path):
    with FakeGateway(
        bodies={"/info": info_xml(SERIAL, "D7.6.175", False), "/api/v1/production": V1},
        workdir=tmp_path / "certs",
        require_cookie=True,
    ) as gw:
        yield gw


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_first_poll_works_whatever_framing_enlighten_answers_in(framing, tmp_path, gateway):
    """The live bug: an Enlighten answering ``Connection: close`` made every first poll exit 69."""
    with FakeEnlighten() as enlighten:
        enlighten.manner = Manner(framing=framing, gzip=framing == "chunked")
        run = run_poller(poller_env(tmp_path / "state", gateway, enlighten))
    assert run.code == 0, run.output
    assert enlighten.logins == 1 and len(enlighten.tokens) == 1 and enlighten.manner.requests == 2
    assert any(r["path"] == "/api/v1/production" for r in gateway.requests)


def creds(enlighten: FakeEnlighten) -> tokens.Credentials:
    return tokens.Credentials(enlighten.user, enlighten.password, enlighten.url, enlighten.url)


def test_a_503_with_a_short_retry_after_is_waited_out():
    with FakeEnlighten() as enlighten:
        enlighten.manner = Manner(busy=[(503, "1")])
        token = tokens.request_token(creds(enlighten), SERIAL)
    assert token == enlighten.tokens[0] and enlighten.logins == 1


def test_a_429_asking_for_more_than_the_deadline_is_69_at_once():
    with FakeEnlighten() as enlighten:
        enlighten.manner = Manner(busy=[(429, "600")])
        with pytest.raises(tokens.ServiceUnreachable) as caught:
            tokens.request_token(creds(enlighten), SERIAL)
    assert caught.value.status == 429 and "10 min" in str(caught.value) and enlighten.login_attempts == 0


def test_a_same_host_redirect_is_followed_and_another_host_is_not():
    with FakeEnlighten() as enlighten:
        enlighten.manner = Manner(redirect="same")
        assert tokens.request_token(creds(enlighten), SERIAL) == enlighten.tokens[0]
        with FakeEnlighten() as elsewhere:
            enlighten.manner = Manner(redirect=elsewhere.url)
            with pytest.raises(tokens.ServiceAnswer) as caught:
                tokens.request_token(creds(enlighten), SERIAL)
            assert elsewhere.calls == []  # the password never went there
    assert caught.value.exit_code == 65 and "another host" in str(caught.value)


def test_https_proxy_carries_enlighten_and_never_the_gateway(tmp_path, gateway):
    with FakeEnlighten(tls_dir=tmp_path / "enlighten-tls") as enlighten, FakeProxy() as proxy:
        env = poller_env(
            tmp_path / "state", gateway, enlighten, HTTPS_PROXY=proxy.url, REQUESTS_CA_BUNDLE=str(enlighten.cert)
        )
        run = run_poller(env)
        assert run.code == 0, run.output
        assert proxy.tunnels == [f"127.0.0.1:{enlighten.port}"] * len(proxy.tunnels) and proxy.tunnels
        assert enlighten.logins == 1
        no_proxy = run_poller(
            dict(env, NO_PROXY="127.0.0.1", ENVOY_TOKEN=""), "--dry-run"
        )  # the cached token: the gateway only
        assert no_proxy.code == 0, no_proxy.output
    assert all(t == f"127.0.0.1:{enlighten.port}" for t in proxy.tunnels)  # the gateway never went through it
