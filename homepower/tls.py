"""How the poller trusts the gateway's certificate (ENVOY_TLS).

``pin``: trust on first use. The first run reads the certificate's SHA-256 fingerprint with a bare TLS
handshake (no request is sent) and stores it in ``STATE_DIR/gateway-cert.sha256``; every request then goes
through urllib3 with ``assert_fingerprint``, which checks the certificate right after the handshake and
before a single byte of the request is written. A different certificate ends the run with exit 77.
``insecure``: no check at all. Anything else is a CA bundle path, verified the normal way.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

from homepower.errors import ConfigError, PinMismatch

log = logging.getLogger(__name__)

PIN_FILE = "gateway-cert.sha256"


def fingerprint(der: bytes) -> str:
    """``AB:CD:...`` SHA-256 of a DER certificate (the form ``openssl x509 -fingerprint -sha256`` shows)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalise(fp: str) -> str:
    hexdigits = "".join(c for c in fp if c.isalnum()).upper()
    return ":".join(hexdigits[i:i + 2] for i in range(0, len(hexdigits), 2))


def probe_fingerprint(base_url: str, timeout: float) -> str:
    """The fingerprint of the certificate the gateway presents: a handshake only, nothing is sent."""
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port or 443
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # IQ Gateways present old self-signed certificates: allow what OpenSSL allows at level 0 too.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return fingerprint(tls.getpeercert(binary_form=True))


class PinnedAdapter(HTTPAdapter):
    """Every connection of this adapter is checked against ``fp`` by urllib3 before anything is sent."""

    def __init__(self, fp: str, **kwargs):
        self._fp = normalise(fp)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["assert_fingerprint"] = self._fp
        kwargs["cert_reqs"] = "CERT_NONE"
        kwargs["assert_hostname"] = False
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        kwargs["ssl_context"] = context
        return super().init_poolmanager(*args, **kwargs)


class InsecureAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        kwargs["ssl_context"] = context
        kwargs["cert_reqs"] = "CERT_NONE"
        return super().init_poolmanager(*args, **kwargs)


def pin_path(state_dir: Path) -> Path:
    return Path(state_dir) / PIN_FILE


def read_pin(state_dir: Path) -> str | None:
    path = pin_path(state_dir)
    try:
        text = path.read_text().split()
    except FileNotFoundError:
        return None
    return normalise(text[0]) if text else None


def write_pin(state_dir: Path, fp: str) -> None:
    path = pin_path(state_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(fp + "\n")
        os.replace(tmp, path)
    except OSError as exc:  # not a network failure: retrying would not help
        raise ConfigError(f"cannot write the certificate pin {path} ({exc.strerror or exc.__class__.__name__}): "
                          f"make STATE_DIR writable") from None


def mismatch_error(base_url: str, state_dir: Path, expected: str, got: str | None) -> PinMismatch:
    path = pin_path(state_dir)
    seen = f" it now presents {got}" if got else ""
    return PinMismatch(f"gateway {base_url} certificate does not match the pin {expected} in {path}:{seen}; "
                       f"if you replaced or reset the gateway, accept the new certificate by deleting {path} "
                       f"(the next run pins it), else investigate")


def adapter_for(tls: str, base_url: str, state_dir: Path, timeout: float) -> tuple[HTTPAdapter, object]:
    """The adapter and the ``verify`` value for the gateway session, pinning on first use."""
    if urlsplit(base_url).scheme != "https":
        return HTTPAdapter(), True
    if tls == "insecure":
        # The user chose no check: say it once in the log, not four urllib3 warnings per run.
        import urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        log.debug("ENVOY_TLS=insecure: the gateway's certificate is not checked")
        return InsecureAdapter(), False
    if tls != "pin":
        return HTTPAdapter(), tls  # a CA bundle path: normal verification against it
    fp = read_pin(state_dir)
    if fp is None:
        fp = probe_fingerprint(base_url, timeout)  # OSError: the caller retries like any request
        write_pin(state_dir, fp)
        log.warning("pinned the gateway certificate %s in %s (trust on first use)", fp, pin_path(state_dir))
    return PinnedAdapter(fp), False
