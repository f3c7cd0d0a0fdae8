"""One flat exception hierarchy; each error carries the exit code the contract gives it.

Scripts catch ``HomepowerError`` once, print ``str(err)`` on one line and exit with ``err.exit_code``.
Messages say what happened and what to do next; they never hold a password or token.
"""

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78


class HomepowerError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class UsageError(HomepowerError):
    """Bad command-line usage (a malformed or impossible argument)."""

    exit_code = EX_USAGE


class DataError(HomepowerError):
    """A response or file could not be understood; nothing was stored from it."""

    exit_code = EX_DATAERR


class UnreachableError(HomepowerError):
    """The gateway or Enlighten could not be reached, or answered with a server error."""

    exit_code = EX_UNAVAILABLE


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


class AuthError(HomepowerError):
    """Credentials or token rejected."""

    exit_code = EX_NOPERM


class PinMismatch(HomepowerError):
    """The gateway's certificate does not match the pinned fingerprint."""

    exit_code = EX_NOPERM


class ConfigError(HomepowerError):
    """A setting is missing or malformed."""

    exit_code = EX_CONFIG
