"""A generic JSON service on 127.0.0.1 that answers in any ``Manner`` (see ``manners``): for the HTTP
client's own tests, and a model for new fakes. Every GET or POST of a path answers ``answers[path]``
(``(status, body)``), else 200 with ``{"path": ..., "method": ..., "body": <the request body>}``; ``calls``
lists (method, path) asked, ``connections`` counts the TCP connections accepted. ``tls_dir``: HTTPS with a
self-signed certificate (``cert``)."""

from __future__ import annotations

import json
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.fakes.loopback import LoopbackServer
from tests.fakes.manners import Manner, MannerMixin


class _Handler(MannerMixin):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.server.fake
        if self.intercepted():
            return
        fake.calls.append((method, self.path))
        fake.headers.append(dict(self.headers.items()))
        if self.path in fake.answers:
            status, body = fake.answers[self.path]
            return self.respond(status, body)
        self.respond(200, json.dumps({"path": self.path, "method": method, "body": raw.decode("utf-8", "replace")}))

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeService

    def get_request(self):
        pair = super().get_request()
        self.fake.connections += 1
        return pair


class FakeService(LoopbackServer):
    server_class = _Server
    handler_class = _Handler

    def __init__(self, manner: Manner | None = None, tls_dir: Path | None = None) -> None:
        self.manner = manner or Manner()
        self.tls_dir = tls_dir
        self.cert: Path | None = None
        self.answers: dict[str, tuple[int, str | bytes]] = {}
        self.calls: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.connections = 0
