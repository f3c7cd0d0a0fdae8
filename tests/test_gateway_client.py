"""The gateway client's retry through the nightly outage, on a real closed port (no server answers)."""
from __future__ import annotations

import socket

import pytest

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

    client = GatewayClient(f"http://127.0.0.1:{closed_port()}", "pin", tmp_path, timeout=2, retry_s=40,
                           sleep=sleep, clock=lambda: now[0])
    with pytest.raises(UnreachableError) as err:
        client.get("/info", auth=False)
    assert waits == [1, 2, 4, 8, 10, 10, 5]  # doubling, capped at 10 s, never past the deadline
    assert err.value.exit_code == 69
    assert "connection refused" in str(err.value) and "ENVOY_RETRY_S" in str(err.value)


def test_no_retry_when_envoy_retry_s_is_zero(tmp_path):
    waits = []
    client = GatewayClient(f"http://127.0.0.1:{closed_port()}", "pin", tmp_path, timeout=2, retry_s=0,
                           sleep=waits.append)
    with pytest.raises(UnreachableError):
        client.get("/info", auth=False)
    assert waits == []
