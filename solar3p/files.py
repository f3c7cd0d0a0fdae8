"""Writing forecast files: Meteoserver layout text, written whole or not at all (``homepower.files``)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from homepower.files import write_atomic

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
