"""netio, the one HTTP client, against loopback servers that answer as real ones do (tests/fakes/manners)."""

from __future__ import annotations

import json
import time

import pytest

import netio
from netio.client import Conversation, new_session, retry_after, shown_url
from tests.fakes.manners import FRAMINGS, Manner
from tests.fakes.proxy import FakeProxy
from tests.fakes.service import FakeService


@pytest.fixture
def service():
    with FakeService() as fake:
        yield fake


def talk(deadline_s: float = 10.0, **kwargs) -> Conversation:
    return Conversation("Example", deadline_s, **kwargs)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("framing", FRAMINGS)
def test_every_framing_gives_the_whole_body_twice_in_a_row(service, framing, compressed):
    """HTTP/1.0, Connection: close, keep-alive, chunked and until-close bodies, plain or gzip: the
    second request of the conversation works too (after a close, on a new connection)."""
    service.manner = Manner(framing=framing, gzip=compressed)
    big = "x" * 5000
    service.answers["/big"] = (200, json.dumps({"pad": big}))
    with talk() as conversation:
        first = conversation.post(service.url + "/login", cap=64 * 1024, data={"user": "a"})
        second = conversation.get(service.url + "/big", cap=64 * 1024)
    assert first.status == 200 and first.json()["body"] == "user=a"
    assert second.json() == {"pad": big}
    assert service.manner.requests == 2


def test_keep_alive_reuses_one_connection_and_close_opens_another(service):
    with talk() as conversation:
        for _ in range(3):
            conversation.get(service.url + "/a", cap=1024)
    assert service.connections == 1
    service.manner = Manner(framing="close")
    with talk() as conversation:
        for _ in range(3):
            conversation.get(service.url + "/a", cap=1024)
    assert service.connections == 1 + 3


def test_retry_after_is_waited_out_when_it_fits_the_deadline(service):
    service.manner = Manner(busy=[(503, "1"), (429, "0")])
    waits: list[float] = []
    with talk(sleep=waits.append) as conversation:
        reply = conversation.get(service.url + "/forecast", cap=1024)
    assert reply.status == 200 and waits == [1.0, 0.0]
    assert [path for _, path in service.calls] == ["/forecast"]  # the busy answers came first


def test_retry_after_beyond_the_deadline_is_one_error_with_the_wait(service):
    service.manner = Manner(busy=[(429, "3600")])
    with talk(deadline_s=30) as conversation, pytest.raises(netio.ServerError) as caught:
        conversation.get(service.url + "/estimate", cap=1024)
    err = caught.value
    assert err.exit_code == 69 and err.status == 429 and err.retry_after == 3600
    assert "too many requests" in str(err) and "60 min" in str(err)
    assert err.service == "Example" and err.url == service.url + "/estimate"


def test_a_server_error_without_retry_after_is_not_retried(service):
    service.manner = Manner(busy=[(503, None), (503, None)])
    with talk() as conversation, pytest.raises(netio.ServerError) as caught:
        conversation.get(service.url + "/x", cap=1024)
    assert caught.value.status == 503 and service.manner.requests == 1


def test_a_same_host_redirect_is_followed_with_the_body_of_a_307(service):
    service.manner = Manner(redirect="same")
    with talk() as conversation:
        reply = conversation.post(service.url + "/login", cap=1024, data={"k": "v"})
    assert reply.status == 200 and reply.json() == {"path": "/login", "method": "POST", "body": "k=v"}


def test_a_redirect_to_another_host_is_refused_and_never_followed(service):
    with FakeService() as elsewhere:
        service.manner = Manner(redirect=elsewhere.url)
        with talk() as conversation, pytest.raises(netio.BadAnswer) as caught:
            conversation.get(service.url + "/login", cap=1024)
        assert elsewhere.calls == []
    assert caught.value.exit_code == 65 and "another host" in str(caught.value)


def test_a_server_dribbling_a_byte_at_a_time_is_cut_at_the_deadline(service):
    """Every read succeeds within the per-read timeout; only the deadline over the whole conversation
    can stop it (the answer would take about a minute)."""
    service.manner = Manner(dribble_s=0.3)
    started = time.monotonic()
    with talk(deadline_s=1.5, read_timeout=5) as conversation, pytest.raises(netio.TimedOut) as caught:
        conversation.get(service.url + "/slow", cap=1024)
    assert caught.value.exit_code == 69 and "1.5 s" in str(caught.value)
    assert time.monotonic() - started < 30  # not the minute the whole answer takes


@pytest.mark.parametrize("framing", ["length", "chunked", "until-close"])
def test_a_body_over_the_cap_is_refused_without_reading_it_all(service, framing):
    service.manner = Manner(framing=framing)
    service.answers["/huge"] = (200, "y" * 200_000)
    with talk() as conversation, pytest.raises(netio.TooLarge) as caught:
        conversation.get(service.url + "/huge", cap=10_000)
    assert caught.value.exit_code == 65 and caught.value.cap == 10_000


def test_the_cap_counts_decompressed_bytes(service):
    service.manner = Manner(gzip=True)
    service.answers["/bomb"] = (200, "0" * 2_000_000)  # about 2 KB on the wire
    with talk() as conversation, pytest.raises(netio.TooLarge):
        conversation.get(service.url + "/bomb", cap=100_000)


def test_a_closed_port_is_unreachable_with_a_short_cause():
    with talk() as conversation, pytest.raises(netio.ConnectFailed) as caught:
        conversation.get("http://127.0.0.1:9/x", cap=1024)
    assert caught.value.exit_code == 69 and caught.value.reason == "connection refused"
    assert "127.0.0.1:9/x cannot be reached (connection refused)" in str(caught.value)


def test_no_secret_in_any_message(service):
    service.manner = Manner(busy=[(503, None)])
    service.answers = {}
    key = "k3y-SECRET-123"
    with talk(secrets=(key,), hint="try again later") as conversation, pytest.raises(netio.ServerError) as caught:
        conversation.get(f"{service.url}/{key}/estimate", cap=1024, params={"api_key": key})
    text = str(caught.value)
    assert key not in text and key not in caught.value.url and text.endswith("; try again later")
    assert shown_url("https://user:pw@host:8443/a/b?token=t") == "https://host:8443/a/b"


def test_the_proxy_of_the_environment_is_used_for_cloud_services_and_never_with_trust_env_off(tmp_path, monkeypatch):
    with FakeService(tls_dir=tmp_path) as cloud, FakeProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cloud.cert))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with talk() as conversation:
            assert conversation.get(cloud.url + "/a", cap=1024).status == 200
        assert proxy.tunnels == [f"127.0.0.1:{cloud.port}"]
        with talk(session=new_session(trust_env=False, verify=str(cloud.cert))) as conversation:
            assert conversation.get(cloud.url + "/b", cap=1024).status == 200
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        with talk() as conversation:
            assert conversation.get(cloud.url + "/c", cap=1024).status == 200
        assert len(proxy.tunnels) == 1  # neither the LAN session nor a NO_PROXY host went through it


def test_an_untrusted_certificate_is_a_tls_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with FakeService(tls_dir=tmp_path) as cloud:
        with talk() as conversation, pytest.raises(netio.TLSFailed) as caught:
            conversation.get(cloud.url + "/a", cap=1024)
    assert caught.value.exit_code == 69 and caught.value.reason == "certificate verify failed"


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("120") == 120
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412480 - 60) == 60
    assert retry_after("soon") is None and retry_after(None) is None


def test_an_absurd_retry_after_is_capped_not_a_crash():
    """Found in review: Retry-After 99999999999999999999 ended every script with 70 (OverflowError)."""
    assert retry_after("99999999999999999999") == retry_after("999999999999999") == 366 * 86400
    assert retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=lambda: 0) == 366 * 86400
    assert retry_after("\u00b2") is None  # a digit to str.isdigit, not to float


@pytest.mark.parametrize("value", ["99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_server_asking_to_wait_centuries_is_one_69_error(service, value):
    service.manner = Manner(busy=[(429, value)])
    with talk(deadline_s=30) as conversation, pytest.raises(netio.ServerError) as caught:
        conversation.get(service.url + "/estimate", cap=1024)
    assert caught.value.exit_code == 69 and "too many requests" in str(caught.value)


def test_the_exit_codes_of_the_family():
    fields = dict(service="S", url="https://s/x")
    assert netio.Refused("refused the key", **fields).exit_code == 77
    assert netio.BadAnswer("?", **fields).exit_code == 65
    assert netio.Misconfigured("?", **fields).exit_code == 78
    assert str(netio.Unreachable("cannot be reached", **fields).with_hint("later")) == (
        "S https://s/x cannot be reached; later"
    )
