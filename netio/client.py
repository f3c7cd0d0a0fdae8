"""The one HTTP client: a requests session (urllib3 underneath) spoken to within one deadline, every body
read in pieces up to a cap, ``Retry-After`` honoured when the wait fits, redirects followed only to the
same origin, and every failure one ``netio.errors`` error with its fields.

Why it looks like this: the library does the protocol (connections, keep-alive and close, chunked and
until-close bodies, gzip/deflate, proxies, digest auth, cookies); what it lacks is a bound in wall time
(``Deadline.armed``: a per-read timeout is reset by every byte), a bound in memory (``stream=True`` and
``iter_content`` up to the cap: the rest is never read) and the policy of a cron job (wait out a short
``Retry-After`` within the deadline; follow no redirect to another host, whose answer we would not
understand and where a token or key must not go).
"""

from __future__ import annotations

from http.client import HTTPException, IncompleteRead, RemoteDisconnected  # urllib3's causes, to classify
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from netio.deadline import Deadline, Expired
from netio.errors import (
    BadAnswer,
    BrokenOff,
    ConnectFailed,
    Misconfigured,
    NetError,
    NoAnswer,
    ServerError,
    TimedOut,
    TLSFailed,
    TooLarge,
    Unreachable,
)

log = logging.getLogger(__name__)

CHUNK = 16 * 1024  # bytes per read: a compressed piece cannot expand to much
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
MAX_REDIRECTS = 5
RETRY_AFTER_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER = 3  # waits per request: a server that keeps asking is down, not busy
RETRY_MARGIN_S = 1.0  # a wait must leave this much of the deadline for the retry itself
REDIRECTS = frozenset({301, 302, 303, 307, 308})
UNREACHABLE_ERRNOS = {113: "no route to host", 101: "network is unreachable"}  # EHOSTUNREACH, ENETUNREACH


def new_session(
    *,
    trust_env: bool = True,
    headers: Mapping[str, str] | None = None,
    adapter: HTTPAdapter | None = None,
    verify: bool | str = True,
) -> requests.Session:
    """A session for one conversation. ``trust_env``: proxies (``HTTPS_PROXY``/``NO_PROXY``), netrc and
    ``REQUESTS_CA_BUNDLE`` from the environment, for cloud services; False for a device on the LAN, which
    no proxy must see. ``adapter``: mounted for http and https (e.g. ``PinnedAdapter``)."""
    session = requests.Session()
    session.trust_env = trust_env
    named = os.environ.get("SSL_CERT_FILE")
    if trust_env and verify is True and named and not _requests_bundle():
        verify = named  # as OpenSSL's own tools honour it (requests alone would use certifi's bundle)
    session.verify = verify
    session.headers.update({"User-Agent": "homepower", "Accept": "application/json, text/plain, */*"})
    if headers:
        session.headers.update(headers)
    if adapter is not None:
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session


def _requests_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")


class PinnedAdapter(HTTPAdapter):
    """An adapter whose TLS is ``ssl_context`` and, when ``fingerprint`` is given, urllib3's
    ``assert_fingerprint``: the certificate is compared right after the handshake, before a byte of the
    request is written. One connection, reused (requests to a device go one at a time)."""

    def __init__(self, fingerprint: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self._fingerprint, self._ssl_context = fingerprint, ssl_context
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        if self._fingerprint is not None:
            pool_kwargs["assert_fingerprint"] = self._fingerprint
            pool_kwargs["assert_hostname"] = False
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def quiet_insecure_warnings() -> None:
    """The caller chose its own check (a pin) or none: say so once in its log, not a warning per request."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def shown_url(url: str, secrets: tuple[str, ...] = ()) -> str:
    """``url`` fit for a message: scheme, host, port and path; no user, password or query, and every
    ``secrets`` value (a key in the path) replaced by ``***``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    text = f"{parts.scheme}://{host}{port}{parts.path}"
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass
class Reply:
    """A whole answer: ``status``, ``headers``, ``body`` (at most the cap), ``url`` (as shown), ``elapsed``
    (seconds into the conversation when it was complete)."""

    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes
    url: str
    elapsed: float
    service: str = ""
    set_cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The body as UTF-8 (servers seldom name a charset; guessing one is slow and can differ)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body's JSON; BadAnswer for anything else (an error page, truncated, nested beyond reason)."""
        try:
            return json.loads(self.body)
        except RecursionError as exc:
            raise BadAnswer(
                "answered JSON nested too deep", service=self.service, url=self.url, status=self.status
            ) from exc
        except ValueError as exc:
            raise BadAnswer(
                f"answered (HTTP {self.status}) with a body that is not JSON",
                service=self.service,
                url=self.url,
                status=self.status,
            ) from exc

    def error_text(self) -> str | None:
        """The service's own words about an error: a JSON ``reason``/``error``/``message``, or a short
        plain-text body (never an HTML page)."""
        return reason_of(self.body)


def reason_of(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        text = " ".join(body[:200].decode("utf-8", "replace").split())
        return text if text and "<" not in text else None
    if isinstance(document, dict):
        for name in ("reason", "error", "message"):
            value = document.get(name)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:300]
    return None


class Conversation:
    """One conversation with one service under one deadline: every request, redirect, retry and pause
    of it. ``hint`` is the next step every error names; ``secrets`` never appear in a message."""

    def __init__(
        self,
        service: str,
        deadline_s: float,
        *,
        session: requests.Session | None = None,
        trust_env: bool = True,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        hint: str | None = None,
        secrets: tuple[str, ...] = (),
        deadline: Deadline | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.deadline = deadline or Deadline(deadline_s)
        self.session = session or new_session(trust_env=trust_env)
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.hint, self.secrets = hint, secrets
        self._sleep = sleep

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, cap: int, **kwargs: Any) -> Reply:
        return self.request("GET", url, cap=cap, **kwargs)

    def post(self, url: str, *, cap: int, **kwargs: Any) -> Reply:
        return self.request("POST", url, cap=cap, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        cap: int,
        params: Mapping[str, Any] | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        timeout: float | None = None,
    ) -> Reply:
        """The whole answer to one request (after same-origin redirects and ``Retry-After`` waits), any
        status below 500 but 429 returned as it is. Raises ServerError for 5xx/429, TooLarge past
        ``cap`` bytes (decoded), TimedOut at the deadline, other ``netio.errors`` for the rest."""
        shown = self.shown(url)
        if self.deadline.left() <= 0:
            raise self._timed_out(shown, 0)
        try:
            with self.deadline.armed():
                return self._follow(method, url, cap, params, data, json, headers, auth, timeout)
        except Expired:
            self.close()  # a connection cut mid-answer cannot be reused
            raise self._timed_out(shown, None) from None

    def shown(self, url: str) -> str:
        return shown_url(url, self.secrets)

    def hidden(self, text: str | None) -> str | None:
        """A server's words without our secrets: a server may quote the request it was sent (the form or
        JSON we posted, its headers), as typed or URL-encoded, and the session's cookies are credentials too."""
        if not text:
            return text
        values = [*self.secrets, *(cookie.value for cookie in self.session.cookies)]
        for secret in values:
            if secret and len(secret) >= 4:  # a value so short would mask ordinary words
                for form in {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}:
                    text = text.replace(form, "***")
        return text

    def _fields(self, url: str, status: int | None = None, reason: str | None = None) -> dict[str, Any]:
        return {
            "service": self.service,
            "url": url,
            "status": status,
            "elapsed": round(self.deadline.elapsed(), 3),
            "reason": reason,
            "hint": self.hint,
        }

    def _timed_out(self, url: str, received: int | None) -> TimedOut:
        return TimedOut(
            f"did not finish answering within the {self.deadline.seconds:g} s allowed "
            f"(gave up after {self.deadline.elapsed():.1f} s)",
            **self._fields(url, reason="deadline"),
        )

    def _follow(
        self,
        method: str,
        url: str,
        cap: int,
        params: Mapping[str, Any] | None,
        data: Any,
        body_json: Any,
        headers: Mapping[str, str] | None,
        auth: Any,
        timeout: float | None,
    ) -> Reply:
        waits = 0
        redirects = 0
        while True:
            reply = self._once(method, url, cap, params, data, body_json, headers, auth, timeout)
            if reply.status in REDIRECTS and reply.headers.get("Location"):
                target = urljoin(url, reply.headers["Location"])
                if _origin(target) != _origin(url):
                    raise BadAnswer(
                        f"redirected to another host ({self.shown(target)}), which is not followed",
                        **self._fields(reply.url, reply.status, "redirect elsewhere"),
                    )
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise BadAnswer(
                        f"redirected more than {MAX_REDIRECTS} times", **self._fields(reply.url, reply.status)
                    )
                if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
                    method, data, body_json = "GET", None, None  # as browsers and requests do
                url, params = target, None  # the Location is the whole new URL
                continue
            if reply.status in RETRY_AFTER_STATUSES and waits < MAX_RETRY_AFTER:
                wait = retry_after(reply.headers.get("Retry-After"))
                if wait is not None and wait + RETRY_MARGIN_S <= self.deadline.left():
                    log.info("%s asked to retry after %.0f s (HTTP %d); waiting", self.service, wait, reply.status)
                    waits += 1
                    self._sleep(wait)
                    continue
            if reply.status >= 500 or reply.status == 429:
                raise self._server_error(reply)
            return reply

    def _server_error(self, reply: Reply) -> ServerError:
        wait = retry_after(reply.headers.get("Retry-After"))
        said = self.hidden(reply.error_text())
        if reply.status == 429:
            why = "refused the request: too many requests (HTTP 429"
            why += f", try again in {_duration(wait)})" if wait is not None else ")"
        else:
            why = f"answered HTTP {reply.status} (a server error"
            why += f"; it asked to retry in {_duration(wait)})" if wait is not None else ")"
        if said:
            why += f": {said}"
        return ServerError(
            why,
            retry_after=wait,
            body=reply.body,
            headers=dict(reply.headers),
            **self._fields(reply.url, reply.status, said),
        )

    def _once(
        self,
        method: str,
        url: str,
        cap: int,
        params: Mapping[str, Any] | None,
        data: Any,
        body_json: Any,
        headers: Mapping[str, str] | None,
        auth: Any,
        timeout: float | None,
    ) -> Reply:
        shown = self.shown(url)
        if auth is not None:
            auth = _CappedChallenge(auth, lambda response: self._read_capped(response, cap, shown))
        left = max(self.deadline.left(), 0.001)
        read = min(self.read_timeout if timeout is None else timeout, left)
        connect = min(self.connect_timeout if timeout is None else timeout, left)
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                json=body_json,
                headers=dict(headers or {}),
                auth=auth,
                timeout=(connect, read),
                stream=True,
                allow_redirects=False,
            )
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise Misconfigured("is not a URL that can be asked", **self._fields(shown)) from exc
        except requests.RequestException as exc:
            raise self._failure(exc, shown) from exc
        except OSError as exc:  # a CA bundle that cannot be read (requests checks it before connecting)
            raise Misconfigured(
                f"cannot be verified: the CA bundle cannot be read ({exc.__class__.__name__}); check "
                f"REQUESTS_CA_BUNDLE or SSL_CERT_FILE",
                **self._fields(shown),
            ) from exc
        with response:
            status = response.status_code
            if status in REDIRECTS:
                body = b""  # never read: the next request needs nothing from it
            else:
                body = self._read_capped(response, cap, shown)
            set_cookies = response.raw.headers.getlist("Set-Cookie") if response.raw is not None else []
        log.debug("%s %s %s: HTTP %d, %d bytes", self.service, method, shown, status, len(body))
        return Reply(
            status, response.headers, body, shown, round(self.deadline.elapsed(), 3), self.service, set_cookies
        )

    def _read_capped(self, response: requests.Response, cap: int, shown: str) -> bytes:
        """The body, or TooLarge as soon as it is known to pass ``cap`` (from Content-Length, or while
        reading): the rest is never read, so memory stays bounded whatever the server sends."""
        declared = response.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            raise TooLarge(
                f"announced a {int(declared):,}-byte answer, above the {_size(cap)} cap",
                cap=cap,
                **self._fields(shown, response.status_code, "too large"),
            )
        body = bytearray()
        try:
            for piece in _pieces(response):
                body += piece
                if len(body) > cap:
                    raise TooLarge(
                        f"answered more than the {_size(cap)} cap; the rest was not read",
                        cap=cap,
                        **self._fields(shown, response.status_code, "too large"),
                    )
        except requests.exceptions.ContentDecodingError as exc:
            raise BadAnswer(
                "answered a compressed body that does not decompress", **self._fields(shown, response.status_code)
            ) from exc
        except requests.RequestException as exc:
            raise self._failure(exc, shown, response.status_code) from exc
        return bytes(body)

    def _failure(self, exc: requests.RequestException, shown: str, status: int | None = None) -> NetError:
        reason = reason_for(exc)
        fields = self._fields(shown, status, reason)
        if isinstance(exc, requests.exceptions.SSLError):
            return TLSFailed(f"TLS handshake failed ({reason})", **fields)
        if isinstance(exc, requests.exceptions.ProxyError):
            return ConnectFailed(f"cannot be reached through the proxy ({reason}); check HTTPS_PROXY", **fields)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return ConnectFailed("cannot be reached (connection timed out)", **fields)
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return NoAnswer(f"accepted the connection but did not answer ({reason})", **fields)
        chain = list(_chain(exc))
        if any(isinstance(e, (NewConnectionError, socket.gaierror, ConnectionRefusedError)) for e in chain):
            return ConnectFailed(f"cannot be reached ({reason})", **fields)
        if any(isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in chain):
            return NoAnswer(f"stopped answering ({reason})", **fields)
        broken = (RemoteDisconnected, IncompleteRead, ConnectionError)
        if not any(isinstance(e, broken) for e in chain) and any(isinstance(e, HTTPException) for e in chain):
            return BadAnswer(f"answered something that is not HTTP ({reason})", **fields)
        if status is not None or any(isinstance(e, broken) for e in chain):
            return BrokenOff(f"broke off the answer ({reason})", **fields)
        return Unreachable(f"cannot be reached ({reason})", **fields)


class _CappedChallenge(requests.auth.AuthBase):
    """``auth`` (requests' digest) with the 401 page it answers read by ``read`` (capped) first: the
    library's hook reads that page whole (``r.content``) before it retries, so a server could make it
    read without end."""

    def __init__(self, auth: Any, read: Callable[[requests.Response], bytes]) -> None:
        self.auth, self.read = auth, read

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.register_hook("response", self._cap)  # before the ones the auth registers, so it runs first
        prepared: requests.PreparedRequest = self.auth(request)
        return prepared

    def _cap(self, response: requests.Response, **_: Any) -> None:
        if response.status_code == 401:
            # What Response.content would leave behind, from a capped read (requests has no public setter).
            response._content = self.read(response)
            response._content_consumed = True  # type: ignore[attr-defined]  # set in __init__, not annotated


def _pieces(response: requests.Response) -> Iterator[bytes]:
    return response.iter_content(CHUNK)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


RETRY_AFTER_MAX_S = 366 * 86400.0  # longer than any quota's window: more is a server's slip, kept printable


def retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a ``Retry-After`` asks for (delay-seconds or an HTTP-date), at most RETRY_AFTER_MAX_S; None
    when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return min(max(0.0, moment.timestamp() - now()), RETRY_AFTER_MAX_S)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "a while"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    until = datetime.fromtimestamp(time.time() + seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"{seconds / 3600:.1f} h, at {until}"


def _size(cap: int) -> str:
    return f"{cap // (1024 * 1024)} MiB" if cap >= 1024 * 1024 else f"{cap // 1024} KiB"


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


def ssl_reasons(exc: BaseException) -> set[str]:
    """OpenSSL's reason codes (``ssl.SSLError.reason``) anywhere in what the libraries wrapped."""
    return {e.reason for e in _chain(exc) if isinstance(e, ssl.SSLError) and isinstance(e.reason, str)}


def reason_for(exc: BaseException) -> str:
    """A short cause without URLs or headers (never a token or key), from the error's type and errno."""
    for err in _chain(exc):
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror):
            return (
                "temporary failure in name resolution" if err.errno == socket.EAI_AGAIN else "name or service not known"
            )
        if isinstance(err, (TimeoutError, urllib3.exceptions.TimeoutError)) and not isinstance(err, NewConnectionError):
            return "timed out"
        if isinstance(err, RemoteDisconnected):  # a ConnectionResetError too: look first
            return "remote end closed"
        if isinstance(err, IncompleteRead):
            return "body cut short"
        if isinstance(err, ConnectionResetError):
            return "connection reset"
        if isinstance(err, ssl.SSLCertVerificationError):
            return "certificate verify failed"
        if isinstance(err, urllib3.exceptions.ProxyError) and err is not exc:
            continue
        if isinstance(err, OSError) and err.errno in UNREACHABLE_ERRNOS:
            return UNREACHABLE_ERRNOS[err.errno]
    for err in _chain(exc):
        if isinstance(err, HTTPException):
            return err.__class__.__name__
    return exc.__class__.__name__
