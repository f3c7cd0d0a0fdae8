"""Servers that echo what they were sent: an Enlighten/Entrez error page quoting the request (debug-mode
frameworks, WAF pages do) and a gateway page quoting its request headers. The one line the poller prints
quotes the server's words, and must never carry the password, the Enlighten session, the token or the
gateway's session cookie (SPEC: no secret in any output, at any level)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fakes.enlighten import make_jwt
from fakes.gateway import info_xml
from fakes.harness import poller_env, run_poller

PASSWORD = "Pw-echoed-9f3a!"
SESSION = "sess-echoed-7c21d0"
COOKIE = "cookie-echoed-5b8e44"
SERIAL = "122233445566"


class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _send(handler: BaseHTTPRequestHandler, status: int, body: str, ctype: str = "application/json", **headers):
    data = body.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


def _enlighten(fail_at: str) -> _Server:
    """Enlighten + Entrez; the endpoint ``fail_at`` answers 500 quoting the request it was sent."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path.startswith(fail_at):
                _send(self, 500, json.dumps({"message": "cannot handle " + urllib.parse.unquote_plus(sent)}))
            elif self.path.startswith("/login"):
                _send(self, 200, json.dumps({"session_id": SESSION, "user_id": 1}))
            else:
                _send(self, 200, make_jwt(SERIAL), "text/plain")

    return _Server(Handler)


def _gateway() -> _Server:
    """A firmware 7 gateway over plain HTTP whose /production.json answers a page (not JSON) quoting the
    request's credentials."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/info":
                _send(self, 200, info_xml(SERIAL, "D7.6.175", False), "text/xml")
            elif self.path == "/auth/check_jwt":
                _send(self, 200, "<!DOCTYPE html><h2>Valid token.</h2>", "text/html", Set_Cookie=f"sessionId={COOKIE}")
            elif self.path == "/production.json":
                words = f"request had {self.headers.get('Cookie')} and {self.headers.get('Authorization')}"
                _send(self, 200, words, "text/plain")
            else:
                _send(self, 404, "")

    return _Server(Handler)


@pytest.mark.parametrize("fail_at", ["/login", "/tokens"])
def test_enlighten_quoting_the_request_in_a_500_shows_no_password_or_session(tmp_path, fail_at):
    cloud, gateway = _enlighten(fail_at), _gateway()
    try:
        env = poller_env(
            tmp_path / "state",
            ENVOY_HOST=gateway.url,
            ENLIGHTEN_URL=cloud.url,
            ENTREZ_URL=cloud.url,
            ENVOY_USER="owner@example.com",
            ENVOY_PASSWORD=PASSWORD,
            LOG_LEVEL="DEBUG",
        )
        run = run_poller(env)
    finally:
        cloud.close()
        gateway.close()
    assert run.code == 69, run.output
    assert "HTTP 500" in run.output  # the server's failure is still told
    for secret in (PASSWORD, urllib.parse.quote_plus(PASSWORD), SESSION):
        assert secret not in run.output


def test_gateway_page_quoting_the_token_and_cookie_shows_neither(tmp_path):
    token = make_jwt(SERIAL)
    gateway = _gateway()
    try:
        env = poller_env(tmp_path / "state", ENVOY_HOST=gateway.url, ENVOY_TOKEN=token, LOG_LEVEL="DEBUG")
        run = run_poller(env)
    finally:
        gateway.close()
    assert run.code == 65, run.output
    assert "/production.json" in run.output
    assert COOKIE not in run.output
    for part in token.split("."):
        assert part[:12] not in run.output  # not even the start of the token's header
