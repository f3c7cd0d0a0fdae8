"""Writing forecast files: Meteoserver layout text, and an atomic write that never leaves a half file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

DUTCH = ZoneInfo("Europe/Amsterdam")  # Meteoserver's "cet" column is Dutch local time


def dumps(document: dict) -> str:
    """JSON with one forecast row a line (small, and readable in a diff)."""
    head = {k: v for k, v in document.items() if k != "forecast"}
    lines = ",\n".join(json.dumps(row, separators=(",", ":")) for row in document["forecast"])
    prefix = json.dumps(head, separators=(",", ":"))[:-1]
    return f'{prefix},"forecast":[\n{lines}\n]}}\n'


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path`` and rename it over: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # a forecast is no secret; mkstemp's 0600 would hide it from other users
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
