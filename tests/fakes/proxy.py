"""A tiny CONNECT proxy on 127.0.0.1 (what HTTPS_PROXY points at): it tunnels each CONNECT to its target
and counts them in ``tunnels`` (``host:port``), so a test can tell who went through it and who did not.
Plain-HTTP proxying (an absolute URI) is answered 501: cloud services are HTTPS."""

from __future__ import annotations

import select
import socket
from socketserver import StreamRequestHandler, ThreadingTCPServer

from tests.fakes.loopback import LoopbackServer


class _Handler(StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline(65537).decode("latin-1")
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        method, _, rest = line.partition(" ")
        target = rest.split(" ")[0]
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self.server.fake.tunnels.append(target)
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        client = self.connection
        with upstream:
            while not self.server.fake.stopping:
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)


class _Server(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeProxy


class FakeProxy(LoopbackServer):
    server_class = _Server
    handler_class = _Handler

    def __init__(self) -> None:
        self.tunnels: list[str] = []
