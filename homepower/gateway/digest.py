"""HTTP digest authentication (RFC 7616 / RFC 2617) for IQ Gateway firmware below 7, which asks for it on
some paths (user ``envoy``, password = the serial's last 6 digits).

Written here rather than borrowed from requests: urllib3 has no digest, and importing requests for it
would put its imports back on every old gateway's poll. Pure functions; the client keeps the
challenge and the nonce count.
"""

from __future__ import annotations

import hashlib
import re

# RFC 7616 section 3.4.2 names; the ``-sess`` variants hash the client nonce into HA1.
_HASHES = {"MD5": hashlib.md5, "SHA": hashlib.sha1, "SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of the ``Digest`` challenge in a WWW-Authenticate value, or None when there is none."""
    match = re.search(r"\bdigest\s+", header or "", re.IGNORECASE)
    if not match:
        return None
    params = {}
    for name, quoted, bare in _PARAM.findall(header[match.end() :]):
        params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
    return params if "nonce" in params else None


def authorization(
    challenge: dict[str, str], user: str, password: str, method: str, uri: str, nc: int, cnonce: str
) -> str | None:
    """The ``Authorization`` value answering ``challenge``, or None for an algorithm or qop not supported
    (then the request goes without, and the gateway's 401 says so)."""
    algorithm = challenge.get("algorithm", "MD5")
    session = algorithm.upper().endswith("-SESS")
    hash_fn = _HASHES.get(algorithm.upper().removesuffix("-SESS"))
    if hash_fn is None:
        return None

    def h(text: str) -> str:
        return hash_fn(text.encode("utf-8")).hexdigest()

    realm, nonce = challenge.get("realm", ""), challenge["nonce"]
    ha1 = h(f"{user}:{realm}:{password}")
    if session:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if not qops:  # RFC 2069 style: no qop, no nonce count
        response = h(f"{ha1}:{nonce}:{ha2}")
    elif "auth" in qops:
        response = h(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
    else:  # only auth-int: would need the body's hash
        return None
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', f'response="{response}"']
    if "opaque" in challenge:
        fields.append(f'opaque="{challenge["opaque"]}"')
    if "algorithm" in challenge:
        fields.append(f'algorithm="{algorithm}"')
    if qops:
        fields.append(f'qop="auth", nc={nc:08x}, cnonce="{cnonce}"')
    return "Digest " + ", ".join(fields)
