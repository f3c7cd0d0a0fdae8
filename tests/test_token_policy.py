"""The token policy as a pure function of (the token's claims, now, the last attempt): when to renew,
when Enlighten may be asked again. No server, no files."""

from __future__ import annotations

import base64
import json

import pytest

from homepower import token_policy as policy
from homepower.token_policy import Claims, Do, LastAttempt, decide, may_renew_after_refusal, renew_at

DAY = 86400.0
HOUR = 3600.0
NOW = 1_800_000_000.0
OWNER = Claims(exp=NOW + 365 * DAY, iat=NOW, user_type="owner")
INSTALLER = Claims(exp=NOW + 12 * HOUR, iat=NOW, user_type="installer")


def jwt(payload) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJFUzI1NiJ9.{body}.c2ln"


def test_an_owner_token_is_renewed_30_days_before_it_expires():
    assert renew_at(OWNER) == OWNER.exp - 30 * DAY  # a tenth of a year (36.5 days) is capped at 30
    assert decide(OWNER, OWNER.exp - 31 * DAY, None).do is Do.USE
    assert decide(OWNER, OWNER.exp - 29 * DAY, None).do is Do.RENEW_OR_USE


def test_an_installer_token_is_renewed_72_minutes_before_it_expires_not_on_every_poll():
    assert renew_at(INSTALLER) == INSTALLER.exp - 72 * 60
    for minutes_in in range(0, 12 * 60 - 73, 5):  # a 5-minute cron through the token's first 10.8 hours
        assert decide(INSTALLER, NOW + minutes_in * 60, None).do is Do.USE
    assert decide(INSTALLER, INSTALLER.exp - 71 * 60, None).do is Do.RENEW_OR_USE


def test_no_token_or_an_expired_one_must_be_obtained():
    assert decide(None, NOW, None).do is Do.OBTAIN
    assert decide(INSTALLER, INSTALLER.exp + 1, None).do is Do.OBTAIN
    assert decide(INSTALLER, INSTALLER.exp, None).do is Do.OBTAIN  # exp is the first invalid second


def test_a_failed_renewal_with_a_valid_token_is_retried_at_most_hourly():
    due = OWNER.exp - 10 * DAY
    failed = LastAttempt(due - 10 * 60, policy.FAILED)
    decision = decide(OWNER, due, failed)
    assert decision.do is Do.USE and decision.retry_after == failed.at + HOUR
    assert decide(OWNER, failed.at + HOUR + 1, failed).do is Do.RENEW_OR_USE


def test_a_failed_attempt_does_not_hold_back_a_needed_token():
    failed = LastAttempt(NOW - 60, policy.FAILED)  # Enlighten was down a minute ago: not a lockout risk
    assert decide(None, NOW, failed).do is Do.OBTAIN
    assert decide(INSTALLER, INSTALLER.exp + 5, failed).do is Do.OBTAIN


@pytest.mark.parametrize("outcome", [policy.REJECTED, policy.TWO_FACTOR])
def test_rejected_credentials_are_not_tried_again_within_the_hour(outcome):
    rejected = LastAttempt(NOW - 10 * 60, outcome)
    decision = decide(None, NOW, rejected)
    assert decision.do is Do.BLOCKED and decision.retry_after == rejected.at + HOUR
    assert decide(None, rejected.at + HOUR, rejected).do is Do.OBTAIN
    # a valid token is used meanwhile, even one due for renewal
    assert decide(OWNER, NOW, rejected).do is Do.USE
    assert decide(OWNER, OWNER.exp - DAY, LastAttempt(OWNER.exp - DAY - 60, outcome)).do is Do.USE


def test_changed_credentials_clear_the_rejection():
    other = LastAttempt(NOW - 60, policy.REJECTED, same_credentials=False)
    assert decide(None, NOW, other).do is Do.OBTAIN
    due = OWNER.exp - DAY
    assert decide(OWNER, due, LastAttempt(due - 60, policy.FAILED, same_credentials=False)).do is Do.RENEW_OR_USE


def test_a_renewal_that_came_back_already_due_waits_an_hour():
    # a skewed clock: Enlighten's fresh token is already in its last tenth here; no login on every poll
    skewed = Claims(exp=NOW + 30 * 60, iat=NOW - 11.5 * HOUR)
    assert decide(skewed, NOW, LastAttempt(NOW - 5 * 60, policy.OK)).do is Do.USE
    assert decide(skewed, NOW, LastAttempt(NOW - HOUR - 1, policy.OK)).do is Do.RENEW_OR_USE


def test_the_life_of_a_token_without_iat_counts_from_when_it_was_obtained():
    no_iat = Claims(exp=NOW + 12 * HOUR)
    assert renew_at(no_iat, obtained=NOW) == no_iat.exp - 72 * 60
    assert renew_at(no_iat) == no_iat.exp  # nothing known: renewed once it has expired
    assert renew_at(Claims()) is None  # an opaque token: used until the gateway rejects it
    assert decide(Claims(), NOW, None).do is Do.USE


def test_an_iat_after_exp_does_not_make_renewal_early():
    odd = Claims(exp=NOW + DAY, iat=NOW + 2 * DAY)
    assert renew_at(odd) == odd.exp


def test_a_401_renews_once_unless_blocked():
    assert may_renew_after_refusal(NOW, None, this_run_obtained=False).do is Do.OBTAIN
    rejected = LastAttempt(NOW - 60, policy.REJECTED)
    assert may_renew_after_refusal(NOW, rejected, this_run_obtained=False).do is Do.BLOCKED
    refused = LastAttempt(NOW - 60, policy.REFUSED_BY_GATEWAY)
    # an earlier run saw the gateway refuse a token fresh from Enlighten: not another login this hour
    assert may_renew_after_refusal(NOW, refused, this_run_obtained=False).do is Do.BLOCKED
    assert may_renew_after_refusal(NOW + HOUR, refused, this_run_obtained=False).do is Do.OBTAIN
    assert may_renew_after_refusal(NOW, LastAttempt(NOW - 60, policy.OK), this_run_obtained=True).do is Do.OBTAIN


def test_claims_are_read_from_the_jwt_without_the_signature():
    claims = Claims.from_token(jwt({"exp": 1_900_000_000, "iat": 1_868_464_000, "enphaseUser": "installer"}))
    assert claims == Claims(1_900_000_000.0, 1_868_464_000.0, "installer")


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.!!!.c",
        jwt([1, 2]),
        jwt({"exp": "soon"}),
        jwt({"exp": True}),
        jwt({"exp": 1e300}),
        "a." + base64.urlsafe_b64encode(b"[" * 40000).decode() + ".c",  # deeply nested
        "a." + base64.urlsafe_b64encode(b'{"exp": NaN}').decode() + ".c",
    ],
)
def test_unreadable_claims_are_none_not_an_error(token):
    assert Claims.from_token(token).exp is None
