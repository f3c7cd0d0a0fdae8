"""Talking to the IQ Gateway over HTTP(S): TLS trust, retries through the nightly outage, the token and
the session cookie, digest auth for old firmware. Answers come back as (status, text); parsing lives in
``parse``. Every failure becomes the contract's error with one actionable line; no secret is ever logged.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, NoReturn

from homepower import tls
from homepower.errors import ConfigError, DataError, PinMismatch, UnreachableError
from homepower.gateway import parse
from netio.deadline import Deadline
from netio.errors import (
    BadAnswer,
    BrokenOff,
    Misconfigured,
    NetError,
    NoAnswer,
    ServerError,
    TimedOut,
    TLSFailed,
    TooLarge,
)

if TYPE_CHECKING:
    from netio.client import Conversation

log = logging.getLogger(__name__)

# OpenSSL's reasons (ssl.SSLError.reason) when a TLS handshake meets a plain HTTP server.
PLAIN_HTTP_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}
)
BACKOFF_FIRST_S = 1.0
MIN_ATTEMPT_S = 1.0  # the last attempt before the retry deadline still gets this long to answer
BACKOFF_MAX_S = 10.0  # a LAN device: a try every 10 s is no load, and the outage ends sooner for us
DEFAULT_CAP = 64 * 1024
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


class GatewayClient:
    """One keep-alive session with the gateway for one run, within one deadline: the whole conversation
    (every request, every retry) lasts at most ENVOY_RETRY_S + ENVOY_TIMEOUT of wall time, time spent
    on Enlighten (``paused``) not counted. The HTTP is netio's (requests): never a proxy (a LAN device),
    the certificate pin is urllib3's ``assert_fingerprint``, digest auth is requests' and the session
    cookie lives in the session's jar."""

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
        self._run: Deadline | None = None  # the run's deadline, from its first request
        self._first_failure: float | None = None
        self._deadline: float | None = None  # end of the retry window, set at the first connection failure
        self._token: str | None = None
        self._digest: object | None = None  # requests' HTTPDigestAuth once the firmware wants digest
        self._talk: Conversation | None = None
        self.pending_pin: str | None = None  # seen on first use; written once /info proved a gateway

    # -- connection ------------------------------------------------------------------------------
    def _open(self, timeout: float) -> Conversation:
        if self._talk is None:
            from netio.client import Conversation  # requests: only once the gateway is asked

            assert self._run is not None
            session, fresh = tls.session_for(self.tls_mode, self.base_url, self.state_dir, timeout)
            self.pending_pin = self.pending_pin or fresh
            self._talk = Conversation("gateway", self.limit_s, session=session, deadline=self._run)
        return self._talk

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
        if self._talk is not None:
            self._talk.close()
            self._talk = None

    def set_token(self, token: str | None) -> None:
        self._token = token
        if self._talk is not None:
            self._talk.session.cookies.clear()  # a cookie of the previous token is no longer valid

    def use_digest(self, serial: str) -> None:
        """Firmware below 7: installer-less digest auth, user ``envoy``, password = serial's last 6 digits."""
        from requests.auth import HTTPDigestAuth

        self._digest = HTTPDigestAuth("envoy", serial[-6:])

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent in the block (asking Enlighten for a token) does not count against the deadline."""
        if self._run is None:
            yield
            return
        with self._run.paused():
            yield

    _extra_s: float | None = None  # set by ``finishing``: what follows the reading gets this long, no retry
    _extra_cut: str = ""  # why it gets no longer: ENVOY_TIMEOUT, or what was left of the run's deadline

    def finishing(self, budget_s: float) -> None:
        """From now on (the reading is stored; what follows is extra): no retry after a failure, and at most
        ``budget_s`` more seconds, never past the run's deadline."""
        self._extra_s = budget_s
        self._extra_cut = "ENVOY_TIMEOUT"
        self._no_retry = "the reading is stored; what follows it is not retried"
        self.retry_s = 0.0
        self._deadline = self._first_failure = None  # the reading's retry window is over
        if self._run is not None:
            spent, limit = self.elapsed(), self.limit_s
            if limit - spent < budget_s:  # the reading took most of the run: what is left of it cuts first
                self._extra_s = max(limit - spent, 0.0)
                self._extra_cut = (
                    f"what was left of the run's limit, ENVOY_RETRY_S + ENVOY_TIMEOUT = {limit:g} s, after "
                    f"{spent:.1f} s on the reading"
                )
            self.limit_s = min(limit, spent + budget_s)
            self._run.seconds = self.limit_s

    def elapsed(self) -> float:
        """Seconds spent on the gateway so far in this run."""
        return 0.0 if self._run is None else self._run.elapsed()

    # -- requests --------------------------------------------------------------------------------
    def get(self, path: str, auth: bool = True, cap: int = DEFAULT_CAP) -> Answer:
        """GET ``path``; retries connection failures with backoff for ENVOY_RETRY_S (then exit 69), never
        past the run's deadline. A 5xx is ``UnreachableError``; a body beyond ``cap`` bytes ``DataError``."""
        if self._run is None:
            self._run = Deadline(self.limit_s, clock=self._clock)
        headers = {}
        if auth and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return self._send(path, headers, auth, cap)

    def _remaining(self) -> float:
        assert self._run is not None
        return self._run.left()

    def _over(self, path: str) -> UnreachableError:
        if self._extra_s is not None:
            return self._slow_extra(path)
        return UnreachableError(
            f"gateway {self.base_url} had not finished answering {path} after {self.elapsed():.1f} s, the "
            f"limit of a run (ENVOY_RETRY_S + ENVOY_TIMEOUT = {self.limit_s:g} s): it is too slow or "
            f"stalled; nothing stored, the next run tries again"
        )

    def _slow_extra(self, path: str) -> UnreachableError:
        return UnreachableError(
            f"gateway {self.base_url} did not finish answering {path} within {self._extra_s:.3g} s "
            f"({self._extra_cut}; after the reading nothing is retried)"
        )

    def _send(self, path: str, headers: dict[str, str], auth: bool, cap: int) -> Answer:
        """The answer, retrying connection failures with backoff for ENVOY_RETRY_S, all within the run's
        deadline."""
        delay = BACKOFF_FIRST_S
        while True:
            started = self._clock()
            remaining = self._remaining()
            if remaining <= 0:
                raise self._over(path)
            try:
                return self._attempt(path, headers, auth, cap, min(self._attempt_timeout(started), remaining))
            except TimedOut as exc:
                self.close()
                raise self._over(path) from exc
            except TLSFailed as exc:
                if self._plain_http(exc):
                    continue
                self._tls_failure(exc)
            except ServerError as exc:
                after = "" if self._extra_s is not None else ": nothing stored, the next run tries again"
                raise UnreachableError(
                    f"gateway {self.base_url}{path} answered HTTP {exc.status} (a server error; it may be "
                    f"restarting){after}"
                ) from exc
            except TooLarge as exc:
                raise DataError(
                    f"gateway {self.base_url}{path} answered more than {cap // 1024} KiB, more than this "
                    f"endpoint gives; nothing stored"
                ) from exc
            except BadAnswer as exc:  # bad gzip, not HTTP, a redirect to another host
                raise DataError(f"gateway {exc.url} {exc.why}; nothing stored") from exc
            except Misconfigured as exc:
                raise ConfigError(f"gateway {exc.url} {exc.why}: check ENVOY_HOST and ENVOY_TLS") from exc
            except BrokenOff as exc:
                if exc.status is not None:  # headers came, then the connection dropped mid-body
                    raise DataError(
                        f"gateway {self.base_url}{path} answer was cut off ({exc.reason}); nothing stored"
                    ) from exc
                self._retry(exc, path, started, delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
            except NetError as exc:  # not reached: refused, no route, timed out, reset
                self._retry(exc, path, started, delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _retry(self, exc: NetError, path: str, started: float, delay: float) -> None:
        # A read timeout: TCP (and TLS) succeeded, the gateway was reached and did not answer.
        silent = path if isinstance(exc, NoAnswer) else None
        try:
            self._wait_or_give_up(started, exc.reason or exc.__class__.__name__, delay, silent)
        except UnreachableError as final:
            raise final from exc

    def _attempt(self, path: str, headers: dict[str, str], auth: bool, cap: int, timeout: float) -> Answer:
        talk = self._open(timeout)
        reply = talk.get(
            self.base_url + path,
            cap=cap,
            headers={**DEFAULT_HEADERS, **headers},
            auth=self._digest if auth else None,
            timeout=timeout,
        )
        log.debug("GET %s -> %s (%d bytes)", path, reply.status, len(reply.body))
        return Answer(reply.status, reply.text, path)

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
            if silent is not None and self._extra_s is not None:
                raise self._slow_extra(silent) from None
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

    def _plain_http(self, exc: TLSFailed) -> bool:
        """Firmware below 7 often serves plain HTTP only. When ENVOY_HOST gave no scheme and the HTTPS
        handshake meets a plain HTTP server, switch this run to http:// - but never once a certificate
        is pinned (that gateway spoke TLS before: a plain answer now is not to be trusted with a token)
        nor with a CA bundle (the user asked for verified TLS)."""
        if not (self.base_url.startswith("https://") and tls.ssl_reasons(exc) & PLAIN_HTTP_REASONS):
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

    def _tls_failure(self, exc: TLSFailed) -> NoReturn:
        expected = tls.read_pin(self.state_dir) if self.tls_mode == "pin" else None
        if expected is not None and not tls.ssl_reasons(exc):
            # OpenSSL found nothing wrong (the pin's handshake verifies no chain): urllib3 refused the
            # certificate for not being the pinned one.
            try:
                got = tls.probe_fingerprint(self.base_url, min(self.timeout, max(self._remaining(), 0.1)))
            except NetError:
                got = None
            if got is not None and got != expected:  # a handshake cut short is no new certificate
                raise tls.mismatch_error(self.base_url, self.state_dir, expected, got) from exc
        if self.tls_mode not in ("pin", "insecure"):
            raise PinMismatch(
                f"gateway {self.base_url} certificate is not trusted by the CA bundle "
                f"ENVOY_TLS={self.tls_mode}: {exc.reason}; fix the bundle or use "
                f"ENVOY_TLS=pin"
            ) from exc
        raise UnreachableError(f"gateway {self.base_url} TLS handshake failed: {exc.reason}") from exc
