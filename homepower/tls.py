"""How the poller trusts the gateway's certificate (ENVOY_TLS).

``pin``: trust on first use. The first run reads the certificate's SHA-256 fingerprint with a bare TLS
handshake by urllib3 (no request is sent); every request then goes through netio (requests, urllib3
underneath) with urllib3's ``assert_fingerprint``, which
checks the certificate right after the handshake and before a single byte of the request is written. The
fingerprint is stored in ``STATE_DIR/gateway-cert.sha256`` only once ``/info`` answered as an IQ Gateway
(the client's ``confirm_gateway``): a wrong ENVOY_HOST that speaks HTTPS (a router) is never pinned. A
different certificate later ends the run with exit 77.
``insecure``: no check at all. Anything else is a CA bundle path, verified the normal way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from homepower.errors import ConfigError, PinMismatch
from netio.errors import ConnectFailed, TLSFailed

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

PIN_FILE = "gateway-cert.sha256"


def fingerprint(der: bytes) -> str:
    """``AB:CD:...`` SHA-256 of a DER certificate (the form ``openssl x509 -fingerprint -sha256`` shows)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalise(fp: str) -> str:
    hexdigits = "".join(c for c in fp if c.isalnum()).upper()
    return ":".join(hexdigits[i : i + 2] for i in range(0, len(hexdigits), 2))


def probe_fingerprint(base_url: str, timeout: float) -> str:
    """The fingerprint of the certificate the gateway presents: urllib3 connects and shakes hands, and
    nothing is sent. netio's TLSFailed or ConnectFailed when that fails."""
    import urllib3
    from urllib3.connection import HTTPSConnection

    from netio.client import reason_for

    parts = urlsplit(base_url)
    host, port = parts.hostname or "", parts.port or 443
    conn = HTTPSConnection(
        host, port, timeout=timeout, cert_reqs="CERT_NONE", assert_hostname=False, ssl_context=_lenient_context()
    )
    try:
        conn.connect()
        sock = conn.sock
        der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    except (ssl.SSLError, urllib3.exceptions.SSLError) as exc:
        raise TLSFailed("TLS handshake failed", service="gateway", url=base_url, reason=reason_for(exc)) from exc
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        raise ConnectFailed("cannot be reached", service="gateway", url=base_url, reason=reason_for(exc)) from exc
    finally:
        conn.close()
    if not der:
        raise TLSFailed("presented no certificate", service="gateway", url=base_url)
    return fingerprint(der)


def ssl_reasons(exc: BaseException) -> set[str]:
    """OpenSSL's reason codes anywhere in what the libraries wrapped (see netio.client)."""
    from netio.client import ssl_reasons as reasons

    return reasons(exc)


def pin_path(state_dir: Path) -> Path:
    return Path(state_dir) / PIN_FILE


def read_pin(state_dir: Path) -> str | None:
    path = pin_path(state_dir)
    try:
        text = path.read_text().split()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:  # not the network: retrying for ENVOY_RETRY_S would not help
        why = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ConfigError(
            f"cannot read the certificate pin {path} ({why}): make it a readable file, or "
            f"delete it to pin the gateway's certificate again"
        ) from None
    return normalise(text[0]) if text else None


def write_pin(state_dir: Path, fp: str) -> None:
    path = pin_path(state_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(fp + "\n")
        os.replace(tmp, path)
    except OSError as exc:  # not a network failure: retrying would not help
        raise ConfigError(
            f"cannot write the certificate pin {path} ({exc.strerror or exc.__class__.__name__}): "
            f"make STATE_DIR writable"
        ) from None


def mismatch_error(base_url: str, state_dir: Path, expected: str, got: str | None) -> PinMismatch:
    path = pin_path(state_dir)
    seen = f" it now presents {got}" if got else ""
    return PinMismatch(
        f"gateway {base_url} certificate does not match the pin {expected} in {path}:{seen}; "
        f"if you replaced or reset the gateway, accept the new certificate by deleting {path} "
        f"(the next run pins it), else investigate"
    )


def _lenient_context() -> ssl.SSLContext:
    """No CA check (the pin or ``insecure`` decides), and the old ciphers of IQ Gateway certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # IQ Gateways present old self-signed certificates: allow what OpenSSL allows at level 0 too.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def session_for(tls: str, base_url: str, state_dir: Path, timeout: float) -> tuple[requests.Session, str | None]:
    """The gateway's session (never a proxy, nothing from the environment: a LAN device), and the
    fingerprint seen on first use (to be pinned once the host proved a gateway), else None."""
    from netio.client import PinnedAdapter, new_session, quiet_insecure_warnings

    if urlsplit(base_url).scheme != "https":
        return new_session(trust_env=False, adapter=PinnedAdapter()), None
    if tls == "insecure":
        # The user chose no check: say it once in the log, not a urllib3 warning per request.
        quiet_insecure_warnings()
        log.debug("ENVOY_TLS=insecure: the gateway's certificate is not checked")
        return new_session(trust_env=False, verify=False, adapter=PinnedAdapter(ssl_context=_lenient_context())), None
    if tls != "pin":  # a CA bundle file: normal verification against it, host name included
        return new_session(trust_env=False, verify=tls, adapter=PinnedAdapter()), None
    fp = read_pin(state_dir)
    fresh = None
    if fp is None:
        fp = fresh = probe_fingerprint(base_url, timeout)  # netio's error: the caller retries like any request
    # urllib3 compares the fingerprint right after the handshake, before the request is written.
    quiet_insecure_warnings()  # no CA check: the pin is the check
    adapter = PinnedAdapter(fingerprint=fp, ssl_context=_lenient_context())
    return new_session(trust_env=False, verify=False, adapter=adapter), fresh
