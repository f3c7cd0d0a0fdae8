"""A fake Enlighten + Entrez on 127.0.0.1 (plain HTTP, or HTTPS with a self-signed certificate made in
``tls_dir``: ``cert`` is then its path; point ENLIGHTEN_URL and ENTREZ_URL at ``url``).

``POST /login/login.json`` (form ``user[email]``, ``user[password]``) answers ``{"session_id": ...}`` for
the right credentials, else 401 JSON. ``POST /tokens`` (JSON ``session_id``, ``serial_num``, ``username``)
answers a JWT as text (``token_format="text"``) or ``{"token": ...}`` (``"json"``), valid for
``token_lifetime_s``. ``fault`` = an HTTP status to answer everything with (e.g. 500, 503).

As a process: ``python -m tests.fakes.enlighten --user U --password P`` prints ``READY <url>``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    serial: str = "122233445566",
    exp: float | None = None,
    user: str = "owner@example.com",
    lifetime_s: float = 365 * 86400,
) -> str:
    """A token shaped like Entrez's (ES256 header, owner claims); the signature is random bytes."""
    now = int(time.time())
    header = {"kid": "fake", "typ": "JWT", "alg": "ES256"}
    payload = {
        "aud": serial,
        "iss": "Entrez",
        "enphaseUser": "owner",
        "exp": int(exp or now + lifetime_s),
        "iat": now,
        "jti": secrets.token_hex(8),
        "username": user,
    }
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(secrets.token_bytes(64))]
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        fake: FakeEnlighten = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        fake.calls.append(self.path)
        if fake.fault and fake.fault_path in (None, self.path):
            return self._send(fake.fault, json.dumps({"message": "Service unavailable"}))
        if self.path == "/login/login.json" and fake.login_page is not None:
            return self._send(200, fake.login_page, "text/html")  # a maintenance/proxy page, status 200
        if self.path == "/login/login.json":
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            if form.get("user[email]") == fake.user and form.get("user[password]") == fake.password:
                session = secrets.token_hex(16)
                fake.sessions.add(session)
                fake.logins += 1
                return self._send(
                    200,
                    json.dumps(
                        {"message": "success", "session_id": session, "manager_token": "x", "is_consumer": True}
                    ),
                )
            return self._send(401, json.dumps({"message": "Invalid email or password"}))
        if self.path == "/tokens":
            try:
                request = json.loads(raw)
            except ValueError:
                return self._send(400, json.dumps({"message": "bad request"}))
            if request.get("session_id") not in fake.sessions or request.get("username") != fake.user:
                return self._send(401, json.dumps({"message": "Unauthorized"}))
            if fake.serials is not None and request.get("serial_num") not in fake.serials:
                return self._send(403, json.dumps({"message": "serial not owned"}))
            token = make_jwt(request.get("serial_num", ""), user=fake.user, lifetime_s=fake.token_lifetime_s)
            fake.tokens.append(token)
            if fake.token_format == "json":
                return self._send(200, json.dumps({"token": token, "expires_at": int(time.time())}))
            return self._send(200, token, "text/plain")
        return self._send(404, json.dumps({"message": "not found"}))


class FakeEnlighten:
    def __init__(
        self,
        user: str = "owner@example.com",
        password: str = "s3cret-pw",
        port: int = 0,
        token_format: str = "text",
        token_lifetime_s: float = 365 * 86400,
        serials=None,
        tls_dir: Path | None = None,
    ):
        self.tls_dir = tls_dir
        self.cert: Path | None = None
        self.user, self.password = user, password
        self.port = port
        self.token_format = token_format
        self.token_lifetime_s = token_lifetime_s
        self.serials = set(serials) if serials else None
        self.fault: int | None = None  # an HTTP status every POST answers (or only fault_path's)
        self.fault_path: str | None = None
        self.login_page: str | None = None  # an HTML page the login answers with status 200
        self.sessions: set[str] = set()
        self.tokens: list[str] = []
        self.calls: list[str] = []
        self.logins = 0
        self._server = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "FakeEnlighten":
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.fake = self
        self.port = server.server_address[1]
        if self.tls_dir is not None:
            from .certs import make_cert

            self.cert, key = make_cert(self.tls_dir, "enlighten", "127.0.0.1")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeEnlighten":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A fake Enlighten/Entrez on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="owner@example.com")
    parser.add_argument("--password", default="s3cret-pw")
    parser.add_argument("--token-format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    from . import serve_until_interrupted

    fake = FakeEnlighten(args.user, args.password, args.port, args.token_format).start()
    print(f"READY {fake.url}", flush=True)
    return serve_until_interrupted(fake.stop)


if __name__ == "__main__":
    sys.exit(main())
