"""Bounded HTTP GETs for the forecast services: a size cap on every body and one wall-clock deadline.

A body is read in small pieces and refused as soon as it passes the cap (the rest is never read), so
memory stays bounded whatever the sender does. The deadline covers everything a fetch does on the network
(connecting, headers, bodies, retries and their pauses) and holds however slowly a server sends: a timer
signal interrupts a read that is still waiting when the time is up; a per-read timeout alone would let a
server that sends one byte a second go on for ever.

Errors carry their fields (service, url, status, reason) and never the query, which may hold an API key.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from homepower.errors import AuthError, DataError, UnreachableError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # the real answers are 10-70 KB; see docs/solar3p.md
READ_PIECE = 8192  # bytes per read: a compressed piece cannot expand past a few MB
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0


class DeadlinePassed(BaseException):
    """Raised by the timer inside whatever read was waiting; a BaseException so that no library's
    ``except Exception`` swallows it on the way out. ``Deadline.run`` turns it into an error."""


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


@dataclass
class Deadline:
    """One wall-clock budget for a whole fetch. ``remaining()`` in seconds, never below 0."""

    seconds: float
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def remaining(self) -> float:
        return max(0.0, self.started + self.seconds - time.monotonic())

    def spent(self) -> float:
        return time.monotonic() - self.started

    def sleep(self, seconds: float) -> bool:
        """Pause ``seconds`` if the budget allows it (with a second to spare for the next try)."""
        if seconds + 1.0 > self.remaining():
            return False
        time.sleep(seconds)
        return True

    @contextmanager
    def enforced(self, service: str, url: str) -> Iterator[None]:
        """Within the block, a read still waiting when the budget is spent is interrupted: the block
        raises ServiceUnreachable saying how long it took. Only the main thread has signals; elsewhere the
        per-read timeouts alone bound it."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def ring(signum, frame):
            raise DeadlinePassed()

        previous = signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, self.remaining()))
        try:
            yield
        except DeadlinePassed as exc:
            raise ServiceUnreachable(
                f"{service} {url} gave no complete answer within the fetch's {self.seconds:g} s deadline "
                f"(gave up after {self.spent():.1f} s); try again later",
                service,
                url,
                reason="deadline",
            ) from exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def reason_of(body: bytes) -> str | None:
    """The service's own error text: Open-Meteo's ``{"error": true, "reason": ...}``, or a short body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        text = " ".join(body[:200].decode("utf-8", "replace").split())
        return text if text and "<" not in text else None  # plain text yes, an HTML page no
    if isinstance(document, dict):
        for name in ("reason", "error", "message"):
            value = document.get(name)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:300]
    return None


def get(
    service: str,
    url: str,
    params: dict,
    deadline: Deadline,
    limit: int = MAX_BODY_BYTES,
    secret: str | None = None,
    key_name: str = "the API key",
) -> bytes:
    """GET ``url`` with ``params``; the body (at most ``limit`` bytes) of a 200 answer, else the contract's
    error. Run it inside ``deadline.enforced``. ``secret`` is scrubbed from whatever the body echoes."""
    import requests

    remaining = deadline.remaining()
    if remaining <= 0:
        raise ServiceUnreachable(
            f"{service} {url}: the fetch's {deadline.seconds:g} s deadline passed before this request "
            f"(after {deadline.spent():.1f} s)",
            service,
            url,
            reason="deadline",
        )
    timeout = (min(CONNECT_TIMEOUT_S, remaining), min(READ_TIMEOUT_S, remaining))
    log.debug("GET %s (%s)", url, ", ".join(k for k in params if k != "key"))
    try:
        response = requests.get(
            url, params=params, timeout=timeout, stream=True, headers={"Accept": "application/json"}
        )
    except requests.RequestException as exc:
        raise ServiceUnreachable(
            f"{service} {url} cannot be reached ({exc.__class__.__name__}); check the network and try again later",
            service,
            url,
            reason=exc.__class__.__name__,
        ) from exc
    with response:
        status = response.status_code
        body = _read_capped(response, service, url, limit)
    if secret:
        body = body.replace(secret.encode(), b"***")
    if status == 200:
        return body
    reason = reason_of(body)
    said = f": {reason}" if reason else ""
    if status in (401, 403):
        raise ServiceRejectedKey(
            f"{service} {url} rejected the request (HTTP {status}){said}: check {key_name}", service, url, status
        )
    if status == 429:
        raise ServiceUnreachable(
            f"{service} {url} refused the request: quota reached (HTTP 429){said}; try again later",
            service,
            url,
            status,
            reason,
        )
    if status >= 500:
        raise ServiceUnreachable(f"{service} {url} answered HTTP {status}{said}", service, url, status, reason)
    raise ServiceError(f"{service} {url} refused the request (HTTP {status}){said}", service, url, status, reason)


def _read_capped(response, service: str, url: str, limit: int) -> bytes:
    import requests

    declared = response.headers.get("Content-Length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(service, url, limit)
    pieces: list[bytes] = []
    size = 0
    try:
        for piece in response.iter_content(READ_PIECE):
            size += len(piece)
            if size > limit:
                raise BodyTooLarge(service, url, limit)
            pieces.append(piece)
    except requests.RequestException as exc:
        raise ServiceUnreachable(
            f"{service} {url} broke off its answer ({exc.__class__.__name__}); try again later",
            service,
            url,
            reason=exc.__class__.__name__,
        ) from exc
    return b"".join(pieces)


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
