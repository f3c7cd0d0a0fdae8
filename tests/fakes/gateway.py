"""A fake Enphase IQ Gateway: HTTPS on 127.0.0.1 with a self-signed certificate, serving a recorded
firmware folder (../shared/fixtures/envoy/<fw>) or a test's own bodies, with the gateway's auth rules
and switchable faults.

In a test::

    with FakeGateway(firmware_dir=path, workdir=tmp_path) as gw:
        gw.url, gw.fingerprint, gw.requests, gw.fault("/production.json", "truncated"), gw.outage(3)

As a process (the benchmark uses this)::

    python -m tests.fakes.gateway --port 0 --firmware ../shared/fixtures/envoy/8.1.41 --workdir /tmp/gw

prints ``READY <url> <sha256 fingerprint>`` on stdout once it listens.

Auth: firmware 7+ wants a token: ``/auth/check_jwt`` with ``Authorization: Bearer <jwt>`` answers a
``sessionId`` cookie; data paths want a valid bearer token and (``require_cookie``) that cookie, else an
HTML 401 page. A token is valid while its JWT ``exp`` is in the future and it is not revoked.
Below firmware 7, paths in ``digest_paths`` want HTTP digest (user ``envoy``, password = serial[-6:]).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import ssl
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from . import serve_until_interrupted
from .certs import cert_fingerprint, make_cert
from .loopback import LoopbackServer
from .manners import Manner, MannerMixin
from .roof import Roof

# Fixture file name for each path the gateway serves.
FILES = {
    "/info": "info",
    "/info.xml": "info",
    "/production.json": "production.json",
    "/api/v1/production": "api_v1_production",
    "/ivp/meters": "ivp_meters",
    "/ivp/meters/readings": "ivp_meters_readings",
    "/ivp/pdm/energy": "ivp_pdm_energy",
    "/production": "production",
    "/api/v1/production/inverters": "api_v1_production_inverters",
    "/ivp/pdm/device_data": "ivp_pdm_device_data",
}
ROOF_PATHS = {"/api/v1/production/inverters": "inverters_body", "/ivp/pdm/device_data": "device_data_body"}

HTML_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
HTML_404 = (
    '<!DOCTYPE html PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head></head><body><center>'
    "<h2>Page Not Found</h2></center></body></html>\n"
)
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Envoy</title></head><body><h1>IQ Gateway</h1>"
    "<p>System maintenance in progress.</p></body></html>\n"
)
FAULTS = (
    "401",
    "huge_challenge",
    "endless_challenge",
    "403",
    "500",
    "502",
    "503",
    "truncated",
    "cutoff",
    "html200",
    "wrongtype",
    "nulls",
    "negative",
    "hang",
    # hostile: a body far beyond any real one, a chunked stream without end, one byte per second (body or
    # status line and headers), JSON nested 100,000 deep, a lifetime no column can hold
    "huge",
    "endless",
    "trickle",
    "trickle_headers",
    "deep",
    "overflow",
)
HUGE_BYTES = 200 * 1024 * 1024
DEEP = 100_000
DIGEST_REALM = "enphaseenergy.com"


def info_xml(serial: str = "122233445566", software: str = "D8.2.4345", imeter: bool | None = True) -> str:
    """An /info body in the gateway's shape."""
    meter = "" if imeter is None else f"\n    <imeter>{'true' if imeter else 'false'}</imeter>"
    return (
        f"<?xml version='1.0' encoding='UTF-8'?>\n<envoy_info>\n  <time>{int(time.time())}</time>\n"
        f"  <device>\n    <sn>{serial}</sn>\n    <pn>800-00654-r08</pn>\n    <software>{software}</software>\n"
        f"    <euaid>4c8675</euaid>\n    <seqnum>0</seqnum>\n    <apiver>1</apiver>{meter}\n  </device>\n"
        f"</envoy_info>\n"
    )


def jwt_payload(token: str) -> dict | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _firmware(info_text: str) -> tuple[int, ...]:
    match = re.search(r"<software>\D*(\d+(?:\.\d+)*)</software>", info_text or "")
    return tuple(int(p) for p in match.group(1).split(".")) if match else (0,)


def _serial(info_text: str) -> str:
    match = re.search(r"<sn>([^<]+)</sn>", info_text or "")
    return match.group(1).strip() if match else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeGateway"


class _Handler(MannerMixin):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self):
        fake = self.server.fake
        self.tls_ok = True
        try:  # headers and body go in separate writes: without this, delayed ACKs add 40 ms each
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if fake.tls:
            try:
                self.request.settimeout(10)
                self.request = fake.context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                self.tls_ok = False  # e.g. the client hung up after seeing a certificate it does not trust
        fake._track(self.request)
        super().setup()

    def handle(self):
        if self.tls_ok:
            try:
                super().handle()
            except (ssl.SSLError, OSError):
                pass

    def finish(self):
        try:
            super().finish()
        except (ssl.SSLError, OSError):
            pass
        self.server.fake._untrack(self.request)

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.server.fake._serve(self)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.fake._serve(self)

    def send(self, status: int, body: str | bytes, content_type: str = "application/json", headers: dict | None = None):
        """An answer in the gateway's ``manner`` (framing, gzip, dribble: tests/fakes/manners.py)."""
        self.respond(status, body, content_type, (headers or {}).items())


class FakeGateway(LoopbackServer):
    server_class = _Server
    handler_class = _Handler
    keep_port = True  # port=, and the outage's restart keeps its address

    def __init__(
        self,
        firmware_dir: Path | str | None = None,
        bodies: dict | None = None,
        workdir: Path | str | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        port: int = 0,
        tls: bool = True,
        token_required: bool | None = None,
        require_cookie: bool = False,
        digest_paths: tuple[str, ...] = (),
        delay: float = 0.0,
        refuse_despite_token: tuple[str, ...] = (),
        trickle_s: float = 1.0,
        roof: Roof | None = None,
    ):
        self.firmware_dir = Path(firmware_dir) if firmware_dir else None
        self.bodies = dict(bodies or {})  # path -> body text, or (status, body text)
        self.workdir = Path(workdir or os.environ.get("TMPDIR", "/tmp")) / f"fakegw-{secrets.token_hex(4)}"
        self.tls = tls
        if tls and cert is None:
            cert, key = make_cert(self.workdir)
        self.cert, self.key = cert, key
        self.port = port
        self.require_cookie = require_cookie
        self.digest_paths = set(digest_paths)
        # Firmware 7.x+ takes 20-30 s to answer (Home Assistant core #156189: 27.3 s): every answer waits this.
        self.delay = delay
        # Firmware 7.0.88 without meters answers 401 to /production.json although the token is good
        # (pyenphase PR #304): these paths do that.
        self.refuse_despite_token = set(refuse_despite_token)
        self.trickle_s = trickle_s  # seconds between bytes of the trickle faults
        self.roof = roof  # a live roof of micro-inverters answers the per-panel endpoints (tests/fakes/roof.py)
        info = self._body("/info")
        info_text = info[1] if info else ""
        self.firmware = _firmware(info_text)
        self.serial = _serial(info_text)
        self.token_required = self.firmware >= (7,) if token_required is None else token_required
        self.manner = Manner()  # how it answers: framing, gzip, busy, redirect (tests/fakes/manners.py)
        self.revoked: set[str] = set()
        self.sessions: set[str] = set()
        self.requests: list[dict] = []
        self.handshakes = 0
        self._faults: dict[str, list] = {}
        self._conns: set = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self.context = self._context() if tls else None

    # -- lifecycle -------------------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def fingerprint(self) -> str:
        if self.cert is None:
            raise RuntimeError("a plain-HTTP fake gateway has no certificate")
        return cert_fingerprint(self.cert)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        super().stop()
        self._drop_connections()

    def _drop_connections(self) -> None:
        """Close the kept-alive client connections (clients must reconnect, and see the new state)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def outage(self, seconds: float) -> None:
        """Refuse connections (nothing listens on the port) for ``seconds``: the nightly 23:00 outage."""
        self.stop()
        self._timer = threading.Timer(seconds, self.start)
        self._timer.daemon = True
        self._timer.start()

    def swap_certificate(self, cert: Path | None = None, key: Path | None = None) -> None:
        """Present a different certificate from now on (a replaced gateway, or someone in the middle)."""
        if cert is None:
            cert, key = make_cert(self.workdir, name=f"other-{secrets.token_hex(3)}")
        self.cert, self.key = cert, key
        self.context = self._context()
        self._drop_connections()

    def fault(self, path: str, kind: str | None, times: int | None = None) -> None:
        """Answer ``path`` ("*" = every path but /info) with a fault: 401 (HTML page), 403, 500, 502, 503,
        truncated (half the JSON), cutoff (the connection drops halfway through the body), html200 (an
        HTML page, status 200), wrongtype (numbers as strings), nulls / negative (lifetimes null / negative),
        hang (answer after 30 s); hostile: huge (200 MB announced and sent), endless (chunked, forever),
        trickle (the body one byte per ``trickle_s``), trickle_headers (the status line and headers so),
        deep (JSON nested 100,000 deep), overflow (lifetimes of 1e20); on a digest path (below firmware 7)
        huge_challenge / endless_challenge: the 401 digest challenge with a body like huge / endless.
        ``times``: only that many answers, then normal again. ``kind=None`` clears."""
        if kind is None:
            self._faults.pop(path, None)
        else:
            assert kind in FAULTS, kind
            self._faults[path] = [kind, times]

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    def _track(self, conn) -> None:
        with self._lock:
            self._conns.add(conn)

    def _untrack(self, conn) -> None:
        with self._lock:
            self._conns.discard(conn)

    # -- answers ---------------------------------------------------------------------------------
    def _body(self, path: str) -> tuple[int, str] | None:
        if self.roof is not None and path in ROOF_PATHS:
            return 200, getattr(self.roof, ROOF_PATHS[path])()
        if path in self.bodies:
            body = self.bodies[path]
            return body if isinstance(body, tuple) else (200, body)
        name = FILES.get(path)
        if name in self.bodies:
            body = self.bodies[name]
            return body if isinstance(body, tuple) else (200, body)
        if self.firmware_dir and name and (self.firmware_dir / name).is_file():
            return 200, (self.firmware_dir / name).read_text(encoding="utf-8", errors="replace")
        return None

    def _take_fault(self, path: str) -> str | None:
        for key in (path, "*"):
            if key == "*" and path in ("/info", "/auth/check_jwt"):
                continue
            entry = self._faults.get(key)
            if entry:
                kind, times = entry
                if times is not None:
                    entry[1] = times - 1
                    if entry[1] <= 0:
                        self._faults.pop(key, None)
                return kind
        return None

    def _token_ok(self, handler) -> str | None:
        match = re.fullmatch(r"Bearer\s+(\S+)", handler.headers.get("Authorization") or "")
        if not match:
            return None
        token = match.group(1)
        payload = jwt_payload(token)
        if token in self.revoked or payload is None or not isinstance(payload.get("exp"), (int, float)):
            return None
        if payload["exp"] <= time.time():
            return None
        return token

    def _cookie(self, handler) -> str | None:
        match = re.search(r"sessionId=([^;\s]+)", handler.headers.get("Cookie") or "")
        return match.group(1) if match else None

    def _digest_ok(self, handler, path: str) -> bool:
        header = handler.headers.get("Authorization") or ""
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        ha1 = hashlib.md5(f"envoy:{DIGEST_REALM}:{self.serial[-6:]}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{handler.command}:{fields.get('uri', '')}".encode()).hexdigest()
        if fields.get("qop"):
            expected = hashlib.md5(
                f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:"
                f"{fields.get('qop')}:{ha2}".encode()
            ).hexdigest()
        else:
            expected = hashlib.md5(f"{ha1}:{fields.get('nonce')}:{ha2}".encode()).hexdigest()
        return fields.get("username") == "envoy" and fields.get("response") == expected

    def _alive(self) -> bool:
        return self._server is not None

    def _huge(self, handler: _Handler, endless: bool, status: int = 200, headers: dict | None = None) -> None:
        """Send far more than any gateway body until the client hangs up (or the fake stops)."""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if endless:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(HUGE_BYTES))
        handler.end_headers()
        block = b"[" * 65536
        sent = 0
        handler.close_connection = True
        while self._alive() and (endless or sent < HUGE_BYTES):
            data = b"%x\r\n%s\r\n" % (len(block), block) if endless else block
            handler.wfile.write(data)  # OSError once the client hung up: the handler ends quietly
            sent += len(block)

    def _trickle(self, handler: _Handler, status: int, body: str, headers_too: bool) -> None:
        data = body.encode()
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        handler.close_connection = True
        if not headers_too:
            handler.wfile.write(head.encode())
            handler.wfile.flush()
            head = ""
        for byte in head.encode() + data:
            if not self._alive():
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(self.trickle_s)

    def _serve(self, handler: _Handler) -> None:
        if handler.intercepted():  # the manner's busy or redirect answer
            return
        path = urlsplit(handler.path).path
        self.requests.append({"method": handler.command, "path": path, "headers": dict(handler.headers)})
        if self.delay:
            time.sleep(self.delay)
        fault = self._take_fault(path)
        if fault in ("401", "403"):
            return handler.send(int(fault), HTML_401, "text/html")
        if fault in ("500", "502", "503"):
            return handler.send(int(fault), f"<html><body><h1>{fault} Server Error</h1></body></html>", "text/html")
        if fault == "hang":
            time.sleep(30)
        if path == "/auth/check_jwt":
            if not self.token_required:
                return handler.send(404, HTML_404, "text/html")
            token = self._token_ok(handler)
            if token is None:
                return handler.send(401, HTML_401, "text/html")
            session = secrets.token_hex(16)
            self.sessions.add(session)
            return handler.send(
                200,
                "<!DOCTYPE html><h2>Valid token.</h2>",
                "text/html",
                {"Set-Cookie": f"sessionId={session}; path=/; HttpOnly"},
            )
        if path not in ("/info", "/info.xml") and self.token_required:
            cookie_ok = self._cookie(handler) in self.sessions
            if self._token_ok(handler) is None or (self.require_cookie and not cookie_ok):
                return handler.send(401, HTML_401, "text/html")
            if path in self.refuse_despite_token:
                return handler.send(401, HTML_401, "text/html")
        if fault in ("huge", "endless"):
            return self._huge(handler, fault == "endless")
        if fault == "deep":
            return handler.send(200, "[" * DEEP + "]" * DEEP)
        if path in self.digest_paths and not self.token_required and not self._digest_ok(handler, path):
            nonce = secrets.token_hex(8)
            challenge = {
                "WWW-Authenticate": f'Digest realm="{DIGEST_REALM}", qop="auth", nonce="{nonce}", '
                f'opaque="{secrets.token_hex(4)}"'
            }
            if fault in ("huge_challenge", "endless_challenge"):  # the challenge's page never ends
                return self._huge(handler, fault == "endless_challenge", 401, challenge)
            return handler.send(401, HTML_401, "text/html", challenge)
        found = self._body(path)
        if found is None:
            return handler.send(404, HTML_404, "text/html")
        status, body = found
        if fault == "truncated":
            body = body[: max(1, len(body) // 2)]
        elif fault == "cutoff":
            data = body.encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return
        elif fault == "html200":
            return handler.send(200, HTML_PAGE, "text/html")
        elif fault == "wrongtype":
            body = re.sub(r'"(whLifetime|wattHoursLifetime)"\s*:\s*([-\d.]+)', r'"\1": "\2"', body)
        elif fault == "nulls":
            body = re.sub(r'"(whLifetime|wattHoursLifetime)"\s*:\s*([-\d.]+)', r'"\1": null', body)
        elif fault == "negative":
            body = re.sub(r'"(whLifetime|wattHoursLifetime)"\s*:\s*([\d.]+)', r'"\1": -\2', body)
        elif fault == "overflow":
            body = re.sub(r'"(whLifetime|wattHoursLifetime|actEnergyDlvd)"\s*:\s*([\d.]+)', r'"\1": 1e20', body)
        elif fault in ("trickle", "trickle_headers"):
            return self._trickle(handler, status, body, fault == "trickle_headers")
        stripped = body.lstrip()
        kind = (
            "text/xml"
            if stripped.startswith("<?xml")
            else "text/html"
            if stripped.startswith("<")
            else "application/json"
        )
        handler.send(status, body, kind)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A fake IQ Gateway on 127.0.0.1 (for tests and bench).")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--firmware", required=True, help="a folder like ../shared/fixtures/envoy/8.1.41")
    parser.add_argument("--workdir", default=None, help="where the certificate is written")
    parser.add_argument("--cert"), parser.add_argument("--key")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--require-cookie", action="store_true")
    parser.add_argument("--outage", type=float, default=0, help="refuse connections for the first N seconds")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="PATH=KIND",
        help=f"answer PATH (or *) with a fault: {', '.join(FAULTS)}; repeatable",
    )
    args = parser.parse_args(argv)
    gateway = FakeGateway(
        firmware_dir=args.firmware,
        workdir=args.workdir,
        port=args.port,
        cert=Path(args.cert) if args.cert else None,
        key=Path(args.key) if args.key else None,
        tls=not args.http,
        require_cookie=args.require_cookie,
    )
    for spec in args.fault:
        path, _, kind = spec.partition("=")
        if kind not in FAULTS:
            parser.error(f"--fault {spec}: KIND is one of {', '.join(FAULTS)}")
        gateway.fault(path, kind)
    if args.outage and not args.port:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        gateway.port = probe.getsockname()[1]
        probe.close()
    if args.outage:
        print(f"READY {gateway.url} {gateway.fingerprint if gateway.tls else '-'}", flush=True)
        time.sleep(args.outage)
        gateway.start()
    else:
        gateway.start()
        print(f"READY {gateway.url} {gateway.fingerprint if gateway.tls else '-'}", flush=True)
    return serve_until_interrupted(gateway.stop)


if __name__ == "__main__":
    sys.exit(main())
