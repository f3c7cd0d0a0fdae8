"""solar3p's errors: each one a ``homepower.errors`` error, so scripts map them to exit codes."""
from __future__ import annotations

from homepower.errors import DataError


class MeteoFileError(DataError):
    """A forecast file is missing, truncated or lacks a field (exit 65). The message names the file
    and, where there is one, the field."""

    def __init__(self, path: object, problem: str, field: str | None = None) -> None:
        self.path = str(path)
        self.field = field
        where = f" (field {field!r})" if field else ""
        super().__init__(f"forecast file {self.path}{where}: {problem}")
