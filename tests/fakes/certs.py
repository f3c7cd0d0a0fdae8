"""Self-signed certificates for the fake gateway, made at test time with the openssl CLI."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
from pathlib import Path


def make_cert(directory: Path, name: str = "gateway", cn: str = "envoy.local") -> tuple[Path, Path]:
    """A fresh self-signed certificate (EC P-256, SAN 127.0.0.1/localhost/envoy.local); (cert, key)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            f"/CN={cn}",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:envoy.local",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def cert_fingerprint(cert: Path) -> str:
    """``AB:CD:...`` SHA-256 of the certificate (as the poller pins it)."""
    der = ssl.PEM_cert_to_DER_cert(Path(cert).read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
