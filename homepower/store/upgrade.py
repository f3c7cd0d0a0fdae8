"""Upgrade in place of the original author's tables, keeping every row.

The original ``enphase_production`` was keyed by local year..minute with no ``ts_utc``; the original
``pvhistory`` by local year..hour, in Wh (``wh_pv wh_s3p wh_return``). We build the new table beside the
old one, copy every row (computing ``ts_utc`` from the local columns and SITE_TIMEZONE, Wh -> kWh), then
swap names in one step; the old table stays as ``<table>_orig`` so nothing is ever lost. A crash before the
swap leaves the old table untouched and the next run starts again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homepower import schema
from homepower.hours import to_utc
from homepower.errors import ConfigError

if TYPE_CHECKING:
    from homepower.store.core import Database

log = logging.getLogger(__name__)

LEGACY_SOURCE = "legacy"  # samples stored before the source was recorded


def local_to_utc(year: int, month: int, day: int, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """Naive UTC of a local wall time; the repeated autumn hour resolves to its first occurrence."""
    return to_utc(datetime(int(year), int(month), int(day), int(hour), int(minute)), tz)


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def convert_row(table: str, row: dict, tz: ZoneInfo) -> dict:
    """One legacy row in the new layout."""
    minute = row.get("minute", 0) or 0
    out = {
        "ts_utc": local_to_utc(row["year"], row["month"], row["day"], row["hour"], minute, tz),
        "year": int(row["year"]),
        "month": int(row["month"]),
        "day": int(row["day"]),
        "hour": int(row["hour"]),
    }
    if table == "enphase_production":
        out["minute"] = int(minute)
        for col in ("wattHoursToday", "wattHoursSevenDays", "wattHoursLifetime", "wattsNow"):
            out[col] = _num(row.get(col))
        out["source"] = LEGACY_SOURCE
    else:
        out["gr_w"] = _num(row.get("gr_w"))
        out["tc"] = _num(row.get("tc"))
        for name in ("pv", "s3p", "return"):
            if f"wh_{name}" in row:
                value = _num(row[f"wh_{name}"])
                out[f"kwh_{name}"] = None if value is None else value / 1000.0
            else:
                out[f"kwh_{name}"] = _num(row.get(f"kwh_{name}"))
    if row.get("created") is not None:
        out["created"] = row["created"]
    return out


def upgrade_table(store: Database, table: str, existing: list[str], tz: ZoneInfo) -> int:
    """Rebuild ``table`` in the new layout with every row converted; returns the number of rows."""
    temp, backup = f"{table}_upgrading", f"{table}_orig"
    if store.table_columns(backup):
        raise ConfigError(
            f"cannot upgrade table {table} from the original layout: {backup} already exists; "
            f"rename or drop {backup}, then run again"
        )
    log.warning("upgrading table %s from the original layout (backup kept as %s)", table, backup)
    store.execute(f"DROP TABLE IF EXISTS `{temp}`")
    store.execute(schema.create_sql(table, store.dialect.kind).replace(f"`{table}`", f"`{temp}`", 1))
    wanted = [
        c
        for c in existing
        if c
        in {
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "created",
            "wattHoursToday",
            "wattHoursSevenDays",
            "wattHoursLifetime",
            "wattsNow",
            "gr_w",
            "tc",
            "wh_pv",
            "wh_s3p",
            "wh_return",
            "kwh_pv",
            "kwh_s3p",
            "kwh_return",
        }
    ]
    rows = store.execute(f"SELECT {', '.join(f'`{c}`' for c in wanted)} FROM `{table}`", fetch=True)
    converted = [convert_row(table, dict(zip(wanted, values, strict=True)), tz) for values in rows]
    # Rows with and without "created" must not share one executemany.
    with_created = [r for r in converted if "created" in r]
    without = [r for r in converted if "created" not in r]
    key = schema.key(table)
    store.upsert(temp, with_created, keep=(), commit=False, key=key)
    store.upsert(temp, without, keep=(), commit=False, key=key)
    for sql in store.dialect.rename_sql([(table, backup), (temp, table)]):
        store.execute(sql)
    store.commit()
    log.warning("upgraded %s: %d rows of %d copied", table, len(converted), len(rows))
    return len(converted)
