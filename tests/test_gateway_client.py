"""The gateway client's retry through the nightly outage, on a real closed port (no server answers)."""

from __future__ import annotations

import socket

import pytest

import netio

from homepower.errors import UnreachableError
from homepower.gateway.client import GatewayClient


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connection_refused_is_retried_with_backoff_until_envoy_retry_s(tmp_path):
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    client = GatewayClient(
        f"http://127.0.0.1:{closed_port()}", "pin", tmp_path, timeout=2, retry_s=40, sleep=sleep, clock=lambda: now[0]
    )
    with pytest.raises(UnreachableError) as err:
        client.get("/info", auth=False)
    assert waits == [1, 2, 4, 8, 10, 10, 5]  # doubling, capped at 10 s, never past the deadline
    assert err.value.exit_code == 69
    assert "connection refused" in str(err.value) and "ENVOY_RETRY_S" in str(err.value)


def test_no_retry_when_envoy_retry_s_is_zero(tmp_path):
    waits = []
    client = GatewayClient(
        f"http://127.0.0.1:{closed_port()}", "pin", tmp_path, timeout=2, retry_s=0, sleep=waits.append
    )
    with pytest.raises(UnreachableError):
        client.get("/info", auth=False)
    assert waits == []


def test_a_slow_failing_gateway_does_not_stretch_envoy_retry_s(tmp_path):
    """A gateway that accepts and never answers: every attempt costs its whole timeout (simulated time).
    The retry window counts from the first attempt and the last attempts are cut to what is left, so exit
    69 comes about ENVOY_RETRY_S after the start, not ENVOY_TIMEOUT + ENVOY_RETRY_S + ENVOY_TIMEOUT."""
    now = [0.0]
    timeouts = []

    class Client(GatewayClient):  # each attempt: the gateway accepted, then the read timed out
        def _attempt(self, path, headers, auth, cap, timeout):
            timeouts.append(timeout)
            now[0] += timeout
            raise netio.NoAnswer("accepted the connection but did not answer", service="gateway", url=path)

    def sleep(seconds):
        now[0] += seconds

    client = Client("http://127.0.0.1:9", "pin", tmp_path, timeout=10, retry_s=40, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(UnreachableError) as err:
        client.get("/info", auth=False)
    assert "did not answer /info within 40" in str(err.value)  # reached (it accepted), and silent
    assert now[0] <= 41  # the window, plus at most one short last attempt
    assert timeouts[0] == 10 and all(t <= 10 for t in timeouts)


def test_the_session_cookie_is_carried_and_dropped_with_its_token(tmp_path):
    """Over real HTTPS with the pin: check_jwt's cookie goes with later requests (firmware that wants it
    refuses without); a new token starts without the old token's cookie."""
    from fakes.enlighten import make_jwt
    from fakes.gateway import FakeGateway, info_xml

    serial = "122233445566"
    bodies = {"/info": info_xml(serial, "D7.6.175", True), "/api/v1/production": '{"wattHoursLifetime": 5}'}
    with FakeGateway(bodies=bodies, workdir=tmp_path, require_cookie=True) as gw:
        client = GatewayClient(gw.url, "pin", tmp_path / "state", timeout=5, retry_s=0)
        try:
            client.set_token(make_jwt(serial))
            assert client.get("/api/v1/production").status == 401  # no cookie yet
            client.check_jwt()
            assert client.get("/api/v1/production").status == 200
            assert gw.requests[-1]["headers"]["Cookie"] == f"sessionId={next(iter(gw.sessions))}"
            assert "Bearer" in gw.requests[-1]["headers"]["Authorization"]
            client.set_token(make_jwt(serial))
            assert client.get("/api/v1/production").status == 401
            assert "Cookie" not in gw.requests[-1]["headers"]
            assert client.pending_pin == gw.fingerprint  # seen, not yet pinned: /info was not asked
            client.confirm_gateway()
        finally:
            client.close()
    assert (tmp_path / "state" / "gateway-cert.sha256").read_text().strip() == gw.fingerprint
