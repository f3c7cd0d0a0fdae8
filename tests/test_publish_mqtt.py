"""Sending to a real Mosquitto (started per test on a free loopback port, password file, stopped after):
what a subscriber gets, and every way a broker can fail, each one exit code and one line without the
password."""

from __future__ import annotations

import socketserver
import threading
import time

import pytest

from homepower.mqtt import BrokerRefused, BrokerUnreachable, send
from homepower.publish import Message
from homepower.settings import parse_mqtt_url
from tests.fakes import mosquitto

pytestmark = pytest.mark.skipif(mosquitto.available() is not None, reason=str(mosquitto.available()))

MESSAGES = [Message("homepower/a", b'{"x":1}'), Message("homeassistant/sensor/homepower/a/config", b"{}")]


@pytest.fixture
def broker(tmp_path):
    b = mosquitto.start(tmp_path / "broker")
    yield b
    b.stop()


def test_messages_arrive_retained_for_a_subscriber_that_comes_later(broker):
    send(parse_mqtt_url(broker.url()), MESSAGES)
    assert broker.retained(expect=2) == {m.topic: m.payload for m in MESSAGES}
    send(parse_mqtt_url(broker.url()), [Message("homepower/a", b'{"x":2}')])  # a later run replaces it
    assert broker.retained(expect=2)["homepower/a"] == b'{"x":2}'


def test_a_message_above_the_brokers_size_limit_is_69_saying_so(tmp_path):
    """Found in review: the broker drops the client without acknowledging what came before, so the line
    named an innocent message and never the size."""
    b = mosquitto.start(tmp_path / "broker", extra="max_packet_size 1000\n")
    try:
        with pytest.raises(BrokerUnreachable) as err:
            send(parse_mqtt_url(b.url()), [*MESSAGES, Message("homepower/big", b"x" * 3000)])
    finally:
        b.stop()
    assert err.value.exit_code == 69
    assert "size limit (max_packet_size): the largest here is 3000 bytes" in str(err.value)


@pytest.mark.parametrize(
    "user,password", [("alice", "not-her-password"), ("mallory", "hunter2"), (None, None)], ids=str
)
def test_refused_credentials_are_77_naming_the_user_never_the_password(broker, user, password):
    with pytest.raises(BrokerRefused) as err:
        send(parse_mqtt_url(broker.url(user, password)), MESSAGES)
    assert err.value.exit_code == 77
    text = str(err.value)
    assert "MQTT_URL" in text and (user or "anonymous") in text
    for secret in ("not-her-password", "hunter2", broker.users["alice"]):
        assert secret not in text
    assert broker.retained() == {}


def test_a_broker_that_is_down_is_69(tmp_path):
    port = mosquitto.free_port()  # nothing listens there
    with pytest.raises(BrokerUnreachable) as err:
        send(parse_mqtt_url(f"mqtt://alice:secret@127.0.0.1:{port}"), MESSAGES)
    assert err.value.exit_code == 69 and "connection refused" in str(err.value)
    assert "secret" not in str(err.value)


class _Silent(socketserver.BaseRequestHandler):
    def handle(self):
        time.sleep(30)  # takes the connection and never says a word


def test_a_broker_that_accepts_and_never_answers_is_69_within_the_deadline():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(BrokerUnreachable) as err:
            send(parse_mqtt_url(f"mqtt://alice:pw@127.0.0.1:{server.server_address[1]}"), MESSAGES, deadline_s=1.5)
        assert time.monotonic() - started < 10  # bounded: it gave up, it did not hang
        assert err.value.exit_code == 69 and "did not answer" in str(err.value)
    finally:
        server.shutdown()
        server.server_close()


def test_a_publish_the_broker_refuses_is_77_naming_the_topic(tmp_path):
    b = mosquitto.start(tmp_path / "broker", acl="user alice\ntopic readwrite homepower/#")
    try:
        with pytest.raises(BrokerRefused) as err:
            send(parse_mqtt_url(b.url()), MESSAGES)
        assert "homeassistant/sensor/homepower/a/config" in str(err.value)
        assert "HA_DISCOVERY_PREFIX" in str(err.value)
    finally:
        b.stop()


def test_mqtts_is_checked_against_the_system_cas(tmp_path, monkeypatch):
    b = mosquitto.start(tmp_path / "broker", tls=True)
    try:
        with pytest.raises(BrokerRefused) as err:  # self-signed: not among the system's CAs
            send(parse_mqtt_url(b.url(tls=True)), MESSAGES)
        assert "not trusted" in str(err.value) and err.value.exit_code == 77
        monkeypatch.setenv("SSL_CERT_FILE", str(b.ca))  # now this system trusts it (as a CA-signed one would be)
        send(parse_mqtt_url(b.url(tls=True)), MESSAGES)
        assert b.retained(expect=2) == {m.topic: m.payload for m in MESSAGES}
        with pytest.raises(BrokerUnreachable) as err:  # mqtts:// to the plain listener
            send(parse_mqtt_url(f"mqtts://alice:x@localhost:{b.port}"), MESSAGES)
        assert "TLS" in str(err.value)
    finally:
        b.stop()
