"""Loopback HTTPS fakes for the poll benchmark: an IQ Gateway and Enlighten/Entrez.

The bench times whole processes (ours and pyenphase) against these, so they live in the bench process
on 127.0.0.1 only, in threads, with a self-signed certificate made by the ``openssl`` command.
The gateway answers from a recorded firmware folder (../shared/fixtures/envoy/<firmware>, read at run
time, never copied) or, in a clone without ../shared, from the small bodies below in the same shapes.
"""
from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"

# Gateway path -> file name in a recorded firmware folder (see ../shared/fixtures/README.md).
PATH_FILES = {
    "/info": "info",
    "/production.json": "production.json",
    "/api/v1/production": "api_v1_production",
    "/ivp/meters": "ivp_meters",
    "/ivp/meters/readings": "ivp_meters_readings",
    "/ivp/pdm/energy": "ivp_pdm_energy",
    "/production": "production",
}

# A metered firmware-7 gateway with an active production CT, for a clone without ../shared.
OWN_BODIES = {
    "info": """<?xml version='1.0' encoding='UTF-8'?>
<envoy_info><time>1700000000</time><device><sn>122200000001</sn><pn>800-00654-r08</pn>
<software>D7.6.175</software><imeter>true</imeter></device><web-tokens>true</web-tokens></envoy_info>
""",
    "production.json": json.dumps({
        "production": [
            {"type": "inverters", "activeCount": 12, "readingTime": 1700000000, "wNow": 1510,
             "whLifetime": 702919},
            {"type": "eim", "activeCount": 1, "measurementType": "production", "readingTime": 1700000000,
             "wNow": 1488.2, "whLifetime": 3183793.303, "whToday": 4425.303,
             "whLastSevenDays": 111093.303}],
        "consumption": [
            {"type": "eim", "activeCount": 1, "measurementType": "total-consumption",
             "readingTime": 1700000000, "wNow": 676.8, "whLifetime": 5145153.621, "whToday": 9903.6,
             "whLastSevenDays": 70004.6},
            {"type": "eim", "activeCount": 1, "measurementType": "net-consumption",
             "readingTime": 1700000000, "wNow": -811.4, "whLifetime": 1961512.786, "whToday": 0,
             "whLastSevenDays": 0}],
        "storage": [{"type": "acb", "activeCount": 0, "readingTime": 0, "wNow": 0, "whNow": 0,
                     "state": "idle"}]}),
    "api_v1_production": json.dumps({"wattHoursToday": 4425, "wattHoursSevenDays": 111093,
                                     "wattHoursLifetime": 3183793, "wattsNow": 1488}),
    "ivp_meters": json.dumps([
        {"eid": 704643328, "state": "enabled", "measurementType": "production", "phaseMode": "single",
         "phaseCount": 1, "meteringStatus": "normal", "statusFlags": []},
        {"eid": 704643584, "state": "enabled", "measurementType": "net-consumption",
         "phaseMode": "single", "phaseCount": 1, "meteringStatus": "normal", "statusFlags": []}]),
    "ivp_meters_readings": json.dumps([
        {"eid": 704643328, "timestamp": 1700000000, "actEnergyDlvd": 3183793.303, "actEnergyRcvd": 0.0,
         "activePower": 1488.2, "pwrFactor": 0.99, "voltage": 235.7, "current": 6.3, "freq": 50.0},
        {"eid": 704643584, "timestamp": 1700000000, "actEnergyDlvd": 2961512.786,
         "actEnergyRcvd": 999999.0, "activePower": -811.4, "pwrFactor": -1.0, "voltage": 235.7, "current": -3.4,
         "freq": 50.0}]),
}


def fake_jwt(exp: float | None = None) -> str:
    """An unsigned JWT whose payload carries ``exp`` (a year from now by default)."""
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    payload = {"aud": "122200000001", "iss": "Entrez", "enphaseUser": "owner",
               "exp": int(exp if exp is not None else time.time() + 365 * 86400), "iat": int(time.time())}
    return f"{part({'alg': 'ES256', 'kid': 'bench'})}.{part(payload)}.{'c2lnbmF0dXJl'}"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed EC certificate for 127.0.0.1 (cert, key), made once and reused."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "fake-cert.pem", directory / "fake-key.pem"
    if not (cert.exists() and key.exists()):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=30)
    return cert, key


@dataclass
class Counters:
    requests: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway does

    def log_message(self, *args) -> None:  # quiet: the bench prints a table, not an access log
        pass

    def _send(self, status: int, body: bytes | str, ctype: str = "application/json",
              headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class GatewayHandler(_Handler):
    bodies: dict[str, str] = {}
    token: str = ""
    cookie: str = "sessionId=bench0123456789"
    counters: Counters = Counters()

    def _authorised(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return auth == f"Bearer {self.token}" or self.cookie in self.headers.get("Cookie", "")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path.rstrip("/") or "/"
        self.counters.add(path)
        if path == "/auth/check_jwt":
            if self.headers.get("Authorization", "") == f"Bearer {self.token}":
                self._send(200, "<!DOCTYPE html><h2>Valid token.</h2>", "text/html",
                           {"Set-Cookie": f"{self.cookie}; Path=/; Secure; HttpOnly"})
            else:
                self._send(401, "<html><body>401 Unauthorized</body></html>", "text/html")
            return
        name = PATH_FILES.get(path)
        if name is None or name not in self.bodies:
            self._send(404, "<html><body>404 Not Found</body></html>", "text/html")
            return
        if path != "/info" and not self._authorised():
            self._send(401, "<html><body>401 Unauthorized</body></html>", "text/html")
            return
        body = self.bodies[name]
        ctype = "application/xml" if name == "info" else (
            "text/html" if body.lstrip().startswith("<") else "application/json")
        self._send(200, body, ctype)

    do_HEAD = do_GET


class EnlightenHandler(_Handler):
    token: str = ""
    counters: Counters = Counters()

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        self._body()
        self.counters.add(path)
        if path == "/login/login.json":
            self._send(200, json.dumps({"message": "success", "session_id": "bench-session",
                                        "manager_token": "", "is_consumer": True}))
        elif path == "/tokens":
            self._send(200, self.token, "text/plain")
        else:
            self._send(404, "{}")


class Server:
    """One HTTPS server on 127.0.0.1 in a daemon thread; ``url`` is its base URL."""

    def __init__(self, handler: type[_Handler], cert: Path, key: Path, port: int = 0):
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), handler)
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://{LOOPBACK}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"fake:{self.port}",
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def load_bodies(fixtures: Path | None, firmware: str) -> tuple[dict[str, str], str]:
    """Bodies of one recorded firmware folder, or the bench's own; returns (bodies, where from)."""
    folder = fixtures / firmware if fixtures else None
    if folder and folder.is_dir():
        bodies = {f.name: f.read_text() for f in folder.iterdir() if f.is_file()}
        return bodies, f"recorded firmware {firmware}"
    return dict(OWN_BODIES), "the bench's own firmware-7 bodies"


class FakeSite:
    """A fake gateway and a fake Enlighten/Entrez sharing one certificate and one token."""

    def __init__(self, workdir: Path, fixtures: Path | None, firmware: str):
        self.cert, self.key = make_certificate(workdir)
        self.token = fake_jwt()
        bodies, self.origin = load_bodies(fixtures, firmware)
        self.gateway_counters, self.cloud_counters = Counters(), Counters()
        gw = type("BenchGateway", (GatewayHandler,), {"bodies": bodies, "token": self.token,
                                                      "counters": self.gateway_counters})
        cloud = type("BenchEnlighten", (EnlightenHandler,), {"token": self.token,
                                                              "counters": self.cloud_counters})
        self.gateway = Server(gw, self.cert, self.key)
        self.enlighten = Server(cloud, self.cert, self.key)
        self.serial = _serial(bodies.get("info", ""))

    def close(self) -> None:
        self.gateway.close()
        self.enlighten.close()


def _serial(info_xml: str) -> str:
    start = info_xml.find("<sn>")
    end = info_xml.find("</sn>")
    return info_xml[start + 4:end].strip() if 0 <= start < end else "122200000001"
