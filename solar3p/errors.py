"""solar3p's errors: each one a ``homepower.errors`` error, so scripts map them to exit codes."""

from __future__ import annotations

from homepower.errors import AuthError, ConfigError, DataError, UnreachableError, UsageError

# solar3p's modules take their error kinds from here (one place to change when solar3p stands alone).
__all__ = [
    "AuthError",
    "CalibrationFileError",
    "ConfigError",
    "DataError",
    "MeteoFileError",
    "UnreachableError",
    "UsageError",
    "shown",
]

SHOWN_CHARS = 60  # of a bad value in a message: enough to recognise it, never a log-filling line


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
    """A calibration file is missing or not one solar3p wrote (exit 65); the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"calibration file {self.path}: {problem}")
