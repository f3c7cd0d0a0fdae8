"""One flat exception hierarchy; each error carries the exit code the contract gives it.

The hierarchy is solar3p's (``solar3p.errors``, below homepower in the dependency rule), so an error solar3p
raises maps to its code at homepower's edge too; homepower adds the errors only it raises (store, lock, pin).
Scripts catch ``HomepowerError`` once, print ``str(err)`` on one line and exit with ``err.exit_code``.
Messages say what happened and what to do next; they never hold a password or token.
"""

from solar3p.errors import (
    EX_CONFIG,
    EX_DATAERR,
    EX_NOPERM,
    EX_OK,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EX_USAGE,
    AuthError,
    ConfigError,
    DataError,
    UnreachableError,
    UsageError,
)
from solar3p.errors import Solar3pError as HomepowerError

__all__ = [
    "EX_CONFIG",
    "EX_DATAERR",
    "EX_NOPERM",
    "EX_OK",
    "EX_TEMPFAIL",
    "EX_UNAVAILABLE",
    "EX_USAGE",
    "AuthError",
    "ConfigError",
    "DataError",
    "HomepowerError",
    "LockTimeout",
    "PinMismatch",
    "StoreRejected",
    "StoreUnavailable",
    "UnreachableError",
    "UsageError",
]


class StoreUnavailable(HomepowerError):
    """The database could not be reached or refused the work."""

    exit_code = EX_TEMPFAIL


class StoreRejected(StoreUnavailable):
    """The database server answers but rejects the credentials or lacks the named database: a setting to
    fix, not an outage (exit 78). A StoreUnavailable all the same, so the poller spools the reading."""

    exit_code = EX_CONFIG


class LockTimeout(HomepowerError):
    """Another run held the lock for too long."""

    exit_code = EX_TEMPFAIL


class PinMismatch(HomepowerError):
    """The gateway's certificate does not match the pinned fingerprint."""

    exit_code = EX_NOPERM
