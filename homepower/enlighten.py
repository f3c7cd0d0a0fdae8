"""The gateway token's whole life: a pasted ENVOY_TOKEN, or one obtained from Enlighten and cached.

Obtaining: ``POST {ENLIGHTEN_URL}/login/login.json`` (form ``user[email]``, ``user[password]``) gives a
``session_id``; ``POST {ENTREZ_URL}/tokens`` (JSON ``session_id``, ``serial_num``, ``username``) gives the
token, as text or as JSON ``{"token": ...}``. The token is cached in ``STATE_DIR/envoy-token.json``
(0600) and renewed by the rule in ``homepower.token_policy``; what the last attempt gave (and a salted
hash of the credentials it used, never the password) is in ``STATE_DIR/enlighten-attempt.json`` (0600).

Both are spoken to through ``netio`` (requests): one wall-clock deadline (``DEADLINE_S``) over the whole
login and token request, each body read up to a cap, proxies and CA bundle from the environment like any
cloud service, Enlighten's certificate verified normally. Neither the password nor the token is ever
logged or put in a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from homepower import token_policy as policy
from homepower.errors import EX_DATAERR, AuthError, ConfigError, DataError, HomepowerError, UnreachableError
from homepower.files import write_atomic
from homepower.token_policy import Claims, Do, LastAttempt
from netio.errors import Misconfigured, NetError, TLSFailed

if TYPE_CHECKING:
    from netio.client import Conversation, Reply

log = logging.getLogger(__name__)

CACHE_FILE = "envoy-token.json"
ATTEMPT_FILE = "enlighten-attempt.json"
DEADLINE_S = 30.0  # the whole login + token conversation, however slowly the services answer
LOGIN_CAP = 64 * 1024  # Enlighten's login answer is a few hundred bytes of JSON
TOKEN_CAP = 64 * 1024  # an Entrez token is about 1 KB (a JWT), as text or in a JSON object
STATE_CAP = 64 * 1024  # the cache and attempt files we write are well under 2 KB
HASH_ROUNDS = 100_000  # PBKDF2 rounds for the credentials' fingerprint (only on renewal paths)
ENTREZ_TOKENS_PAGE = "https://entrez.enphaseenergy.com/entrez_tokens"


def jwt_exp(token: str) -> float | None:
    """The ``exp`` claim (unix seconds) of a JWT, read without checking the signature; None if unreadable."""
    return Claims.from_token(token).exp


def when(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- errors, with their fields ------------------------------------------------------------------------


class ServiceUnreachable(UnreachableError):
    """Enlighten or Entrez could not be reached, was not trusted, answered 5xx or not within the deadline."""

    def __init__(self, service: str, url: str, why: str, status: int | None = None, elapsed: float | None = None):
        self.service, self.url, self.why, self.status, self.elapsed = service, url, why, status, elapsed
        super().__init__(f"{service} {url} {why}; try again later or set ENVOY_TOKEN")


class ServiceAnswer(DataError):
    """Enlighten or Entrez answered something that is not what the protocol says (nothing cached)."""

    def __init__(self, service: str, url: str, why: str, status: int | None = None):
        self.service, self.url, self.why, self.status = service, url, why, status
        super().__init__(f"{service} {url} {why}; nothing cached; try again later or set ENVOY_TOKEN")


class CredentialsRejected(AuthError):
    """Enlighten or Entrez refused these credentials (or this serial); not asked again within the hour.
    ``kind``: "password", "two-factor", "blocked" (the account is locked) or "serial"."""

    def __init__(self, message: str, kind: str, user: str | None, status: int | None = None):
        self.kind, self.user, self.status = kind, user, status
        super().__init__(message)


class NotAskedAgain(AuthError):
    """A token is needed, but Enlighten rejected these credentials within the hour: it is not asked."""

    def __init__(self, message: str, until: float, outcome: str):
        self.until, self.outcome = until, outcome
        super().__init__(message)


@dataclass(frozen=True)
class Credentials:
    user: str | None
    password: str | None
    enlighten_url: str
    entrez_url: str

    @property
    def complete(self) -> bool:
        return bool(self.user and self.password)

    def __repr__(self) -> str:  # never the password, even in a traceback at DEBUG
        return f"Credentials(user={self.user!r}, enlighten_url={self.enlighten_url!r}, entrez_url={self.entrez_url!r})"


# -- HTTP: netio, one deadline over the login and the token request ---------------------------------


def _wrapped(exc: NetError) -> HomepowerError:
    """netio's error as this module's, with the same fields and the cause kept by the caller."""
    if isinstance(exc, Misconfigured):
        return ConfigError(str(exc))
    if exc.exit_code == EX_DATAERR:
        return ServiceAnswer(exc.service, exc.url, exc.why, exc.status)
    why = exc.why
    if isinstance(exc, TLSFailed) and exc.reason == "certificate verify failed":
        why = (
            "presented a certificate that is not trusted (TLS verification failed): check the URL, "
            "or the CA bundle (REQUESTS_CA_BUNDLE or SSL_CERT_FILE)"
        )
    return ServiceUnreachable(exc.service, exc.url, why, exc.status, exc.elapsed)


def _post(talk: Conversation, url: str, cap: int, **body: Any) -> Reply:
    try:
        return talk.post(url, cap=cap, **body)
    except NetError as exc:
        raise _wrapped(exc) from exc


def _json(reply: Reply) -> object:
    try:
        return reply.json()
    except NetError as exc:  # a maintenance or proxy page, or pathological nesting
        raise _wrapped(exc) from exc.__cause__


def request_token(creds: Credentials, serial: str, deadline_s: float = DEADLINE_S) -> str:
    """A fresh token from Enlighten + Entrez, within ``deadline_s`` in all. Raises CredentialsRejected (77)
    when Enlighten or Entrez refuses (two-factor accounts included), ServiceUnreachable (69) when either is
    down, slow or answers 5xx, ServiceAnswer (65) for an answer that is not understood."""
    from netio.client import Conversation, new_session  # requests: only when a token is needed

    session = new_session()  # proxies and CA bundle from the environment, as for any cloud service
    hide = (creds.password,) if creds.password else ()  # a server may quote the request in its error
    enlighten = Conversation("Enlighten", deadline_s, session=session, secrets=hide)
    entrez = Conversation("Entrez", deadline_s, session=session, deadline=enlighten.deadline, secrets=hide)
    login_url = f"{creds.enlighten_url}/login/login.json"
    form = {"user[email]": creds.user or "", "user[password]": creds.password or ""}
    with session:
        reply = _post(enlighten, login_url, LOGIN_CAP, data=form)
        return _token_from(reply, creds, serial, entrez, login_url)


def _token_from(reply: Reply, creds: Credentials, serial: str, entrez: Conversation, login_url: str) -> str:
    if reply.status in (401, 403):
        raise CredentialsRejected(
            f"Enlighten rejected the login of ENVOY_USER={creds.user} (HTTP {reply.status}): check ENVOY_USER "
            f"and ENVOY_PASSWORD (Enlighten is not asked again with them for an hour)",
            "password",
            creds.user,
            reply.status,
        )
    if reply.status != 200:
        raise ServiceAnswer(
            "Enlighten", login_url, f"answered the login with HTTP {reply.status}: check ENLIGHTEN_URL", reply.status
        )
    body = _json(reply)
    session_id = body.get("session_id") if isinstance(body, dict) else None
    if not isinstance(body, dict):
        raise ServiceAnswer("Enlighten", login_url, "answered the login with JSON that is not an object", 200)
    if body.get("isBlocked") is True:
        raise CredentialsRejected(
            f"Enlighten reports the account ENVOY_USER={creds.user} blocked (isBlocked): sign in at "
            f"enlighten.enphaseenergy.com to unblock it, or set ENVOY_TOKEN (not asked again for an hour)",
            "blocked",
            creds.user,
            200,
        )
    if not isinstance(session_id, str) or not session_id.strip():
        raise CredentialsRejected(
            f"Enlighten answered the login of ENVOY_USER={creds.user} without a session: the account uses "
            f"two-factor login, which automatic tokens cannot pass; get a token at {ENTREZ_TOKENS_PAGE} and "
            f"set ENVOY_TOKEN (Enlighten is not asked again with these credentials for an hour)",
            "two-factor",
            creds.user,
            200,
        )
    request = {"session_id": session_id, "serial_num": serial, "username": creds.user}
    entrez.secrets = (*entrez.secrets, session_id)  # the session is a login: never shown
    reply = _post(entrez, f"{creds.entrez_url}/tokens", TOKEN_CAP, json=request)
    if reply.status in (401, 403):
        raise CredentialsRejected(
            f"Enlighten (Entrez) refused a token for gateway {serial} to ENVOY_USER={creds.user} "
            f"(HTTP {reply.status}): is the gateway registered to this account and ENVOY_SERIAL right? "
            f"(not asked again for an hour)",
            "serial",
            creds.user,
            reply.status,
        )
    if reply.status != 200:
        raise ServiceAnswer(
            "Entrez", f"{creds.entrez_url}/tokens", f"answered HTTP {reply.status}: check ENTREZ_URL", reply.status
        )
    return _token_from_body(reply.text, f"{creds.entrez_url}/tokens")


def _token_from_body(text: str, url: str = "ENTREZ_URL") -> str:
    """The token in Entrez's answer: the text itself, a JSON string, or JSON ``{"token": ...}``."""
    body = (text or "").strip()
    if body.startswith(("{", '"')):
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ServiceAnswer("Entrez", url, "answered JSON that cannot be read") from exc
        if isinstance(decoded, dict):
            decoded = decoded.get("token")
        if not isinstance(decoded, str):
            raise ServiceAnswer("Entrez", url, "answered JSON without a token")
        body = decoded.strip()
    token = "".join(body.split())
    # A JWT (or any bearer token) is base64url text; anything else is an error page or message.
    if not token or len(token) > 16384 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
        raise ServiceAnswer("Entrez", url, "did not answer a token")
    if jwt_exp(token) is None:
        log.warning("the token from Entrez has no readable expiry; it is reused until the gateway rejects it")
    return token


# -- files in STATE_DIR ----------------------------------------------------------------------------


def cache_path(state_dir: Path) -> Path:
    return Path(state_dir) / CACHE_FILE


def attempt_path(state_dir: Path) -> Path:
    return Path(state_dir) / ATTEMPT_FILE


def secure(path: Path) -> None:
    """A file holding a secret found readable or writable by others is set back to 0600, with a warning."""
    try:
        st = os.stat(path)
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode) and mode & 0o077:
        try:
            os.chmod(path, 0o600)
        except OSError as exc:
            log.warning("%s has mode %04o and cannot be restored to 0600 (%s)", path, mode, exc.strerror)
            return
        log.warning("%s had mode %04o (readable by others); restored to 0600", path, mode)


def _read_json(path: Path) -> dict[str, Any]:
    """A small JSON object we wrote, or {} when it is absent; one not understood is ignored with a warning
    (it is replaced by the next write)."""
    if path.exists() and not path.is_file():  # a directory, or a FIFO that would block the read
        log.debug("%s is not a regular file; ignored", path)
        return {}
    try:
        with open(path, "rb") as handle:
            raw = handle.read(STATE_CAP + 1)
    except FileNotFoundError:
        return {}
    except IsADirectoryError:  # a directory in its place: writing it will say so, once
        log.debug("%s is a directory; ignored", path)
        return {}
    except OSError as exc:
        log.warning("%s cannot be read (%s); ignored", path, exc.strerror or exc.__class__.__name__)
        return {}
    try:
        if len(raw) > STATE_CAP:
            raise ValueError("too large")
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError, RecursionError):
        log.warning("%s is not understood; ignored and replaced when next written", path)
        return {}
    return data if isinstance(data, dict) else {}


def _cause(exc: BaseException) -> str:
    """The OS's reason behind a failed write (``No space left on device``), for a one-line message."""
    cause = exc.__cause__
    if isinstance(cause, OSError):
        return cause.strerror or cause.__class__.__name__
    return str(exc)


def _write_private(path: Path, record: dict[str, Any], what: str) -> None:
    try:
        write_atomic(path, json.dumps(record))  # 0600 from the first byte: it holds a secret
    except OSError as exc:
        raise ConfigError(
            f"cannot write the {what} {path} ({exc.strerror or exc.__class__.__name__}): make STATE_DIR writable"
        ) from exc


def read_cache(state_dir: Path, serial: str) -> str | None:
    data = _read_json(cache_path(state_dir))
    token = data.get("token")
    if data.get("serial") != serial or not isinstance(token, str):
        return None
    return token


def _cache_record(state_dir: Path) -> dict[str, Any]:
    return _read_json(cache_path(state_dir))


def token_id(token: str) -> str:
    """A one-way name for a token (to remember a rejected ENVOY_TOKEN without storing it twice)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def rejected_pasted(state_dir: Path) -> str | None:
    """``token_id`` of the ENVOY_TOKEN the gateway rejected (a cached token from Enlighten replaced it)."""
    value = _cache_record(state_dir).get("rejected_pasted")
    return value if isinstance(value, str) else None


def write_cache(
    state_dir: Path, serial: str, token: str, rejected: str | None = None, obtained: float | None = None
) -> None:
    """Atomically, readable by the owner only (0600) from the first byte. ``rejected``: see rejected_pasted;
    ``obtained``: when Enlighten gave it (the life of a token without ``iat`` counts from then)."""
    record: dict[str, Any] = {"serial": serial, "token": token}
    if rejected:
        record["rejected_pasted"] = rejected
    if obtained is not None:
        record["obtained"] = int(obtained)
    _write_private(cache_path(state_dir), record, "token cache")


def ensure_cache_writable(state_dir: Path) -> None:
    """ConfigError naming the token cache when it cannot be written (a directory or another non-file in
    its place, a file that cannot be replaced): found before any login, since a token that cannot be kept
    would cost a login on every poll. An existing cache is written back as it is, which is the test."""
    path = cache_path(state_dir)
    why = "a directory is in its place" if path.is_dir() else None
    if why is None and path.exists() and not path.is_file():
        why = "it is not a regular file"
    cause: OSError | None = None
    if why is None and path.exists():
        try:
            with open(path, "rb") as handle:
                raw = handle.read(STATE_CAP + 1)
            if len(raw) <= STATE_CAP:
                write_atomic(path, raw.decode("utf-8", errors="replace"))
        except OSError as exc:
            why, cause = exc.strerror or exc.__class__.__name__, exc
    if why is not None:
        raise ConfigError(
            f"the token cache {path} cannot be written ({why}): Enlighten was not asked for a token, since one "
            f"that cannot be kept would cost a login on every poll; remove or fix {path} (or set ENVOY_TOKEN)"
        ) from cause


def drop_cache(state_dir: Path) -> None:
    try:
        cache_path(state_dir).unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # not removable: the renewal goes on, and writing the new one will say why
        log.debug("the token cache cannot be removed (%s)", exc.strerror or exc.__class__.__name__)


def fingerprint(creds: Credentials, serial: str, salt: str) -> str:
    """A salted, slow one-way hash of the credentials (and serial): enough to notice that they changed,
    useless for recovering the password."""
    material = "\0".join((creds.user or "", creds.password or "", serial)).encode()
    return hashlib.pbkdf2_hmac("sha256", material, bytes.fromhex(salt), HASH_ROUNDS).hex()


def read_attempt(state_dir: Path, creds: Credentials, serial: str) -> LastAttempt | None:
    data = _read_json(attempt_path(state_dir))
    at, outcome, salt, digest = data.get("at"), data.get("outcome"), data.get("salt"), data.get("credentials")
    if not isinstance(at, (int, float)) or isinstance(at, bool) or outcome not in policy.OUTCOMES:
        return None
    same = False
    if isinstance(salt, str) and isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{32}", salt):
        same = secrets.compare_digest(fingerprint(creds, serial, salt), digest)
    return LastAttempt(float(at), str(outcome), same)


def write_attempt(state_dir: Path, creds: Credentials, serial: str, at: float, outcome: str) -> None:
    salt = secrets.token_hex(16)
    record = {"at": int(at), "outcome": outcome, "salt": salt, "credentials": fingerprint(creds, serial, salt)}
    _write_private(attempt_path(state_dir), record, "Enlighten attempt record")


# -- the token source ------------------------------------------------------------------------------


class TokenSource:
    """Gives the poller a token, and a fresh one once when the gateway rejects it."""

    def __init__(
        self,
        creds: Credentials,
        state_dir: Path,
        pasted: str | None = None,
        now: Callable[[], float] = time.time,
        fetch: Callable[[Credentials, str], str] = request_token,
    ):
        self.creds = creds
        self.state_dir = Path(state_dir)
        self.pasted = pasted
        self._now = now
        self._fetch = fetch
        self.rejected = False  # the gateway refused a token once this run
        self.gave_pasted = False
        self.obtained = False  # a token came from Enlighten in this run
        for path in (cache_path(self.state_dir), attempt_path(self.state_dir)):
            secure(path)  # on every run, whether or not this gateway needs a token

    def token(self, serial: str) -> str:
        now = self._now()
        # An ENVOY_TOKEN the gateway rejected before, with an Enlighten account to replace it: the cached
        # replacement is used, not one rejection and one cloud login on every run.
        known_bad = self.pasted and self.creds.complete and rejected_pasted(self.state_dir) == token_id(self.pasted)
        if self.pasted and not known_bad:
            exp = jwt_exp(self.pasted)
            if exp is None or exp > now:
                due = policy.renew_at(Claims.from_token(self.pasted))
                if exp is not None and due is not None and now >= due:
                    log.warning("ENVOY_TOKEN expires at %s: paste a new one soon", when(exp))
                self.gave_pasted = True
                return self.pasted
            if not self.creds.complete:
                raise AuthError(
                    f"ENVOY_TOKEN expired at {when(exp)}: paste a new token, or set ENVOY_USER "
                    f"and ENVOY_PASSWORD so one can be obtained from Enlighten"
                )
            log.warning(
                "ENVOY_TOKEN expired at %s; using a token from Enlighten instead (remove or replace ENVOY_TOKEN)",
                when(exp),
            )
        record = _cache_record(self.state_dir)
        cached = (
            record.get("token") if record.get("serial") == serial and isinstance(record.get("token"), str) else None
        )
        obtained = record.get("obtained") if isinstance(record.get("obtained"), (int, float)) else None
        claims = Claims.from_token(cached) if cached else None
        if claims is not None:
            start = policy.renew_at(claims, obtained)
            if start is None or now < start:  # the common poll: no state file read, no hash computed
                return str(cached)
        if not self.creds.complete:
            if cached and claims is not None and (claims.exp is None or claims.exp > now):
                return str(cached)  # due, but nothing to renew it with: the gateway will say when it is done
            raise ConfigError(
                "firmware 7 and later need a token: set ENVOY_USER and ENVOY_PASSWORD "
                "(Enlighten account) or ENVOY_TOKEN"
            )
        last = read_attempt(self.state_dir, self.creds, serial)
        decision = policy.decide(claims, now, last, obtained)
        log.debug("token: %s (%s)", decision.do.value, decision.why)
        if decision.do is Do.USE:
            assert cached is not None
            if decision.retry_after is not None and claims is not None and claims.exp is not None:
                log.info(
                    "the gateway token is due for renewal (valid until %s); Enlighten is asked again after %s",
                    when(claims.exp),
                    when(decision.retry_after),
                )
            return str(cached)
        if decision.do is Do.BLOCKED:
            raise self._not_asked(decision, last, pasted_refused=bool(known_bad))
        if decision.do is Do.RENEW_OR_USE:
            assert cached is not None and claims is not None
            try:
                return self._renew(serial)
            except HomepowerError as exc:
                until = f"valid until {when(claims.exp)}" if claims.exp is not None else "still valid"
                log.warning("could not renew the gateway token (%s); the cached one is %s", exc, until)
                return str(cached)
        return self._renew(serial)

    def renew_after_rejection(self, serial: str) -> str:
        """The gateway answered 401: renew once per run (the caller retries once), even a token obtained
        moments ago - the gateway may have restarted or revoked it; a second rejection is final."""
        if self.rejected:
            raise AuthError(
                "the gateway rejected a token fresh from Enlighten: check that ENVOY_SERIAL "
                "matches the gateway and that the account owns it"
            )
        if not self.creds.complete:
            which = "ENVOY_TOKEN" if self.gave_pasted else "the cached token"
            raise AuthError(
                f"the gateway rejected {which}: paste a fresh ENVOY_TOKEN, or set ENVOY_USER "
                f"and ENVOY_PASSWORD so one can be obtained from Enlighten"
            )
        last = read_attempt(self.state_dir, self.creds, serial)
        decision = policy.may_renew_after_refusal(self._now(), last, self.obtained)
        if decision.do is Do.BLOCKED:
            raise self._not_asked(decision, last, pasted_refused=self.gave_pasted)
        self.rejected = True
        rejected = token_id(self.pasted) if self.gave_pasted and self.pasted else rejected_pasted(self.state_dir)
        self.gave_pasted = False
        drop_cache(self.state_dir)
        return self._renew(serial, rejected)

    def fresh_token_refused(self, serial: str, path: str) -> AuthError:
        """The gateway refused the token just obtained too: remembered, so that later runs within the hour
        do not log in again only to be refused; returns the error for the caller to raise."""
        try:
            write_attempt(self.state_dir, self.creds, serial, self._now(), policy.REFUSED_BY_GATEWAY)
        except HomepowerError as exc:
            log.warning("%s", exc)
        return AuthError(
            f"the gateway rejected a token fresh from Enlighten at {path}: check that ENVOY_SERIAL matches "
            f"the gateway and the account owns it (no new token is asked for within the hour)"
        )

    def _not_asked(
        self, decision: policy.Decision, last: LastAttempt | None, pasted_refused: bool = False
    ) -> NotAskedAgain:
        until = decision.retry_after or self._now()
        outcome = last.outcome if last else ""
        if pasted_refused and outcome == policy.TWO_FACTOR:
            # The user did what the two-factor message asks: say that the token given is what failed.
            jwt = bool(self.pasted) and Claims.from_token(self.pasted or "").exp is not None
            bad = "was rejected by the gateway" if jwt else "is not a valid token (not a JWT; the gateway rejected it)"
            text = (
                f"the ENVOY_TOKEN given {bad}, and ENVOY_USER={self.creds.user} logs in with two "
                f"factors so no token can be obtained automatically: paste a fresh token from "
                f"{ENTREZ_TOKENS_PAGE} into ENVOY_TOKEN, whole"
            )
        elif outcome == policy.TWO_FACTOR:
            text = (
                f"Enlighten answered the login of ENVOY_USER={self.creds.user} without a session (two-factor "
                f"login): automatic tokens cannot work; get a token at {ENTREZ_TOKENS_PAGE} and set ENVOY_TOKEN"
            )
        elif outcome == policy.REFUSED_BY_GATEWAY:
            text = (
                "the gateway rejected the token and, within the hour, one fresh from Enlighten too: check "
                "that ENVOY_SERIAL matches the gateway and the account owns it"
            )
        else:
            text = (
                f"Enlighten rejected ENVOY_USER={self.creds.user} with this ENVOY_PASSWORD at "
                f"{when(last.at) if last else 'the last attempt'}: fix ENVOY_USER/ENVOY_PASSWORD or set ENVOY_TOKEN"
            )
        return NotAskedAgain(
            f"{text} (Enlighten is not asked again before {when(until)}, so that cron cannot lock the account)",
            until,
            outcome,
        )

    def _renew(self, serial: str, rejected: str | None = None) -> str:
        if not self.creds.complete:
            raise ConfigError(
                "firmware 7 and later need a token: set ENVOY_USER and ENVOY_PASSWORD "
                "(Enlighten account) or ENVOY_TOKEN"
            )
        ensure_cache_writable(self.state_dir)
        at = self._now()
        # Recorded before the login: a run that cannot remember having asked must not ask, or a full or
        # read-only STATE_DIR would cost a login per poll and void the hourly guard on rejected credentials.
        try:
            write_attempt(self.state_dir, self.creds, serial, at, policy.FAILED)
        except ConfigError as exc:
            raise ConfigError(
                f"STATE_DIR {self.state_dir} cannot hold the Enlighten attempt record ({_cause(exc)}): "
                f"Enlighten was not asked for a token; make STATE_DIR writable (or set ENVOY_TOKEN)"
            ) from exc
        log.info("obtaining a gateway token from Enlighten for gateway %s", serial)
        try:
            token = self._fetch(self.creds, serial)
        except CredentialsRejected as exc:
            outcome = policy.TWO_FACTOR if exc.kind == "two-factor" else policy.REJECTED
            self._record(serial, at, outcome)
            raise
        except HomepowerError:
            self._record(serial, at, policy.FAILED)
            raise
        try:
            write_cache(self.state_dir, serial, token, rejected or rejected_pasted(self.state_dir), obtained=at)
        except ConfigError as exc:  # it could be written a moment ago: the token still serves this run
            log.warning("%s; the token is used for this run only", exc)
        self._record(serial, at, policy.OK)
        self.obtained = True
        claims = Claims.from_token(token)
        if claims.exp is not None:
            kind = f" ({claims.user_type} token)" if claims.user_type else ""
            log.info("new gateway token%s valid until %s", kind, when(claims.exp))
        return token

    def _record(self, serial: str, at: float, outcome: str) -> None:
        try:
            write_attempt(self.state_dir, self.creds, serial, at, outcome)
        except HomepowerError as exc:  # the token (if any) is still good; the run goes on
            log.warning("%s", exc)
