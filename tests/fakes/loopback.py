"""What every loopback fake shares: its stdlib threading server on 127.0.0.1, started and stopped with it
(``with fake:``), over TLS with a certificate made at start where it has a ``tls_dir``."""

from __future__ import annotations

import socketserver
import ssl
import threading
from pathlib import Path
from typing import Any, Self


class LoopbackServer:
    """A fake's server. A subclass names its ``server_class`` and ``handler_class``; the handlers reach the
    fake as ``self.server.fake``."""

    server_class: Any  # a socketserver threading server class
    handler_class: Any
    cert_name = "service"  # the certificate's file name in ``tls_dir``
    keep_port = False  # a restart binds the port of the first start (else a new one)
    port = 0
    stopping = False
    tls_dir: Path | None = None
    cert: Path | None = None
    _server: socketserver.BaseServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        server = self.server_class(("127.0.0.1", self.port if self.keep_port else 0), self.handler_class)
        server.fake = self
        self.port = server.server_address[1]
        if self.tls_dir is not None:
            from .certs import make_cert

            self.cert, key = make_cert(self.tls_dir, self.cert_name, "127.0.0.1")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.stopping = False
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
