"""Sending retained messages to an MQTT broker (paho-mqtt, MQTT 5), within one deadline.

One short conversation per run, as cron wants it: connect, wait for the broker's CONNACK, publish every
message at QoS 1, wait for every PUBACK, disconnect. The whole of it lasts at most ``deadline_s``,
whatever the broker does (a broker that accepts the connection and never answers included): paho's loop
waits in bounded steps, its connect and TLS handshake use ``connect_timeout``, and netio's deadline timer
bounds the rest (the name lookup).
MQTT 5 because its acknowledgements carry reason codes: a refused publish (the user may not write that
topic) is reported, where MQTT 3.1.1 brokers drop it silently.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from homepower.errors import AuthError, UnreachableError
from homepower.publish import Message
from homepower.settings import MqttBroker
from netio.deadline import Deadline, Expired

log = logging.getLogger(__name__)

DEADLINE_S = 30.0
CONNECT_TIMEOUT_S = 10.0
STEP_S = 0.25  # one wait of paho's loop: the deadline is checked at least this often

# MQTT 5 reason codes that mean "these credentials, or this client, may not": a setting to fix (77).
REFUSED = {0x86: "bad user name or password", 0x87: "not authorized", 0x8A: "banned", 0x8C: "bad authentication method"}


class BrokerUnreachable(UnreachableError):
    """The broker could not be reached, broke off, refused for a reason of its own, or did not answer in
    time (exit 69). Fields: broker (its safe description), reason."""

    def __init__(self, message: str, broker: str, reason: str):
        super().__init__(message)
        self.broker, self.reason = broker, reason


class BrokerRefused(AuthError):
    """The broker refused the credentials, or refused to let them publish, or its certificate is not
    trusted (exit 77). Fields: broker, reason."""

    def __init__(self, message: str, broker: str, reason: str):
        super().__init__(message)
        self.broker, self.reason = broker, reason


@dataclass
class _Conversation:
    """What the callbacks saw."""

    connack: Any = None  # the CONNACK's reason code
    acks: dict[int, Any] = field(default_factory=dict)  # message id -> PUBACK reason code
    dropped: Any = None  # the reason the connection ended, if it did


def _cause(exc: BaseException) -> str:
    """A short cause of a failed connect from the error's type and errno, not from its text."""
    if isinstance(exc, socket.gaierror):
        return "name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "no answer"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _code(reason: Any) -> int:
    value = getattr(reason, "value", reason)
    return int(value) if isinstance(value, int) else -1


def send(broker: MqttBroker, messages: Sequence[Message], deadline_s: float = DEADLINE_S) -> None:
    """Publish ``messages`` (retained as each says, QoS 1) and return once the broker acknowledged them all.
    The whole conversation, resolving the broker's name included, lasts at most ``deadline_s``."""
    deadline = Deadline(deadline_s)
    try:
        with deadline.armed():  # a timer for what paho's own timeouts do not bound (the name lookup)
            _converse(broker, messages, deadline)
    except Expired as exc:
        where = broker.describe()
        raise BrokerUnreachable(
            f"MQTT broker {where} did not answer within {deadline_s:g} s; is it an MQTT broker, and is it overloaded?",
            where,
            "deadline",
        ) from exc


def _converse(broker: MqttBroker, messages: Sequence[Message], deadline: Deadline) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    where = broker.describe()
    started = time.monotonic()
    left = deadline.left

    seen = _Conversation()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.enable_logger(logging.getLogger("paho"))  # paho logs packets, never the password
    if broker.user is not None:
        client.username_pw_set(broker.user, broker.password)
    if broker.tls:
        client.tls_set()  # the system's CAs; the host name is checked
    client.connect_timeout = max(0.1, min(CONNECT_TIMEOUT_S, left()))

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        seen.connack = reason

    def on_publish(c: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        seen.acks[mid] = reason

    def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        seen.dropped = reason

    client.on_connect, client.on_publish, client.on_disconnect = on_connect, on_publish, on_disconnect
    try:
        client.connect(broker.host, broker.port, keepalive=60)
    except ssl.SSLCertVerificationError as exc:
        raise BrokerRefused(
            f"the certificate of MQTT broker {where} is not trusted by this system's CAs "
            f"({exc.verify_message}): give the broker a certificate this system trusts, or use mqtt://",
            where,
            "certificate",
        ) from exc
    except ssl.SSLError as exc:
        raise BrokerUnreachable(
            f"MQTT broker {where}: the TLS handshake failed ({exc.reason or type(exc).__name__}); "
            "does it speak TLS on that port (mqtts://)?",
            where,
            "tls",
        ) from exc
    except (OSError, ValueError) as exc:
        cause = _cause(exc)
        hint = "is it running, and is MQTT_URL right?"
        if broker.tls and cause not in ("connection refused", "name not found"):
            hint = f"does it speak TLS (mqtts://) on port {broker.port}?"
        raise BrokerUnreachable(f"MQTT broker {where} could not be reached ({cause}); {hint}", where, cause) from exc
    try:
        _wait(client, lambda: seen.connack is not None or seen.dropped is not None, left, where, "no CONNACK")
        if seen.connack is None:
            # Dropped before any CONNACK: not a refusal. A TLS listener does this to a plain CONNECT.
            hint = "is MQTT_URL's port an MQTT port" + ("?" if broker.tls else ", or one that speaks TLS (mqtts://)?")
            raise BrokerUnreachable(
                f"MQTT broker {where} closed the connection without answering the CONNECT ({seen.dropped}); {hint}",
                where,
                "closed",
            )
        if seen.connack.is_failure:
            _refused(seen.connack, where, broker.user)
        pending = {}
        for item in messages:
            info = client.publish(item.topic, item.payload, qos=1, retain=item.retain)
            pending[info.mid] = item.topic
        _wait(client, lambda: set(pending) <= set(seen.acks) or seen.dropped is not None, left, where, "no PUBACK")
        for mid, topic in pending.items():
            reason = seen.acks.get(mid)
            if reason is None:
                # A broker drops a client whose packet exceeds its limit, often without acknowledging the
                # messages before it: the topic named is the first unacknowledged, not surely the culprit.
                largest = max(len(m.payload) for m in messages)
                raise BrokerUnreachable(
                    f"MQTT broker {where} closed the connection before acknowledging {topic} ({seen.dropped}; "
                    f"{sum(m in seen.acks for m in pending)} of {len(pending)} messages acknowledged); a broker "
                    f"also does this to a message above its size limit (max_packet_size): the largest here "
                    f"is {largest} bytes",
                    where,
                    "closed",
                )
            if reason.is_failure:
                if _code(reason) in REFUSED:
                    raise BrokerRefused(
                        f"MQTT broker {where} refused to let {broker.user or 'an anonymous client'} publish "
                        f"{topic} ({reason}): allow it to write MQTT_PREFIX/# and HA_DISCOVERY_PREFIX/#",
                        where,
                        str(reason),
                    )
                raise BrokerUnreachable(f"MQTT broker {where} refused {topic} ({reason})", where, str(reason))
    finally:
        client.disconnect()
        if client.socket() is not None:
            client.loop(timeout=0.05)  # sends the DISCONNECT and closes the socket
    log.debug("published %d retained messages to %s in %.1f s", len(messages), where, time.monotonic() - started)


def _wait(client: Any, done: Any, left: Any, where: str, missing: str) -> None:
    """Run paho's loop until ``done()`` or the deadline; a connection paho gave up on ends the wait."""
    import paho.mqtt.client as mqtt

    while not done():
        remaining = left()
        if remaining <= 0:
            raise BrokerUnreachable(
                f"MQTT broker {where} accepted the connection but did not answer in time ({missing}); "
                "is it an MQTT broker, and is it overloaded?",
                where,
                "deadline",
            )
        rc = client.loop(timeout=min(STEP_S, remaining))
        if rc != mqtt.MQTT_ERR_SUCCESS and not done():
            raise BrokerUnreachable(
                f"MQTT broker {where} broke off the connection ({mqtt.error_string(rc)})", where, "closed"
            )


def _refused(reason: Any, where: str, user: str | None) -> None:
    code = _code(reason)
    if code in REFUSED:
        who = f"user {user!r}" if user else "an anonymous client (no user in MQTT_URL)"
        raise BrokerRefused(
            f"MQTT broker {where} refused {who} ({REFUSED[code]}): check the user and password in MQTT_URL",
            where,
            REFUSED[code],
        )
    raise BrokerUnreachable(f"MQTT broker {where} refused the connection ({reason})", where, str(reason))
