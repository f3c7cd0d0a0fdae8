"""A generic JSON service on 127.0.0.1 that answers in any ``Manner`` (see ``manners``): for the HTTP
client's own tests, and a model for new fakes. Every GET or POST of a path answers ``answers[path]``
(``(status, body)``), else 200 with ``{"path": ..., "method": ..., "body": <the request body>}``; ``calls``
lists (method, path) asked, ``connections`` counts the TCP connections accepted. ``tls_dir``: HTTPS with a
self-signed certificate (``cert``)."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

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


class FakeService:
    def __init__(self, manner: Manner | None = None, tls_dir: Path | None = None) -> None:
        self.manner = manner or Manner()
        self.tls_dir = tls_dir
        self.cert: Path | None = None
        self.answers: dict[str, tuple[int, str | bytes]] = {}
        self.calls: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.connections = 0
        self.stopping = False
        self.port = 0
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> FakeService:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        if self.tls_dir is not None:
            from tests.fakes.certs import make_cert

            self.cert, key = make_cert(self.tls_dir, "service", "127.0.0.1")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
