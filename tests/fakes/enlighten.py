"""A fake Enlighten + Entrez on 127.0.0.1 (plain HTTP, or HTTPS with a self-signed certificate made in
``tls_dir``: ``cert`` is then its path; point ENLIGHTEN_URL and ENTREZ_URL at ``url``), with the habits
of the real services (pyenphase's auth code, Home Assistant core #152659 and #155793):

- ``POST /login/login.json`` (form ``user[email]``, ``user[password]``): the right credentials answer
  ``{"message": "success", "session_id": ..., "manager_token": ..., "is_consumer": true}``; wrong ones
  401 ``{"message": "Invalid"}``. ``two_factor``: the right credentials answer HTTP 200
  ``{"success": true, "isBlocked": false}`` with no session (and a ``login_otp_nonce`` cookie): the
  account wants a code. ``lock_after`` = N: after N wrong passwords the account is blocked and every
  login answers ``{"success": false, "isBlocked": true}``, as a lockout would.
- ``POST /tokens`` (JSON ``session_id``, ``serial_num``, ``username``): a JWT as text
  (``token_format="text"``), ``{"token": ...}`` (``"json"``) or a quoted JSON string (``"quoted"``).
  ``account="owner"`` tokens live a year, ``"installer"`` 12 hours (``token_lifetime_s`` overrides).
  A serial outside ``serials`` (when given) is 403.
- ``manner``: how it answers (framing, gzip, busy answers with Retry-After, redirects; ``manners.Manner``).
- Faults: ``fault`` = an HTTP status for every POST (or only ``fault_path``'s); ``delay_s`` before each
  answer; ``hostile`` = "trickle" (the answer one byte per ``trickle_s``, headers included), "huge"
  (a ``huge_bytes`` body with its Content-Length), "endless" (a chunked body that never ends), "deep"
  (JSON nested ``deep`` levels), applied to ``hostile_path`` (default every path).

``calls`` lists the paths asked; ``login_attempts`` counts every login, ``logins`` the ones that gave a
session; ``tokens`` the tokens issued.

As a process: ``python -m tests.fakes.enlighten --user U --password P`` prints ``READY <url>``.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import socket
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from .loopback import LoopbackServer
from .manners import Manner, MannerMixin

OWNER_LIFETIME_S = 365 * 86400
INSTALLER_LIFETIME_S = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    serial: str = "122233445566",
    exp: float | None = None,
    user: str = "owner@example.com",
    lifetime_s: float = OWNER_LIFETIME_S,
    iat: float | None = None,
    account: str = "owner",
) -> str:
    """A token shaped like Entrez's (ES256 header, its claims); the signature is random bytes. ``iat`` is
    now unless given; ``exp`` is ``iat`` + ``lifetime_s`` unless given."""
    issued = int(time.time() if iat is None else iat)
    header = {"kid": "fake", "typ": "JWT", "alg": "ES256"}
    payload = {
        "aud": serial,
        "iss": "Entrez",
        "enphaseUser": account,
        "exp": int(exp if exp is not None else issued + lifetime_s),
        "iat": issued,
        "jti": secrets.token_hex(8),
        "username": user,
    }
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(secrets.token_bytes(64))]
    )


class _Handler(MannerMixin):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json", headers=()):
        fake = self.server.fake
        if fake.delay_s:
            time.sleep(fake.delay_s)
        hostile = fake.hostile if fake.hostile_path in (None, self.path) else None
        if hostile == "deep":
            body, status, content_type = "[" * fake.deep + "]" * fake.deep, 200, "application/json"
        if hostile == "huge":
            return self._huge(status, content_type)
        if hostile == "endless":
            return self._endless(status, content_type)
        if hostile == "trickle":
            fake.manner.dribble_s = fake.trickle_s
        self.respond(status, body, content_type, headers)

    def _huge(self, status: int, content_type: str):
        fake = self.server.fake
        try:
            self.wfile.write(
                f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {fake.huge_bytes}\r\n\r\n".encode()
            )
            block, sent = b'{"pad": "' + b"x" * 65536, 0
            while sent < fake.huge_bytes:
                piece = block[: fake.huge_bytes - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass
        self.close_connection = True

    def _endless(self, status: int, content_type: str):
        fake = self.server.fake
        try:
            self.wfile.write(
                f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"x" * 65536
            while not fake.stopping:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        self.close_connection = True

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        if self.intercepted():  # the manner's busy or redirect answer
            return
        fake.calls.append(self.path)
        if fake.fault and fake.fault_path in (None, self.path):
            return self._send(fake.fault, json.dumps({"message": "Service unavailable"}))
        if self.path == "/login/login.json":
            return self._login(raw)
        if self.path == "/tokens":
            return self._tokens(raw)
        return self._send(404, json.dumps({"message": "not found"}))

    def _login(self, raw: str):
        fake = self.server.fake
        fake.login_attempts += 1
        if fake.login_page is not None:
            return self._send(200, fake.login_page, "text/html")  # a maintenance/proxy page, status 200
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        right = form.get("user[email]") == fake.user and form.get("user[password]") == fake.password
        if fake.locked:
            return self._send(200, json.dumps({"success": False, "isBlocked": True}))
        if not right:
            fake.failed_logins += 1
            if fake.lock_after is not None and fake.failed_logins >= fake.lock_after:
                fake.locked = True
            return self._send(401, json.dumps({"message": "Invalid"}))
        if fake.two_factor:  # Home Assistant core #155793: a code is due; no session
            fake.codes_sent += 1
            nonce = secrets.token_hex(32)
            return self._send(
                200,
                json.dumps({"success": True, "isBlocked": False}),
                headers=[("Set-Cookie", f"login_otp_nonce={nonce}; Path=/; Secure; HttpOnly")],
            )
        session = secrets.token_hex(16)
        fake.sessions.add(session)
        fake.logins += 1
        return self._send(
            200,
            json.dumps(
                {
                    "message": "success",
                    "session_id": session,
                    "manager_token": secrets.token_urlsafe(96),
                    "is_consumer": fake.account == "owner",
                    "system_id": "1234567",
                    "redirect_url": "",
                }
            ),
        )

    def _tokens(self, raw: str):
        fake = self.server.fake
        try:
            request = json.loads(raw)
        except ValueError:
            return self._send(400, json.dumps({"message": "bad request"}))
        if request.get("session_id") not in fake.sessions or request.get("username") != fake.user:
            return self._send(401, json.dumps({"message": "Unauthorized"}))
        if fake.serials is not None and request.get("serial_num") not in fake.serials:
            return self._send(403, json.dumps({"message": "serial not owned"}))
        token = make_jwt(
            request.get("serial_num", ""), user=fake.user, lifetime_s=fake.lifetime_s, account=fake.account
        )
        fake.tokens.append(token)
        if fake.token_format == "json":
            return self._send(200, json.dumps({"token": token, "expires_at": int(time.time() + fake.lifetime_s)}))
        if fake.token_format == "quoted":
            return self._send(200, json.dumps(token))
        return self._send(200, token, "text/plain")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeEnlighten


class FakeEnlighten(LoopbackServer):
    server_class = _Server
    handler_class = _Handler
    cert_name = "enlighten"
    keep_port = True  # --port, and a restart keeps its address

    def __init__(
        self,
        user: str = "owner@example.com",
        password: str = "s3cret-pw",
        port: int = 0,
        token_format: str = "text",
        token_lifetime_s: float | None = None,
        serials=None,
        tls_dir: Path | None = None,
        account: str = "owner",
    ):
        self.tls_dir = tls_dir
        self.cert: Path | None = None
        self.user, self.password = user, password
        self.port = port
        self.token_format = token_format
        self.account = account
        self.token_lifetime_s = token_lifetime_s
        self.serials = set(serials) if serials else None
        self.fault: int | None = None  # an HTTP status every POST answers (or only fault_path's)
        self.fault_path: str | None = None
        self.login_page: str | None = None  # an HTML page the login answers with status 200
        self.two_factor = False
        self.lock_after: int | None = None
        self.locked = False
        self.delay_s = 0.0
        self.hostile: str | None = None  # trickle | huge | endless | deep
        self.hostile_path: str | None = None
        self.trickle_s = 1.0
        self.huge_bytes = 64 * 1024 * 1024
        self.deep = 100_000
        self.manner = Manner()  # how it answers: framing, gzip, busy, redirect (tests/fakes/manners.py)
        self.sessions: set[str] = set()
        self.tokens: list[str] = []
        self.calls: list[str] = []
        self.logins = 0
        self.login_attempts = 0
        self.failed_logins = 0
        self.codes_sent = 0

    @property
    def lifetime_s(self) -> float:
        if self.token_lifetime_s is not None:
            return self.token_lifetime_s
        return INSTALLER_LIFETIME_S if self.account == "installer" else OWNER_LIFETIME_S


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A fake Enlighten/Entrez on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="owner@example.com")
    parser.add_argument("--password", default="s3cret-pw")
    parser.add_argument("--token-format", choices=("text", "json", "quoted"), default="text")
    parser.add_argument("--account", choices=("owner", "installer"), default="owner")
    parser.add_argument("--two-factor", action="store_true", help="the login answers without a session")
    parser.add_argument("--hostile", choices=("trickle", "huge", "endless", "deep"))
    args = parser.parse_args(argv)
    from . import serve_until_interrupted

    fake = FakeEnlighten(args.user, args.password, args.port, args.token_format, account=args.account)
    fake.two_factor, fake.hostile = args.two_factor, args.hostile
    fake.start()
    print(f"READY {fake.url}", flush=True)
    return serve_until_interrupted(fake.stop)


if __name__ == "__main__":
    sys.exit(main())
