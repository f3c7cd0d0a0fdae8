"""python -m solar3p fetch (Meteoserver, Open-Meteo) through netio against a fake that answers as real
servers do: every framing, gzip, 503 with Retry-After, a same-host redirect and one elsewhere, a dribble
cut at --timeout, HTTPS_PROXY with a tiny CONNECT proxy."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from tests.fakes.manners import FRAMINGS, Manner
from tests.fakes.proxy import FakeProxy
import test_solar3p_fetch as base
from test_solar3p_fetch import fetch, one_line

fake, env = base.fake, base.env  # the same fixtures: the fake services and the fetch's environment


@pytest.mark.parametrize("framing", FRAMINGS)
def test_meteoserver_and_open_meteo_whatever_the_framing(framing, env, fake):
    fake.manner = Manner(framing=framing, gzip=framing in ("http10", "chunked"))
    for source in ("meteoserver", "open-meteo"):
        result = fetch(env, "--source", source, "--lat", "52.0", "--lon", "4.4")
        assert result.returncode == 0, result.stderr
    assert fake.manner.requests >= 2


def test_a_503_with_a_short_retry_after_is_waited_out(env, fake):
    fake.manner = Manner(busy=[(503, "1")])
    result = fetch(env, "--source", "open-meteo", "--lat", "52.0", "--lon", "4.4")
    assert result.returncode == 0, result.stderr


def test_a_429_asking_past_the_deadline_exits_69_at_once(env, fake):
    fake.manner = Manner(busy=[(429, "3600")])
    result = fetch(env, "--source", "meteoserver", "--location", "Delft")
    assert result.returncode == 69, result.stderr
    one_line(result)
    assert "quota" in result.stderr


def test_a_same_host_redirect_is_followed_and_another_host_refused(env, fake):
    fake.manner = Manner(redirect="same")
    assert fetch(env, "--source", "meteoserver", "--location", "Delft").returncode == 0
    fake.manner = Manner(redirect="http://127.0.0.2:9")
    result = fetch(env, "--source", "meteoserver", "--location", "Delft")
    assert result.returncode == 65, result.stderr
    one_line(result)  # and the key, sent in the query, is not in it
    assert "another host" in result.stderr


def test_a_dribbling_service_is_cut_at_the_timeout(env, fake):
    fake.manner = Manner(dribble_s=0.2)
    result = fetch(env, "--source", "open-meteo", "--lat", "52.0", "--lon", "4.4", "--timeout", "2")
    assert result.returncode == 69, result.stderr
    one_line(result)
    assert "deadline" in result.stderr


def test_https_proxy_carries_the_fetch(tmp_path, env, fake, monkeypatch):
    """Open-Meteo over HTTPS through HTTPS_PROXY: the proxy saw the tunnel, the file was written."""
    from tests.fakes.certs import make_cert

    cert, key = make_cert(tmp_path / "tls", "forecast", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake.server.socket = context.wrap_socket(fake.server.socket, server_side=True)
    port = fake.server.server_address[1]
    with FakeProxy() as proxy:
        settings = dict(env, OPEN_METEO_URL=f"https://127.0.0.1:{port}", HTTPS_PROXY=proxy.url, NO_PROXY="")
        settings["REQUESTS_CA_BUNDLE"] = str(cert)
        settings["METEO_FILE"] = str(tmp_path / "forecast.json")
        result = fetch(settings, "--source", "open-meteo", "--lat", "52.0", "--lon", "4.4")
        assert result.returncode == 0, result.stderr
        assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{port}"}
    assert json.loads(Path(settings["METEO_FILE"]).read_text())["provider"] == "open-meteo"
