"""A real Mosquitto broker for the publish tests: started on a free loopback port with a password file
(and an ACL, and a TLS listener when asked), stopped afterwards; and a subscriber that reads back the
retained messages exactly as Home Assistant (and through it Predbat) receives them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

MOSQUITTO = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
READER, READER_PASSWORD = "reader", "reader-pw"  # the tests' subscriber (Home Assistant's place)


def available() -> str | None:
    """Why no broker can be started here (None: it can)."""
    if not MOSQUITTO.exists():
        return f"{MOSQUITTO} is absent (Debian package mosquitto; .ci/run installs it)"
    if not Path(MOSQUITTO_PASSWD).exists():
        return "mosquitto_passwd is absent (Debian package mosquitto)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    directory: Path
    port: int
    users: dict[str, str]
    tls_port: int | None = None
    ca: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def url(self, user: str | None = "alice", password: str | None = None, tls: bool = False) -> str:
        auth = ""
        if user is not None:
            secret = self.users.get(user, "") if password is None else password
            auth = quote(user, safe="") + ":" + quote(secret, safe="") + "@"
        if tls:
            return f"mqtts://{auth}localhost:{self.tls_port}"
        return f"mqtt://{auth}127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def retained(self, expect: int = 0, timeout: float = 5.0, settle: float = 0.5) -> dict[str, bytes]:
        """Every retained message on the broker (topic -> payload), as a fresh subscriber to '#' gets
        them: waits until ``expect`` arrived (0: until none came for ``settle`` s), at most ``timeout`` s."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        got: dict[str, bytes] = {}
        retained_flags: list[bool] = []
        last = [time.monotonic()]

        def on_message(c: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
            got[msg.topic] = bytes(msg.payload)
            retained_flags.append(bool(msg.retain))
            last[0] = time.monotonic()

        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.username_pw_set(READER, READER_PASSWORD)
        client.on_message = on_message
        client.connect("127.0.0.1", self.port)
        client.subscribe("#", qos=1)
        start = time.monotonic()
        last[0] = start
        try:
            while time.monotonic() - start < timeout:
                client.loop(timeout=0.05)
                if expect and len(got) >= expect:
                    break
                if not expect and time.monotonic() - last[0] > settle:
                    break
        finally:
            client.disconnect()
        assert all(retained_flags), "a message reached a new subscriber without the retain flag"
        return got

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(
    directory: Path,
    users: dict[str, str] | None = None,
    acl: str | None = None,
    tls: bool = False,
    extra: str = "",
) -> Broker:
    """A broker in ``directory`` (config, password file, log): password required for everyone; with
    ``acl`` (mosquitto acl_file text) the reader is added to it; with ``tls`` also an mqtts listener with a
    fresh self-signed certificate for localhost (``Broker.ca``); ``extra``: more mosquitto.conf lines."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    users = dict(users or {"alice": "wonder:land@1"})
    passwd = directory / "passwd"
    passwd.unlink(missing_ok=True)
    for name, secret in {**users, READER: READER_PASSWORD}.items():
        flags = ["-b", "-c"] if not passwd.exists() else ["-b"]
        subprocess.run([MOSQUITTO_PASSWD, *flags, str(passwd), name, secret], check=True, capture_output=True)
    for _ in range(5):
        broker = Broker(directory, free_port(), users)
        lines = [
            f"listener {broker.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence false",
            f"log_dest file {directory / 'mosquitto.log'}",
            "log_type all",
            "user root",  # started as root: keep reading the test's private folder (ignored otherwise)
        ]
        if acl is not None:
            (directory / "acl").write_text(acl + f"\nuser {READER}\ntopic read #\n")
            lines.append(f"acl_file {directory / 'acl'}")
        if tls:
            from tests.fakes.certs import make_cert

            cert, key = make_cert(directory, "broker", cn="localhost")
            broker.tls_port, broker.ca = free_port(), cert
            lines += [f"listener {broker.tls_port} 127.0.0.1", f"certfile {cert}", f"keyfile {key}"]
        (directory / "mosquitto.conf").write_text("\n".join(lines) + "\n" + extra)
        broker.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _ready(broker):
            return broker
        broker.stop()  # the port was taken meanwhile: another one
    raise RuntimeError(f"mosquitto did not start: {broker.log()[-2000:]}")


def _ready(broker: Broker, timeout: float = 10.0) -> bool:
    ports = [broker.port] + ([broker.tls_port] if broker.tls_port else [])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.proc is not None and broker.proc.poll() is not None:
            return False
        try:
            for port in ports:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False
