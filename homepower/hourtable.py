"""pvhistory rows as a plain text table (``history_collector.py --dry-run``, ``make demo``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

COLUMNS = (
    ("local hour", 16),
    ("ts_utc", 19),
    ("kwh_pv", 9),
    ("kwh_s3p", 9),
    ("kwh_fc", 9),
    ("kwh_fc_p10", 10),
    ("kwh_fc_p90", 10),
    ("kwh_return", 10),
    ("kwh_import", 10),
    ("kwh_consumed", 12),
    ("gr_w", 7),
    ("tc", 5),
    ("temp", 6),
    ("forecast_issued", 19),
    ("forecast_provider", 17),
    ("source", 9),
    ("flags", 0),
)


def _cell(name: str, value: Any, width: int) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, (int, float)):  # SQLite hands back a whole DECIMAL as int
        text = f"{value:.3f}" if name.startswith("kwh_") else f"{value:g}"
    else:
        text = str(value)
    return text.rjust(width)


def format_table(rows: Sequence[Any]) -> str:
    """Rows (``HourRow`` or dicts of pvhistory columns) as a table; NULL written out (an empty flags
    column stays empty)."""
    lines = ["  ".join(name.rjust(width) if width else name for name, width in COLUMNS)]
    for row in rows:
        r: Mapping = row if isinstance(row, Mapping) else vars(row)
        local = f"{r['year']:04d}-{r['month']:02d}-{r['day']:02d} {r['hour']:02d}:00"
        values = [local, r["ts_utc"]] + [r.get(name) for name, _ in COLUMNS[2:-1]]
        line = "  ".join(_cell(name, v, w) for v, (name, w) in zip(values, COLUMNS[:-1], strict=True))
        lines.append(f"{line}  {r.get('flags') or ''}".rstrip())
    return "\n".join(lines) + "\n"
