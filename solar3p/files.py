"""Writing forecast files: Meteoserver layout text, written whole or not at all (``homepower.files``)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from homepower.files import write_atomic

DUTCH = ZoneInfo("Europe/Amsterdam")  # Meteoserver's "cet" column is Dutch local time


def dumps(document: dict) -> str:
    """JSON with one forecast row a line (small, and readable in a diff)."""
    head = {k: v for k, v in document.items() if k != "forecast"}
    lines = ",\n".join(json.dumps(row, separators=(",", ":")) for row in document["forecast"])
    prefix = json.dumps(head, separators=(",", ":"))[:-1]
    return f'{prefix},"forecast":[\n{lines}\n]}}\n'


def write_forecast(path: Path, document: dict) -> None:
    """Write a forecast document whole or not at all. 0644: a forecast is no secret, other users may read it."""
    write_atomic(path, dumps(document), mode=0o644)
