"""The project's errors, each carrying the exit code the contract gives it.

They live here, at the bottom of the dependency rule, so that solar3p stands alone and still exits with the
contract's codes; ``homepower.errors`` takes this hierarchy as its own (``HomepowerError`` is
``Solar3pError``) and adds the errors only homepower raises (store, lock, certificate pin). A script's edge
catches the base once, prints ``str(err)`` on one line and exits with ``err.exit_code``. Messages say what
happened and what to do next; they never hold a password, token or API key.
"""

from __future__ import annotations

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75
EX_NOPERM = 77
EX_CONFIG = 78

SHOWN_CHARS = 60  # of a bad value in a message: enough to recognise it, never a log-filling line


class Solar3pError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class UsageError(Solar3pError):
    """Bad command-line usage (a malformed or impossible argument)."""

    exit_code = EX_USAGE


class DataError(Solar3pError):
    """A response or file could not be understood; nothing was stored from it."""

    exit_code = EX_DATAERR


class UnreachableError(Solar3pError):
    """A server could not be reached, or answered with a server error."""

    exit_code = EX_UNAVAILABLE


class AuthError(Solar3pError):
    """Credentials, token or API key rejected."""

    exit_code = EX_NOPERM


class ConfigError(Solar3pError):
    """A setting is missing or malformed."""

    exit_code = EX_CONFIG


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters, saying how long the whole was."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else f"{len(text)} characters as text"
    return f"{text[:limit]}... ({size})"


class MeteoFileError(DataError):
    """A forecast file is missing, truncated or lacks a field (exit 65). The message names the file
    and, where there is one, the field. ``MeteoFileError("message")`` alone is accepted too."""

    def __init__(self, path: object, problem: str | None = None, field: str | None = None) -> None:
        self.path = str(path) if problem is not None else None
        self.field = field
        self.problem = problem
        if problem is None:
            super().__init__(str(path))
            return
        where = f" (field {field!r})" if field else ""
        super().__init__(f"forecast file {self.path}{where}: {problem}")


class CalibrationFileError(DataError):
    """A calibration file is not one solar3p wrote (exit 65); the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"calibration file {self.path}: {problem}")
