"""When the gateway token is renewed and when Enlighten may be asked: pure functions of the token's
claims, the clock and the last attempt. No I/O; ``homepower.enlighten`` does the asking and the storing.

The rule (the contract's "Token" paragraph): renew when the time left falls below a tenth of the token's
life (``exp`` - ``iat``), never earlier than 30 days before ``exp``: an owner token (a year) is renewed
30 days before it expires, an installer token (12 hours) 72 minutes before. A renewal that fails while
the token is still valid is retried at most hourly; credentials Enlighten rejected (a wrong password, a
two-factor account) are not tried again within the hour, so a 5-minute cron cannot lock the account.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from enum import Enum

RENEW_FRACTION = 0.1  # renew in the last tenth of the token's life...
RENEW_MAX_S = 30 * 86400.0  # ...but never earlier than 30 days before it expires
RETRY_S = 3600.0  # Enlighten is asked at most this often while a valid token is in hand or after a rejection

# The outcomes of an attempt to obtain a token, as the state file records them.
OK = "ok"
FAILED = "failed"  # unreachable, 5xx, an answer not understood: not a verdict on the credentials
REJECTED = "rejected"  # Enlighten or Entrez refused these credentials
TWO_FACTOR = "two-factor"  # the account logs in with a second factor; a rejection for our purpose
REFUSED_BY_GATEWAY = "refused-by-gateway"  # a token fresh from Enlighten that the gateway rejected
OUTCOMES = (OK, FAILED, REJECTED, TWO_FACTOR, REFUSED_BY_GATEWAY)


@dataclass(frozen=True)
class Claims:
    """What a JWT says about itself (read without checking the signature: the gateway checks it)."""

    exp: float | None = None
    iat: float | None = None
    user_type: str | None = None  # Entrez's "enphaseUser": "owner" or "installer"

    @classmethod
    def from_token(cls, token: str) -> Claims:
        """The claims of ``token``; all None when it is not a readable JWT (an opaque token)."""
        parts = token.split(".")
        if len(parts) != 3 or len(parts[1]) > 65536:
            return cls()
        try:
            payload = base64.urlsafe_b64decode((parts[1] + "=" * (-len(parts[1]) % 4)).encode("ascii"))
            claims = json.loads(payload)
        except (ValueError, UnicodeError, binascii.Error, RecursionError):
            return cls()
        if not isinstance(claims, dict):
            return cls()
        user = claims.get("enphaseUser")
        return cls(_when(claims.get("exp")), _when(claims.get("iat")), user if isinstance(user, str) else None)


def _when(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0 <= value < 1e11 else None


@dataclass(frozen=True)
class LastAttempt:
    """The last time Enlighten was asked for a token, and how it went. ``same_credentials``: whether it was
    made with the ENVOY_USER/ENVOY_PASSWORD (and serial) in force now."""

    at: float
    outcome: str
    same_credentials: bool = True


def renew_at(claims: Claims, obtained: float | None = None) -> float | None:
    """The moment renewal starts, or None for a token without a readable expiry (used until the gateway
    rejects it). Without ``iat`` the token's life counts from when it was ``obtained``; with neither,
    renewal starts at expiry."""
    if claims.exp is None:
        return None
    start = claims.iat if claims.iat is not None else obtained
    life = max(0.0, claims.exp - start) if start is not None else 0.0
    return claims.exp - min(RENEW_FRACTION * life, RENEW_MAX_S)


class Do(Enum):
    USE = "use"  # the token in hand; Enlighten is not asked
    RENEW_OR_USE = "renew-or-use"  # ask Enlighten; if that fails, the token in hand is still good
    OBTAIN = "obtain"  # no usable token: ask Enlighten; if that fails the run fails
    BLOCKED = "blocked"  # a token is needed but Enlighten rejected these credentials within the hour


@dataclass(frozen=True)
class Decision:
    do: Do
    why: str
    retry_after: float | None = None  # BLOCKED, or USE while a renewal waits: when Enlighten may be asked


def blocked_until(last: LastAttempt | None) -> float | None:
    """Until when Enlighten must not be asked again with these credentials (None: it may be asked)."""
    if last is None or not last.same_credentials or last.outcome not in (REJECTED, TWO_FACTOR):
        return None
    return last.at + RETRY_S


def decide(claims: Claims | None, now: float, last: LastAttempt | None, obtained: float | None = None) -> Decision:
    """What to do with the cached token (``claims`` of it, None when there is none) at ``now``."""
    valid = claims is not None and (claims.exp is None or claims.exp > now)
    blocked = blocked_until(last)
    if blocked is not None and now >= blocked:
        blocked = None
    if not valid:
        if blocked is not None:
            return Decision(Do.BLOCKED, "Enlighten rejected these credentials within the hour", blocked)
        why = "no cached token" if claims is None else "the cached token has expired"
        return Decision(Do.OBTAIN, why)
    assert claims is not None
    start = renew_at(claims, obtained)
    if start is None or now < start:
        return Decision(Do.USE, "the cached token is not yet due for renewal")
    if blocked is not None:
        return Decision(Do.USE, "due for renewal, but Enlighten rejected these credentials within the hour", blocked)
    # A recent attempt of any outcome with these credentials waits an hour: a renewal that failed (or a
    # token that came back already due, on a skewed clock) must not cost a login on every poll.
    if last is not None and last.same_credentials and now - last.at < RETRY_S:
        return Decision(Do.USE, "due for renewal; Enlighten was asked less than an hour ago", last.at + RETRY_S)
    return Decision(Do.RENEW_OR_USE, "the cached token is due for renewal")


def may_renew_after_refusal(now: float, last: LastAttempt | None, this_run_obtained: bool) -> Decision:
    """The gateway answered 401 to the token in hand: renew once (the contract), unless Enlighten rejected
    these credentials within the hour, or the gateway already refused a token fresh from Enlighten within
    the hour in an earlier run (then each run would cost a login and end 77 all the same)."""
    blocked = blocked_until(last)
    if blocked is not None and now < blocked:
        return Decision(Do.BLOCKED, "Enlighten rejected these credentials within the hour", blocked)
    if (
        not this_run_obtained
        and last is not None
        and last.same_credentials
        and last.outcome == REFUSED_BY_GATEWAY
        and now - last.at < RETRY_S
    ):
        return Decision(
            Do.BLOCKED, "the gateway refused a token fresh from Enlighten within the hour", last.at + RETRY_S
        )
    return Decision(Do.OBTAIN, "the gateway refused the token")
