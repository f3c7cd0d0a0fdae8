"""The tables, defined once. ``sql/mysql.sql`` and ``sql/sqlite.sql`` are generated from here
(``make sql``) so they work by hand with the ``mysql`` / ``sqlite3`` clients; a test keeps them in step.

Each column: (name, SQL type). SQLite accepts the MySQL types (by affinity: DATETIME holds the
fixed-width text "YYYY-MM-DD HH:MM:SS", DECIMAL a REAL), so one definition serves both.
"""
from __future__ import annotations

TABLES: dict[str, list[tuple[str, str]]] = {
    "enphase_production": [
        ("ts_utc", "DATETIME NOT NULL"),  # sample time, UTC, one-second precision
        ("year", "SMALLINT NOT NULL"),  # local (SITE_TIMEZONE) date and time
        ("month", "TINYINT NOT NULL"),
        ("day", "TINYINT NOT NULL"),
        ("hour", "TINYINT NOT NULL"),
        ("minute", "TINYINT NOT NULL"),
        ("wattHoursToday", "DECIMAL(15,3) NULL"),
        ("wattHoursSevenDays", "DECIMAL(15,3) NULL"),
        ("wattHoursLifetime", "DECIMAL(15,3) NULL"),
        ("wattsNow", "DECIMAL(12,3) NULL"),
        ("whExportedLifetime", "DECIMAL(15,3) NULL"),  # net-consumption meter, energy sent to grid
        ("source", "VARCHAR(16) NULL"),  # eim, v1, inverters, pdm, html
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    "pvhistory": [
        ("ts_utc", "DATETIME NOT NULL"),  # hour start, UTC
        ("year", "SMALLINT NOT NULL"),  # local hour start
        ("month", "TINYINT NOT NULL"),
        ("day", "TINYINT NOT NULL"),
        ("hour", "TINYINT NOT NULL"),
        ("gr_w", "DECIMAL(10,5) NULL"),  # forecast mean global horizontal irradiance, W/m2
        ("tc", "DECIMAL(10,5) NULL"),  # forecast total cloud cover, %
        ("temp", "DECIMAL(10,5) NULL"),  # forecast air temperature, degC
        ("kwh_pv", "DECIMAL(10,5) NULL"),  # measured production in the hour
        ("kwh_s3p", "DECIMAL(10,5) NULL"),  # solar3p forecast for the hour
        ("kwh_return", "DECIMAL(10,5) NULL"),  # energy sent to the grid in the hour
        ("source", "VARCHAR(16) NULL"),  # gateway source the hour was computed from
        ("flags", "VARCHAR(64) NULL"),  # e.g. long_gap, reset, wrap (comma separated)
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
        ("updated", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
}

KEY = "ts_utc"


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


def create_sql(table: str, kind: str) -> str:
    """CREATE TABLE IF NOT EXISTS for ``kind`` ("mysql" or "sqlite")."""
    lines = [f"  `{name}` {sqltype}" for name, sqltype in TABLES[table]]
    lines.append(f"  PRIMARY KEY (`{KEY}`)")
    tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if kind == "mysql" else ""
    return f"CREATE TABLE IF NOT EXISTS `{table}` (\n" + ",\n".join(lines) + f"\n){tail};\n"


def script(kind: str) -> str:
    """The whole schema file for ``kind``."""
    head = "-- Generated from homepower/schema.py by `make sql`: edit that file, not this one.\n"
    return head + "\n".join(create_sql(t, kind) for t in TABLES)


if __name__ == "__main__":  # pragma: no cover - used by `make sql`
    import sys
    sys.stdout.write(script(sys.argv[1]))
