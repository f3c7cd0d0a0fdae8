"""Writing files whole or not at all (``write_atomic``: a temp file beside the target, fsync'd, renamed over
it; homepower's token cache, pin and state use it too), and forecast files in Meteoserver layout."""

from __future__ import annotations

import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half of it, and
    the file has ``mode`` from its first byte (mkstemp creates 0600: a secret is never readable by others).
    OSError on failure, with no temp file left behind."""
    import tempfile  # only when a file is written: keeps a poll that writes nothing light

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if mode != 0o600:
                os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


DUTCH = ZoneInfo("Europe/Amsterdam")  # Meteoserver's "cet" column is Dutch local time


def dump_lines(head: dict, lines: list[str]) -> str:
    """A document from its top-level fields and its forecast rows already as JSON text, one a line."""
    prefix = json.dumps(head, separators=(",", ":"))[:-1]
    comma = "," if head else ""
    return prefix + comma + '"forecast":[\n' + ",\n".join(lines) + "\n]}\n"


def dumps(document: dict) -> str:
    """JSON with one forecast row a line (small, and readable in a diff)."""
    head = {k: v for k, v in document.items() if k != "forecast"}
    return dump_lines(head, [json.dumps(row, separators=(",", ":")) for row in document["forecast"]])


def write_forecast(path: Path, document: dict) -> None:
    """Write a forecast document whole or not at all. 0644: a forecast is no secret, other users may read it."""
    write_atomic(path, dumps(document), mode=0o644)
