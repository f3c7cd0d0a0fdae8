"""How a fake server answers, whatever it answers: the habits real servers differ in.

``Manner`` says how: ``framing`` is "length" (HTTP/1.1, Content-Length, keep-alive), "close" (1.1 with
``Connection: close``, as many load balancers answer), "http10" (an HTTP/1.0 status line and
``Connection: close``), "chunked" (Transfer-Encoding: chunked, keep-alive) or "until-close" (1.1, no
length: the body ends when the connection closes); ``gzip`` compresses the body (Content-Encoding);
``dribble_s`` sends the whole answer, status line included, one byte per ``dribble_s`` seconds; ``busy``
lists answers given first, one per request, each ``(status, Retry-After value or None)``;
``redirect`` answers each path once with a 307 to ``/moved`` + the path (``"same"``) or to that base URL
+ the path (another host).

``MannerMixin`` gives a ``BaseHTTPRequestHandler`` of a fake ``respond(status, body, content_type,
headers)`` that answers in its server's ``fake.manner``, and ``intercepted()`` that answers the busy and
redirect answers (call it once the request body is read; it strips ``/moved`` from ``self.path``).
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterable

FRAMINGS = ("length", "close", "http10", "chunked", "until-close")
MOVED = "/moved"


@dataclass
class Manner:
    framing: str = "length"
    gzip: bool = False
    dribble_s: float | None = None
    busy: list[tuple[int, str | None]] = field(default_factory=list)
    redirect: str | None = None
    redirected: set[str] = field(default_factory=set)
    requests: int = 0  # requests answered in this manner

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing {self.framing!r}: one of {FRAMINGS}")


class MannerMixin(BaseHTTPRequestHandler):
    def manner(self) -> Manner:
        manner = getattr(getattr(self.server, "fake", None), "manner", None)
        # Not isinstance: tests import this module as fakes.manners and as tests.fakes.manners.
        return manner if manner is not None else Manner()

    def intercepted(self) -> bool:
        """The busy or redirect answer this request gets instead of the fake's own, if any."""
        manner = self.manner()
        if self.path.startswith(MOVED + "/"):
            self.path = self.path[len(MOVED) :]
            return False
        if manner.busy:
            status, wait = manner.busy.pop(0)
            headers = [("Retry-After", wait)] if wait is not None else []
            self.respond(status, b'{"message": "busy, try again later"}', headers=headers)
            return True
        if manner.redirect and self.path not in manner.redirected:
            manner.redirected.add(self.path)
            base = MOVED if manner.redirect == "same" else manner.redirect.rstrip("/")
            self.respond(307, b"", "text/plain", headers=[("Location", base + self.path)])
            return True
        return False

    def respond(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, Any]] = (),
    ) -> None:
        manner = self.manner()
        manner.requests += 1
        data = body.encode() if isinstance(body, str) else body
        version = "HTTP/1.0" if manner.framing == "http10" else "HTTP/1.1"
        reason = self.responses.get(status, ("",))[0]
        head = [f"{version} {status} {reason}", f"Content-Type: {content_type}"]
        head += [f"{k}: {v}" for k, v in headers]
        if manner.gzip and data:
            data = gzip.compress(data)
            head.append("Content-Encoding: gzip")
        if manner.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
            piece = 1000
            data = b"".join(
                b"%x\r\n%s\r\n" % (len(data[i : i + piece]), data[i : i + piece]) for i in range(0, len(data), piece)
            )
            data += b"0\r\n\r\n"
        elif manner.framing != "until-close":
            head.append(f"Content-Length: {len(data)}")
        if manner.framing in ("close", "http10", "until-close"):
            head.append("Connection: close")
            self.close_connection = True
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        try:
            if manner.dribble_s:
                self.close_connection = True
                for i in range(len(raw)):
                    if getattr(getattr(self.server, "fake", None), "stopping", False):
                        return
                    self.wfile.write(raw[i : i + 1])
                    self.wfile.flush()
                    time.sleep(manner.dribble_s)
            else:
                self.wfile.write(raw)
                self.wfile.flush()
        except OSError:
            self.close_connection = True
