"""The gateway token's whole life: a pasted ENVOY_TOKEN, or one obtained from Enlighten and cached.

Obtaining: ``POST {ENLIGHTEN_URL}/login/login.json`` (form ``user[email]``, ``user[password]``) gives a
``session_id``; ``POST {ENTREZ_URL}/tokens`` (JSON ``session_id``, ``serial_num``, ``username``) gives the
token, as text or as JSON ``{"token": ...}``. The token is cached in ``STATE_DIR/envoy-token.json``
(mode 0600) and reused until its JWT ``exp`` is within a day, then renewed; if Enlighten cannot renew it
while the cached one is still valid, polling goes on with the cached one. Enlighten's certificate is
always verified normally. Neither the password nor the token is ever logged or put in a message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from homepower.errors import AuthError, ConfigError, DataError, HomepowerError, UnreachableError
from homepower.files import write_atomic

log = logging.getLogger(__name__)

CACHE_FILE = "envoy-token.json"
RENEW_BEFORE_S = 24 * 3600  # renew when the token expires within a day
ENLIGHTEN_TIMEOUT_S = 30.0


def jwt_exp(token: str) -> float | None:
    """The ``exp`` claim (unix seconds) of a JWT, read without checking the signature; None if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
    except (ValueError, UnicodeError):
        return None


def when(exp: float) -> str:
    return datetime.fromtimestamp(exp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Credentials:
    user: str | None
    password: str | None
    enlighten_url: str
    entrez_url: str

    @property
    def complete(self) -> bool:
        return bool(self.user and self.password)


def request_token(creds: Credentials, serial: str) -> str:
    """A fresh token from Enlighten + Entrez. Raises AuthError (77) naming Enlighten on bad credentials,
    UnreachableError (69) when either service is down."""
    response = _post(
        "Enlighten",
        creds.enlighten_url,
        "/login/login.json",
        " to the login",
        data={"user[email]": creds.user, "user[password]": creds.password},
    )
    session_id = None
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:  # a maintenance or proxy page: not a verdict on the credentials
            raise DataError(
                f"Enlighten {creds.enlighten_url} answered the login with a page that is not "
                f"JSON; try again later or set ENVOY_TOKEN"
            ) from None
        session_id = body.get("session_id") if isinstance(body, dict) else None
    if not session_id:
        raise AuthError(
            f"Enlighten rejected the login of ENVOY_USER={creds.user} (HTTP "
            f"{response.status_code}): check ENVOY_USER and ENVOY_PASSWORD"
        )
    response = _post(
        "Entrez",
        creds.entrez_url,
        "/tokens",
        "",
        json={"session_id": session_id, "serial_num": serial, "username": creds.user},
    )
    if response.status_code != 200:
        raise AuthError(
            f"Enlighten (Entrez) refused a token for gateway {serial} to ENVOY_USER={creds.user} "
            f"(HTTP {response.status_code}): is the gateway registered to this account "
            f"and ENVOY_SERIAL right?"
        )
    return _token_from_body(response.text)


def _post(service: str, base_url: str, path: str, what: str, **body):
    """POST to Enlighten or Entrez, verified normally; UnreachableError (69) when the service cannot be
    reached, is not trusted or answers a server error - not a verdict on the credentials."""
    import requests  # loaded only when a token must be fetched

    try:
        response = requests.post(
            f"{base_url}{path}", **body, timeout=ENLIGHTEN_TIMEOUT_S, allow_redirects=False, verify=_ca_bundle()
        )
    except requests.exceptions.SSLError:
        raise UnreachableError(_untrusted(service, base_url)) from None
    except requests.exceptions.RequestException as exc:
        raise UnreachableError(
            f"{service} {base_url} cannot be reached ({exc.__class__.__name__}) to obtain "
            f"a gateway token; try again later or set ENVOY_TOKEN"
        ) from None
    if response.status_code >= 500:
        raise UnreachableError(
            f"{service} {base_url} answered HTTP {response.status_code}{what}; try again later or set ENVOY_TOKEN"
        )
    return response


def _ca_bundle() -> str | bool:
    """Enlighten is verified normally: requests' bundle, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests
    reads those itself), or else SSL_CERT_FILE, which OpenSSL-based tools honour and requests does not."""
    if os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"):
        return True
    return os.environ.get("SSL_CERT_FILE") or True


def _untrusted(service: str, url: str) -> str:
    return (
        f"{service} {url} presented a certificate that is not trusted (TLS verification failed); "
        f"check the URL, or the CA bundle (REQUESTS_CA_BUNDLE or SSL_CERT_FILE)"
    )


def _token_from_body(text: str) -> str:
    body = (text or "").strip()
    if body.startswith("{"):
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        token = decoded.get("token") if isinstance(decoded, dict) else None
        if not isinstance(token, str):
            raise DataError("Entrez answered JSON without a token field")
        body = token.strip()
    elif body.startswith('"'):  # the token as a JSON string: its quotes are not part of it
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if not isinstance(decoded, str):
            raise DataError("Entrez answered a quoted text that is not a token")
        body = decoded.strip()
    token = "".join(body.split())
    # A JWT (or any bearer token) is base64url text; anything else is an error page or message.
    if not token or len(token) > 16384 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", token):
        raise DataError("Entrez did not answer a token")
    if jwt_exp(token) is None:
        log.warning("the token from Entrez has no readable expiry; it is reused until the gateway rejects it")
    return token


# -- the cache ------------------------------------------------------------------------------------


def cache_path(state_dir: Path) -> Path:
    return Path(state_dir) / CACHE_FILE


def _cache_data(state_dir: Path) -> dict:
    try:
        data = json.loads(cache_path(state_dir).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_cache(state_dir: Path, serial: str) -> str | None:
    data = _cache_data(state_dir)
    if data.get("serial") != serial or not isinstance(data.get("token"), str):
        return None
    return data["token"]


def token_id(token: str) -> str:
    """A one-way name for a token (to remember a rejected ENVOY_TOKEN without storing it twice)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def rejected_pasted(state_dir: Path) -> str | None:
    """``token_id`` of the ENVOY_TOKEN the gateway rejected (a cached token from Enlighten replaced it)."""
    value = _cache_data(state_dir).get("rejected_pasted")
    return value if isinstance(value, str) else None


def write_cache(state_dir: Path, serial: str, token: str, rejected: str | None = None) -> None:
    """Atomically, readable by the owner only (0600) from the first byte. ``rejected``: see rejected_pasted."""
    record = {"serial": serial, "token": token}
    if rejected:
        record["rejected_pasted"] = rejected
    path = cache_path(state_dir)
    try:
        write_atomic(path, json.dumps(record))  # 0600: the token is a secret
    except OSError as exc:
        raise ConfigError(
            f"cannot write the token cache {path} ({exc.strerror or exc.__class__.__name__}): make STATE_DIR writable"
        ) from None


def drop_cache(state_dir: Path) -> None:
    try:
        cache_path(state_dir).unlink()
    except FileNotFoundError:
        pass


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

    def token(self, serial: str) -> str:
        now = self._now()
        # An ENVOY_TOKEN the gateway rejected before, with an Enlighten account to replace it: the cached
        # replacement is used, not one rejection and one cloud login on every run.
        known_bad = self.pasted and self.creds.complete and rejected_pasted(self.state_dir) == token_id(self.pasted)
        if self.pasted and not known_bad:
            exp = jwt_exp(self.pasted)
            if exp is None or exp > now:
                if exp is not None and exp - now < RENEW_BEFORE_S:
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
        cached = read_cache(self.state_dir, serial)
        if cached:
            exp = jwt_exp(cached)
            if exp is None or exp - now >= RENEW_BEFORE_S:
                return cached
            if exp > now:
                try:
                    return self._renew(serial)
                except HomepowerError as exc:
                    log.warning(
                        "could not renew the gateway token (%s); the cached one is valid until %s", exc, when(exp)
                    )
                    return cached
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
        self.rejected = True
        rejected = token_id(self.pasted) if self.gave_pasted else rejected_pasted(self.state_dir)
        self.gave_pasted = False
        drop_cache(self.state_dir)
        return self._renew(serial, rejected)

    def _renew(self, serial: str, rejected: str | None = None) -> str:
        if not self.creds.complete:
            raise ConfigError(
                "firmware 7 and later need a token: set ENVOY_USER and ENVOY_PASSWORD "
                "(Enlighten account) or ENVOY_TOKEN"
            )
        log.info("obtaining a gateway token from Enlighten for gateway %s", serial)
        token = self._fetch(self.creds, serial)
        write_cache(self.state_dir, serial, token, rejected or rejected_pasted(self.state_dir))
        exp = jwt_exp(token)
        if exp is not None:
            log.info("new gateway token valid until %s", when(exp))
        return token
