"""The gateway client (netio underneath) against a fake gateway that answers as real servers do: every
framing, gzip, a 503 with Retry-After, a same-host redirect (and one elsewhere refused), a dribble cut at
the run's deadline, a body over the cap, digest auth for old firmware."""

from __future__ import annotations

import pytest

from fakes.enlighten import make_jwt
from fakes.gateway import FakeGateway, info_xml
from homepower.errors import DataError, UnreachableError
from homepower.gateway.client import GatewayClient
from tests.fakes.manners import FRAMINGS, Manner

SERIAL = "122233445566"
V1 = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3000, "wattsNow": 4}'


@pytest.fixture
def gateway(tmp_path):
    bodies = {"/info": info_xml(SERIAL, "D7.6.175", False), "/api/v1/production": V1}
    with FakeGateway(bodies=bodies, workdir=tmp_path / "certs", require_cookie=True) as gw:
        yield gw


def client_for(gw: FakeGateway, tmp_path, timeout: float = 5, retry_s: float = 0) -> GatewayClient:
    return GatewayClient(gw.url, "pin", tmp_path / "state", timeout=timeout, retry_s=retry_s)


def token_conversation(client: GatewayClient) -> str:
    """/info, then check_jwt's cookie, then the data path: a firmware 7 poll's requests."""
    assert "envoy_info" in client.get("/info", auth=False).text
    client.confirm_gateway()
    client.set_token(make_jwt(SERIAL))
    assert client.check_jwt().status == 200
    answer = client.get("/api/v1/production")
    assert answer.status == 200
    return answer.text


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_poll_conversation_works_whatever_the_framing(framing, compressed, tmp_path, gateway):
    gateway.manner = Manner(framing=framing, gzip=compressed)
    client = client_for(gateway, tmp_path)
    try:
        assert token_conversation(client) == V1
    finally:
        client.close()
    assert gateway.manner.requests == 3


def test_a_503_with_retry_after_is_waited_out_within_the_run(tmp_path, gateway):
    gateway.manner = Manner(busy=[(503, "1")])
    client = client_for(gateway, tmp_path)
    try:
        assert client.get("/info", auth=False).status == 200
    finally:
        client.close()
    assert gateway.manner.requests == 2


def test_a_503_asking_for_longer_than_the_run_is_69(tmp_path, gateway):
    gateway.manner = Manner(busy=[(503, "600")])
    client = client_for(gateway, tmp_path)
    with pytest.raises(UnreachableError) as caught:
        client.get("/info", auth=False)
    client.close()
    assert "HTTP 503" in str(caught.value) and caught.value.exit_code == 69


def test_a_same_host_redirect_is_followed_and_one_elsewhere_is_65(tmp_path, gateway):
    gateway.manner = Manner(redirect="same")
    client = client_for(gateway, tmp_path)
    try:
        assert token_conversation(client) == V1
    finally:
        client.close()
    with FakeGateway(bodies={"/info": info_xml(SERIAL)}, workdir=tmp_path / "other") as elsewhere:
        gateway.manner = Manner(redirect=elsewhere.url)
        client = client_for(gateway, tmp_path)
        with pytest.raises(DataError) as caught:
            client.get("/info", auth=False)
        client.close()
        assert elsewhere.requests == []
    assert "another host" in str(caught.value)


def test_a_dribbling_gateway_is_cut_at_the_runs_deadline(tmp_path, gateway):
    """A byte every 0.2 s is within any per-read timeout; the run's limit (ENVOY_RETRY_S + ENVOY_TIMEOUT
    = 2 s here) ends it."""
    client = client_for(gateway, tmp_path, timeout=2)
    client.get("/info", auth=False)  # pinned and connected before the dribbling starts
    gateway.manner = Manner(dribble_s=0.2)
    with pytest.raises(UnreachableError) as caught:
        client.get("/info", auth=False)
    client.close()
    assert "had not finished answering /info" in str(caught.value)


def test_a_body_over_the_cap_is_65_without_reading_it_all(tmp_path, gateway):
    gateway.bodies["/api/v1/production"] = '{"pad": "' + "x" * 200_000 + '"}'
    gateway.manner = Manner(framing="chunked")
    client = client_for(gateway, tmp_path)
    with pytest.raises(DataError) as caught:
        token_conversation(client)
    client.close()
    assert "more than 64 KiB" in str(caught.value)


@pytest.mark.parametrize("framing", ["length", "close"])
def test_digest_for_old_firmware_is_answered_once_then_sent_ahead(framing, tmp_path):
    bodies = {"/info": info_xml(SERIAL, "R4.10.35", None), "/api/v1/production": V1}
    with FakeGateway(bodies=bodies, workdir=tmp_path, tls=False, digest_paths=("/api/v1/production",)) as gw:
        gw.manner = Manner(framing=framing)
        client = client_for(gw, tmp_path)
        try:
            client.use_digest(SERIAL)
            assert client.get("/api/v1/production").text == V1
            assert client.get("/api/v1/production").text == V1
        finally:
            client.close()
    asked = [r for r in gw.requests if r["path"] == "/api/v1/production"]
    assert [("Authorization" in r["headers"]) for r in asked] == [False, True, True]  # one challenge only
