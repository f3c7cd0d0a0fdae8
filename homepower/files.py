"""Writing a small file whole or not at all: solar3p's ``write_atomic`` (below homepower, used by both)."""

from solar3p.files import write_atomic

__all__ = ["write_atomic"]
