"""Bounded HTTP GETs for the forecast services, through the project's one HTTP client (``netio``): a cap on
every body (read in pieces, refused as soon as it passes: the rest is never read) and one wall-clock
deadline over a whole fetch (connecting, headers, bodies, retries and their pauses), held however slowly
a server sends. Proxies and the CA bundle come from the environment (``HTTPS_PROXY``/``NO_PROXY``), a
``Retry-After`` that fits the deadline is waited out, redirects are followed to the same host only.

Errors carry their fields (service, url, status, reason) and never the query, which may hold an API key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import netio
from netio.client import reason_of as reason_of
from netio.deadline import Deadline as _Deadline
from netio.deadline import Expired

from solar3p.errors import AuthError, DataError, UnreachableError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # the real answers are 10-70 KB; see docs/solar3p.md
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0


class ServiceError(DataError):
    """The service answered something that cannot be used (exit 65). Fields: service, url, status, reason."""

    def __init__(self, message: str, service: str, url: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.service, self.url, self.status, self.reason = service, url, status, reason


class ServiceUnreachable(UnreachableError):
    """No usable answer: connection failure, a server error, the quota (429) or the deadline (exit 69)."""

    def __init__(self, message: str, service: str, url: str, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.service, self.url, self.status, self.reason = service, url, status, reason


class ServiceRejectedKey(AuthError):
    """HTTP 401/403: the key is wrong or not allowed (exit 77)."""

    def __init__(self, message: str, service: str, url: str, status: int):
        super().__init__(message)
        self.service, self.url, self.status = service, url, status


class BodyTooLarge(ServiceError):
    """A body beyond ``limit`` bytes: refused without reading the rest (exit 65)."""

    def __init__(self, service: str, url: str, limit: int):
        super().__init__(
            f"{service} {url} sent more than {limit // 1024} KiB, far more than a forecast: refused",
            service,
            url,
            reason="too large",
        )
        self.limit = limit


class Deadline:
    """One wall-clock budget for a whole fetch, and its HTTP session (one per fetch: keep-alive between
    the requests of a range). ``remaining()`` in seconds, never below 0."""

    def __init__(self, seconds: float) -> None:
        from netio.client import new_session  # requests: only when something is fetched

        self.seconds = seconds
        self.clock = _Deadline(seconds)
        self.session = new_session()

    def remaining(self) -> float:
        return max(0.0, self.clock.left())

    def spent(self) -> float:
        return self.clock.elapsed()

    def sleep(self, seconds: float) -> bool:
        """Pause ``seconds`` if the budget allows it (with a second to spare for the next try)."""
        import time

        if seconds + 1.0 > self.remaining():
            return False
        time.sleep(seconds)
        return True

    @contextmanager
    def enforced(self, service: str, url: str) -> Iterator[None]:
        """Within the block (requests and the pauses between them), the deadline holds: once it passes the
        block raises ServiceUnreachable saying how long it took (main thread; elsewhere the per-read
        timeouts, clipped to what is left, bound it)."""
        try:
            with self.clock.armed():
                yield
        except Expired as exc:
            raise self.passed(service, url) from exc

    def passed(self, service: str, url: str) -> ServiceUnreachable:
        return ServiceUnreachable(
            f"{service} {url} gave no complete answer within the fetch's {self.seconds:g} s deadline "
            f"(gave up after {self.spent():.1f} s); try again later",
            service,
            url,
            reason="deadline",
        )


def get(
    service: str,
    url: str,
    params: dict[str, Any],
    deadline: Deadline,
    limit: int = MAX_BODY_BYTES,
    secret: str | None = None,
    key_name: str = "the API key",
) -> bytes:
    """GET ``url`` with ``params``; the body (at most ``limit`` bytes) of a 200 answer, else the contract's
    error. Run it inside ``deadline.enforced``. ``secret`` is scrubbed from whatever the body echoes."""
    from netio.client import Conversation

    if deadline.remaining() <= 0:
        raise ServiceUnreachable(
            f"{service} {url}: the fetch's {deadline.seconds:g} s deadline passed before this request "
            f"(after {deadline.spent():.1f} s)",
            service,
            url,
            reason="deadline",
        )
    talk = Conversation(
        service,
        deadline.seconds,
        session=deadline.session,
        deadline=deadline.clock,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        secrets=(secret,) if secret else (),
    )
    log.debug("GET %s (%s)", url, ", ".join(k for k in params if k != "key"))
    try:
        reply = talk.get(url, cap=limit, params=params, headers={"Accept": "application/json"})
    except netio.TimedOut as exc:
        raise deadline.passed(service, url) from exc
    except netio.TooLarge as exc:
        raise BodyTooLarge(service, url, limit) from exc
    except netio.ServerError as exc:
        said = f": {talk.hidden(exc.reason)}" if exc.reason else ""
        if exc.status == 429:
            message = f"{service} {url} refused the request: quota reached (HTTP 429){said}; try again later"
        else:
            message = f"{service} {url} answered HTTP {exc.status}{said}"
        raise ServiceUnreachable(message, service, url, exc.status, talk.hidden(exc.reason)) from exc
    except netio.BadAnswer as exc:
        raise ServiceError(f"{service} {url} {exc.why}", service, url, exc.status, exc.reason) from exc
    except netio.BrokenOff as exc:
        raise ServiceUnreachable(
            f"{service} {url} broke off its answer ({exc.reason}); try again later", service, url, reason=exc.reason
        ) from exc
    except netio.NetError as exc:
        raise ServiceUnreachable(
            f"{service} {url} cannot be reached ({exc.reason}); check the network and try again later",
            service,
            url,
            reason=exc.reason,
        ) from exc
    status, body = reply.status, reply.body
    if secret:
        body = body.replace(secret.encode(), b"***")
    if status == 200:
        return body
    reason = talk.hidden(reason_of(body))  # a server may echo the key URL-encoded too
    said = f": {reason}" if reason else ""
    if status in (401, 403):
        raise ServiceRejectedKey(
            f"{service} {url} rejected the request (HTTP {status}){said}: check {key_name}", service, url, status
        )
    raise ServiceError(f"{service} {url} refused the request (HTTP {status}){said}", service, url, status, reason)


def decode_json(body: bytes, service: str, url: str) -> object:
    """The JSON of a body; anything else (an error page, truncated, nested beyond reason) is exit 65."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ServiceError(f"{service} {url} answered JSON nested too deep to be a forecast", service, url) from exc
    except ValueError as exc:
        raise ServiceError(
            f"{service} {url} answered something that is not JSON (truncated, or an error page)", service, url
        ) from exc
