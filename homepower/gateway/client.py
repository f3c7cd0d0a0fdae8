"""Talking to the IQ Gateway over HTTP(S): TLS trust, retries through the nightly outage, the token and
the session cookie, digest auth for old firmware. Answers come back as (status, text); parsing lives in
``parse``. Every failure becomes the contract's error with one actionable line; no secret is ever logged.
"""

from __future__ import annotations

import logging
import os
import errno
import signal
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import RemoteDisconnected
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
    TimeoutError as Urllib3Timeout,
)

from homepower import tls
from homepower.errors import ConfigError, DataError, PinMismatch, UnreachableError
from homepower.gateway import parse

log = logging.getLogger(__name__)

# What OpenSSL says when the other end of a TLS handshake is a plain HTTP server.
UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH: "no route to host", errno.ENETUNREACH: "network is unreachable"}
# OpenSSL's reasons (ssl.SSLError.reason) when a TLS handshake meets a plain HTTP server.
PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}
)
BACKOFF_FIRST_S = 1.0
MIN_ATTEMPT_S = 1.0  # the last attempt before the retry deadline still gets this long to answer
BACKOFF_MAX_S = 10.0  # a LAN device: a try every 10 s is no load, and the outage ends sooner for us
DEFAULT_CAP = 64 * 1024
CHUNK = 64 * 1024
NAME_UNKNOWN = ("name or service not known", "temporary failure in name resolution")
DEFAULT_HEADERS = {
    "User-Agent": "homepower-poller",
    "Accept": "application/json, text/html, */*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
}


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    path: str


class _Expired(BaseException):
    """The run's deadline for the gateway passed (raised by SIGALRM; a BaseException so that no library's
    ``except Exception`` takes it for a network error and retries)."""


def _ring(signum: int, frame: object) -> None:
    raise _Expired()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Interrupt whatever blocks (a connect, a TLS handshake, headers or a body trickling in) once
    ``seconds`` have passed. Only the main thread gets signals: elsewhere the per-read timeouts alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class GatewayClient:
    """One keep-alive session with the gateway for one run, within one deadline: the whole conversation
    (every request, every retry) lasts at most ENVOY_RETRY_S + ENVOY_TIMEOUT of wall time, time spent
    on Enlighten (``paused``) not counted."""

    def __init__(
        self,
        base_url: str,
        tls_mode: str,
        state_dir: Path | str,
        timeout: float,
        retry_s: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        http_fallback: bool = False,
        progress: Callable[[str], None] | None = None,
        unset_hint: str | None = None,
        first_failure: Callable[[str, bool], None] | None = None,
        no_retry: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.http_fallback = http_fallback  # ENVOY_HOST gave no scheme: see _plain_http
        self.tls_mode = tls_mode
        self.state_dir = Path(state_dir)
        self.timeout = timeout
        self.retry_s = retry_s
        self.limit_s = retry_s + timeout
        self._sleep = sleep
        self._clock = clock
        self._progress = progress  # retry progress for a person at a terminal
        self._unset_hint = unset_hint  # ENVOY_HOST is the default and no .env was found: say so
        self._first_failure_seen = first_failure  # told (reason, answered) once, as the retrying begins
        self._no_retry = no_retry or f"ENVOY_RETRY_S={retry_s:g}"  # why a run does not retry (retry_s 0)
        self._begun: float | None = None  # the first request of the run
        self._paused = 0.0  # seconds spent outside the conversation (Enlighten)
        self._first_failure: float | None = None
        self._deadline: float | None = None  # end of the retry window, set at the first connection failure
        self._token: str | None = None
        self._cookies: dict[str, str] = {}  # the gateway's session cookie (one host: no domain/path rules)
        self._digest: tuple[str, str] | None = None  # (user, password) once the firmware wants digest
        self._challenge: dict[str, str] | None = None  # the last digest challenge, reused pre-emptively
        self._nonce_count = 0
        self.pool: urllib3.HTTPConnectionPool | None = None
        self.pending_pin: str | None = None  # seen on first use; written once /info proved a gateway

    # -- connection ------------------------------------------------------------------------------
    def _open(self, timeout: float) -> urllib3.HTTPConnectionPool:
        """urllib3 directly, not requests: a LAN device needs no proxy, netrc or environment CA bundle,
        and requests' own imports (cookiejar, charset guessing, idna) cost a sixth of a poll."""
        if self.pool is None:
            self.pool, fresh = tls.pool_for(self.tls_mode, self.base_url, self.state_dir, timeout)
            self.pending_pin = self.pending_pin or fresh
        return self.pool

    def confirm_gateway(self) -> None:
        """/info showed an IQ Gateway: pin the certificate seen on first use (a router or another web
        server at a wrong ENVOY_HOST never gets pinned)."""
        if self.pending_pin is not None:
            tls.write_pin(self.state_dir, self.pending_pin)
            log.warning(
                "pinned the gateway certificate %s in %s (trust on first use)",
                self.pending_pin,
                tls.pin_path(self.state_dir),
            )
            self.pending_pin = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def set_token(self, token: str | None) -> None:
        self._token = token
        self._cookies.clear()  # a cookie of the previous token is no longer valid

    def use_digest(self, serial: str) -> None:
        """Firmware below 7: installer-less digest auth, user ``envoy``, password = serial's last 6 digits."""
        self._digest = ("envoy", serial[-6:])

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent in the block (asking Enlighten for a token) does not count against the deadline."""
        started = self._clock()
        try:
            yield
        finally:
            self._paused += self._clock() - started

    def finishing(self, budget_s: float) -> None:
        """From now on (the reading is stored; what follows is extra): no retry after a failure, and at most
        ``budget_s`` more seconds, never past the run's deadline."""
        self.retry_s = 0.0
        self._deadline = self._first_failure = None  # the reading's retry window is over
        if self._begun is not None:
            self.limit_s = min(self.limit_s, self.elapsed() + budget_s)

    def elapsed(self) -> float:
        """Seconds spent on the gateway so far in this run."""
        if self._begun is None:
            return 0.0
        return self._clock() - self._begun - self._paused

    # -- requests --------------------------------------------------------------------------------
    def get(self, path: str, auth: bool = True, cap: int = DEFAULT_CAP) -> Answer:
        """GET ``path``; retries connection failures with backoff for ENVOY_RETRY_S (then exit 69), never
        past the run's deadline. A 5xx is ``UnreachableError``; a body beyond ``cap`` bytes ``DataError``."""
        if self._begun is None:
            self._begun = self._clock()
        headers = {}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        answer = self._request(path, headers, digest_ok=auth, cap=cap)
        if answer.status >= 500:
            raise UnreachableError(
                f"gateway {self.base_url}{path} answered HTTP {answer.status} (a server "
                f"error; it may be restarting): nothing stored, the next run tries again"
            )
        return answer

    def _request(self, path: str, headers: dict, digest_ok: bool, cap: int) -> Answer:
        """One answer to GET ``path``: the retry loop, then (where the gateway asks) digest once more."""
        authorization = self._digest_header(path) if digest_ok else None
        answer, challenge = self._send(path, headers, authorization, cap)
        if answer.status == 401 and challenge and digest_ok and self._digest:
            # As requests' HTTPDigestAuth: answer a (new or stale) challenge once; a second 401 stands.
            self._challenge, self._nonce_count = challenge, 0
            authorization = self._digest_header(path)
            if authorization:
                answer, _ = self._send(path, headers, authorization, cap)
        return answer

    def _digest_header(self, path: str) -> str | None:
        if self._digest is None or self._challenge is None:
            return None
        from homepower.gateway import digest  # firmware below 7 only

        self._nonce_count += 1
        uri = urlsplit(self.base_url).path + path
        return digest.authorization(self._challenge, *self._digest, "GET", uri, self._nonce_count, os.urandom(8).hex())

    def _remaining(self) -> float:
        assert self._begun is not None
        return self._begun + self._paused + self.limit_s - self._clock()

    def _over(self, path: str) -> UnreachableError:
        return UnreachableError(
            f"gateway {self.base_url} had not finished answering {path} after {self.elapsed():.1f} s, the "
            f"limit of a run (ENVOY_RETRY_S + ENVOY_TIMEOUT = {self.limit_s:g} s): it is too slow or "
            f"stalled; nothing stored, the next run tries again"
        )

    def _send(self, path: str, headers: dict, authorization: str | None, cap: int) -> tuple[Answer, dict | None]:
        """The answer and the digest challenge it carries (if any), retrying connection failures with
        backoff for ENVOY_RETRY_S, all within the run's deadline."""
        delay = BACKOFF_FIRST_S
        while True:
            started = self._clock()
            remaining = self._remaining()
            if remaining <= 0:
                raise self._over(path)
            try:
                with _alarm(remaining):
                    return self._attempt(
                        path, headers, authorization, cap, min(self._attempt_timeout(started), remaining)
                    )
            except _Expired:
                self.close()
                raise self._over(path) from None
            except SSLError as exc:
                if self._plain_http(exc):
                    continue
                self._tls_failure(exc)
            except (NewConnectionError, Urllib3Timeout, ProtocolError, OSError) as exc:
                if isinstance(exc, ssl.SSLError) and self._plain_http(exc):  # the pin's first handshake
                    continue
                # A read timeout: TCP (and TLS) succeeded, the gateway was reached and did not answer.
                silent = path if isinstance(exc, ReadTimeoutError) else None
                self._wait_or_give_up(started, _reason(exc), delay, silent)
                delay = min(delay * 2, BACKOFF_MAX_S)
            except HTTPError as exc:  # anything else urllib3 can raise
                raise UnreachableError(
                    f"gateway {self.base_url}{path} request failed ({_reason(exc)}); nothing stored"
                ) from None

    def _attempt(
        self, path: str, headers: dict, authorization: str | None, cap: int, timeout: float
    ) -> tuple[Answer, dict | None]:
        url = self.base_url + path
        sent = {**DEFAULT_HEADERS, **headers}
        if authorization:
            sent["Authorization"] = authorization
        if self._cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self._cookies.items())
        pool = self._open(timeout)
        response = pool.urlopen(
            "GET",
            urlsplit(self.base_url).path + path,
            headers=sent,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        complete = False
        try:
            content = _read_capped(response, cap, url)
            complete = True
        except (ProtocolError, DecodeError) as exc:  # the connection dropped mid-body, or bad gzip
            raise DataError(f"gateway {url} answer was cut off or garbled ({_reason(exc)}); nothing stored") from None
        finally:
            if not complete:
                response.close()  # the rest is never read: this connection cannot be reused
            response.release_conn()
        log.debug("GET %s -> %s (%d bytes)", path, response.status, len(content))
        self._keep_cookies(response.headers.getlist("Set-Cookie"))
        challenge = None
        if response.status == 401 and self._digest:  # firmware below 7 only
            from homepower.gateway import digest

            challenge = digest.parse_challenge(", ".join(response.headers.getlist("WWW-Authenticate")))
        # Decode ourselves: gateways rarely name a charset, and guessing one is slow and can differ.
        return Answer(response.status, content.decode("utf-8", errors="replace"), path), challenge

    def _wait_or_give_up(self, started: float, reason: str, delay: float, silent: str | None = None) -> None:
        """After a connection failure: sleep ``delay`` (less near the deadline) before the next attempt, or
        UnreachableError once ENVOY_RETRY_S has passed since the run's first failed attempt."""
        first = self._deadline is None
        if self._deadline is None:
            # From the start of the failed attempt: a gateway that hangs for ENVOY_TIMEOUT does not add that
            # to ENVOY_RETRY_S.
            self._first_failure = started
            self._deadline = started + self.retry_s
        now = self._clock()
        remaining = min(self._deadline - now, self._remaining() - MIN_ATTEMPT_S)
        hint = f"; {self._unset_hint}" if self._unset_hint else ""
        if remaining <= 0 or (self._unset_hint and reason in NAME_UNKNOWN):
            tried = now - (started if self._first_failure is None else self._first_failure)
            if silent is not None:
                raise UnreachableError(
                    f"gateway {self.base_url} accepted the connection but did not answer {silent} within "
                    f"{tried:.1f} s (ENVOY_TIMEOUT={self.timeout:g}, ENVOY_RETRY_S={self.retry_s:g}): it is busy "
                    f"or stalled (restart it if this persists); nothing stored, the next run tries again"
                ) from None
            if tried >= 1:
                retried = f" after retrying for {tried:.0f} s (ENVOY_RETRY_S={self.retry_s:g})"
            elif remaining > 0:  # the default host's name does not resolve: nothing to wait for
                retried = ""
            else:
                retried = f" (not retried: {self._no_retry})"
            raise UnreachableError(
                f"gateway {self.base_url} cannot be reached ({reason}){retried}: check ENVOY_HOST and the "
                f"gateway's network; nothing stored{hint}"
            ) from None
        wait = min(delay, remaining)
        log.info("gateway %s unreachable (%s); retrying in %.1f s", self.base_url, reason, wait)
        if first and self._first_failure_seen is not None:
            self._first_failure_seen(reason, silent is not None)
        elif self._progress is not None:
            self._progress(
                f"gateway {self.base_url} unreachable ({reason}); retrying in {wait:.0f} s, "
                f"{self._deadline - now:.0f} s of ENVOY_RETRY_S={self.retry_s:g} left"
            )
        self._sleep(wait)

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        """Keep ``name=value`` of each Set-Cookie (the attributes do not matter for one LAN host);
        Max-Age=0 deletes, as a browser would."""
        for line in set_cookies:
            pair, _, attributes = line.partition(";")
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            if "max-age=0" in attributes.replace(" ", "").lower():
                self._cookies.pop(name, None)
            else:
                self._cookies[name] = value.strip()

    def _plain_http(self, exc: Exception) -> bool:
        """Firmware below 7 often serves plain HTTP only. When ENVOY_HOST gave no scheme and the HTTPS
        handshake meets a plain HTTP server, switch this run to http:// - but never once a certificate
        is pinned (that gateway spoke TLS before: a plain answer now is not to be trusted with a token)
        nor with a CA bundle (the user asked for verified TLS)."""
        if not (self.base_url.startswith("https://") and _ssl_reasons(exc) & PLAIN_HTTP_REASONS):
            return False
        plain = "http://" + self.base_url[len("https://") :]
        pin = tls.read_pin(self.state_dir) if self.tls_mode == "pin" else None
        if pin is not None:
            raise PinMismatch(
                f"gateway {self.base_url} presented certificate {pin} before and now answers "
                f"plain HTTP without one; nothing sent. If you replaced it by an old gateway, "
                f"delete {tls.pin_path(self.state_dir)}, else investigate"
            )
        if not self.http_fallback or self.tls_mode not in ("pin", "insecure"):
            raise ConfigError(
                f"gateway {self.base_url} answers plain HTTP, not HTTPS: set "
                f"ENVOY_HOST={plain} (firmware below 7 may serve no HTTPS)"
            )
        log.warning(
            "gateway %s answers plain HTTP, not HTTPS: using %s (set ENVOY_HOST=%s to skip the TLS attempt)",
            self.base_url,
            plain,
            plain,
        )
        self.base_url = plain
        self.close()
        self.pool = None
        return True

    def _attempt_timeout(self, now: float) -> float:
        """ENVOY_TIMEOUT, but once retrying no attempt runs (much) past the ENVOY_RETRY_S deadline."""
        if self._deadline is None:
            return self.timeout
        return min(self.timeout, max(MIN_ATTEMPT_S, self._deadline - now))

    def check_jwt(self) -> Answer:
        """Firmware 7+: the gateway validates the token here and answers a session cookie that later
        requests carry (some 7.x firmware wants the cookie, not only the bearer header)."""
        return self.get(parse.CHECK_JWT.path, cap=parse.CHECK_JWT.cap)

    def _tls_failure(self, exc: Exception) -> NoReturn:
        expected = tls.read_pin(self.state_dir) if self.tls_mode == "pin" else None
        if expected is not None and not _ssl_reasons(exc):
            # OpenSSL found nothing wrong (the pin's handshake verifies no chain): urllib3 refused the
            # certificate for not being the pinned one.
            try:
                got = tls.probe_fingerprint(self.base_url, min(self.timeout, max(self._remaining(), 0.1)))
            except OSError:
                got = None
            if got is not None and got != expected:  # a handshake cut short is no new certificate
                raise tls.mismatch_error(self.base_url, self.state_dir, expected, got) from None
        if self.tls_mode not in ("pin", "insecure"):
            raise PinMismatch(
                f"gateway {self.base_url} certificate is not trusted by the CA bundle "
                f"ENVOY_TLS={self.tls_mode}: {_reason(exc)}; fix the bundle or use "
                f"ENVOY_TLS=pin"
            ) from None
        raise UnreachableError(f"gateway {self.base_url} TLS handshake failed: {_reason(exc)}") from None


def _read_capped(response: Any, cap: int, url: str) -> bytes:
    """The body, or DataError as soon as it is known to exceed ``cap`` (from Content-Length, or while
    reading): the rest is never read, so memory stays bounded whatever the gateway sends."""
    length = response.headers.get("Content-Length") or ""
    if length.strip().isdigit() and int(length) > cap:
        raise DataError(_too_big(url, cap, f"{int(length):,} bytes announced"))
    body = bytearray()
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > cap:
            raise DataError(_too_big(url, cap, "more sent"))


def _too_big(url: str, cap: int, what: str) -> str:
    return f"gateway {url} answered more than {cap // 1024} KiB ({what}), more than this endpoint gives; nothing stored"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps, outermost first: causes, contexts, MaxRetryError.reason and exceptions
    passed as arguments (urllib3's ProtocolError carries the socket's error that way)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        err = todo.pop(0)
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        linked = (getattr(err, "reason", None), *err.args, err.__cause__, err.__context__)
        todo.extend(e for e in linked if isinstance(e, BaseException))


def _ssl_reasons(exc: BaseException) -> set[str]:
    """OpenSSL's reason codes (``ssl.SSLError.reason``) anywhere in what urllib3 wrapped."""
    return {e.reason for e in _chain(exc) if isinstance(e, ssl.SSLError) and isinstance(e.reason, str)}


def _reason(exc: Exception) -> str:
    """A short cause without URLs or headers (never the token), from the error's type and errno."""
    for err in _chain(exc):
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        # socket.timeout is TimeoutError; urllib3 counts NewConnectionError as a timeout, its cause says
        if isinstance(err, TimeoutError) or isinstance(err, Urllib3Timeout) and not isinstance(err, NewConnectionError):
            return "timed out"
        if isinstance(err, socket.gaierror):
            return (
                "temporary failure in name resolution" if err.errno == socket.EAI_AGAIN else "name or service not known"
            )
        if isinstance(err, RemoteDisconnected):  # a ConnectionResetError too: look first
            return "remote end closed"
        if isinstance(err, ConnectionResetError):
            return "connection reset"
        if isinstance(err, ssl.SSLCertVerificationError):
            return "certificate verify failed"
        if isinstance(err, OSError) and err.errno in UNREACHABLE_ERRNOS:
            return UNREACHABLE_ERRNOS[err.errno]
    return exc.__class__.__name__
