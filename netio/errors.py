"""The one error family of every conversation with a server: what went wrong, with its fields.

Each error carries ``service`` (a name a person knows: "gateway", "Enlighten", "Meteoserver"), ``url``
(scheme, host, port and path only: no user, password, query or secret), ``status`` (the HTTP status when
there was an answer), ``elapsed`` (seconds into the conversation) and ``reason`` (a short cause: "connection
refused", "timed out", the service's own error text). ``exit_code`` is the contract's: 69 unreachable or a
server error, 77 credentials refused, 65 an answer that cannot be understood (or is over the cap), 78 a
setting that cannot work. This module imports nothing but the standard library, so that any package
(``homepower``, ``solar3p``) can catch or subclass these errors without loading an HTTP library.
"""

from __future__ import annotations

EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_NOPERM = 77
EX_CONFIG = 78


class NetError(Exception):
    """Base of the family. ``str(err)`` is one line a person can act on: service, url, what happened,
    and the caller's ``hint`` (the next step) when one was given."""

    exit_code = EX_UNAVAILABLE

    def __init__(
        self,
        why: str,
        *,
        service: str,
        url: str,
        status: int | None = None,
        elapsed: float | None = None,
        reason: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.why, self.service, self.url = why, service, url
        self.status, self.elapsed, self.reason, self.hint = status, elapsed, reason, hint
        super().__init__(self.message())

    def message(self) -> str:
        text = f"{self.service} {self.url} {self.why}"
        return f"{text}; {self.hint}" if self.hint else text

    def with_hint(self, hint: str) -> NetError:
        """The same error (fields, cause) with ``hint`` as its next step."""
        self.hint = hint
        self.args = (self.message(),)
        return self


class Unreachable(NetError):
    """No usable answer: the server could not be reached or stopped answering (exit 69)."""


class ConnectFailed(Unreachable):
    """No connection: name unknown, refused, no route, connect timeout, proxy failure."""


class TLSFailed(ConnectFailed):
    """The TLS handshake failed or the certificate was refused (the ``ssl`` error is the cause)."""


class NoAnswer(Unreachable):
    """Connected, then nothing came within the per-read timeout."""


class BrokenOff(Unreachable):
    """The server closed or reset the connection before the answer was whole."""


class TimedOut(Unreachable):
    """The conversation's deadline passed (however slowly the server was sending)."""


class ServerError(Unreachable):
    """The server answered a server error (5xx) or 429, and no ``Retry-After`` that fits the deadline.
    ``retry_after``: the seconds it asked for, when it did; ``body`` and ``headers``: the answer itself
    (capped like any body), for a caller that reads the service's own account of a 429 (its limit, when
    to try again)."""

    def __init__(
        self,
        why: str,
        *,
        retry_after: float | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        **fields: object,
    ) -> None:
        self.retry_after = retry_after
        self.body, self.headers = body, dict(headers or {})
        super().__init__(why, **fields)  # type: ignore[arg-type]


class Refused(NetError):
    """The server refused the credentials, token or key (exit 77)."""

    exit_code = EX_NOPERM


class BadAnswer(NetError):
    """An answer that cannot be understood: garbled, not HTTP, not JSON, or a redirect elsewhere (exit 65)."""

    exit_code = EX_DATAERR


class TooLarge(BadAnswer):
    """A body beyond the cap: refused without reading the rest. ``cap`` in bytes."""

    def __init__(self, why: str, *, cap: int, **fields: object) -> None:
        self.cap = cap
        super().__init__(why, **fields)  # type: ignore[arg-type]


class Misconfigured(NetError):
    """A setting that cannot work (a CA bundle that cannot be read, a URL that is not one) (exit 78)."""

    exit_code = EX_CONFIG
