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
        ("whImportedLifetime", "DECIMAL(15,3) NULL"),  # net-consumption meter, energy taken from the grid
        ("whConsumedLifetime", "DECIMAL(15,3) NULL"),  # total-consumption meter, the house's use
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
        ("kwh_fc", "DECIMAL(10,5) NULL"),  # calibrated solar3p forecast for the hour
        ("kwh_import", "DECIMAL(10,5) NULL"),  # energy taken from the grid in the hour
        ("kwh_consumed", "DECIMAL(10,5) NULL"),  # the house's use in the hour
        ("forecast_issued", "DATETIME NULL"),  # UTC issue time of the forecast joined with the hour
        ("forecast_provider", "VARCHAR(16) NULL"),  # meteoserver, open-meteo or file
        ("kwh_fc_p10", "DECIMAL(10,5) NULL"),  # calibrated forecast's 10 % quantile
        ("kwh_fc_p90", "DECIMAL(10,5) NULL"),  # calibrated forecast's 90 % quantile
    ],
    "forecast": [
        ("ts_utc", "DATETIME NOT NULL"),  # start of the hour forecast, UTC
        ("issued_utc", "DATETIME NOT NULL"),  # when the forecast was made (downloaded), UTC
        ("provider", "VARCHAR(16) NOT NULL"),  # meteoserver, open-meteo, file
        ("gr_w", "DOUBLE NULL"),  # mean global horizontal irradiance over the hour, W/m2
        ("tc", "DOUBLE NULL"),  # total cloud cover, %
        ("temp", "DOUBLE NULL"),  # air temperature, degC
        ("gr", "DOUBLE NULL"),
        ("sd", "DOUBLE NULL"),
        ("lc", "DOUBLE NULL"),
        ("mc", "DOUBLE NULL"),
        ("hc", "DOUBLE NULL"),
        ("vis", "DOUBLE NULL"),
        ("prec", "DOUBLE NULL"),
        ("elev", "DOUBLE NULL"),  # sun elevation at the hour's start, degrees
        ("az", "DOUBLE NULL"),  # sun azimuth at the hour's start, degrees
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    "calibration": [
        ("fitted_utc", "DATETIME NOT NULL"),  # when the calibration was fitted, UTC
        ("trained_from", "DATETIME NULL"),  # first hour of the history it saw, UTC
        ("trained_to", "DATETIME NULL"),  # end of the history it saw (exclusive), UTC
        ("hours", "INT NULL"),  # hours it was fitted on
        ("params", "TEXT NULL"),  # the learned parameters, JSON
        ("nmae_pct", "DOUBLE NULL"),  # in-sample hourly nMAE, %
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    "pv_forecast": [
        ("ts_utc", "DATETIME NOT NULL"),  # start of the hour forecast, UTC
        ("issued_utc", "DATETIME NOT NULL"),  # when the service's forecast was downloaded, UTC
        ("provider", "VARCHAR(16) NOT NULL"),  # forecast.solar, solcast
        ("kwh", "DOUBLE NULL"),  # the service's expected energy in the hour
        ("kwh_p10", "DOUBLE NULL"),  # its 10 % quantile (NULL where the service gives none)
        ("kwh_p90", "DOUBLE NULL"),  # its 90 % quantile
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    "inverter_reading": [
        ("serial", "VARCHAR(20) NOT NULL"),  # micro-inverter serial number
        ("report_utc", "DATETIME NOT NULL"),  # the inverter's own report time, UTC
        ("watts", "DOUBLE NULL"),  # power at that report
        ("max_watts", "DOUBLE NULL"),  # highest power it has reported
        ("ts_utc", "DATETIME NULL"),  # the poll that first saw the report, UTC
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    "inverter_energy": [
        ("serial", "VARCHAR(20) NOT NULL"),  # micro-inverter serial number
        ("end_utc", "DATETIME NOT NULL"),  # end of the reported interval, UTC
        ("seconds", "INT NULL"),  # the interval's length
        ("wh", "DOUBLE NULL"),  # energy produced in the interval
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
    # inverter_reading summed up per micro-inverter and settled UTC hour, kept by the report and --status (a
    # year of reports is a million rows: the report reads these instead)
    "inverter_hour": [
        ("serial", "VARCHAR(20) NOT NULL"),  # micro-inverter serial number
        ("hour_utc", "DATETIME NOT NULL"),  # hour start, UTC
        ("wh", "DOUBLE NULL"),  # mean of the powers reported in the hour x 1 h
        ("max_watts", "DOUBLE NULL"),  # highest power reported in the hour
        ("reports", "INT NULL"),  # reports in the hour
        ("created", "TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP"),
    ],
}

# Primary key of each table. ``KEY`` is the one of the two original tables (and the default).
KEY = "ts_utc"
KEYS: dict[str, tuple[str, ...]] = {
    "enphase_production": (KEY,),
    "pvhistory": (KEY,),
    "forecast": ("ts_utc", "issued_utc", "provider"),
    "calibration": ("fitted_utc",),
    "pv_forecast": ("ts_utc", "issued_utc", "provider"),
    "inverter_reading": ("serial", "report_utc"),
    "inverter_energy": ("serial", "end_utc"),
    "inverter_hour": ("serial", "hour_utc"),
}


def key(table: str) -> tuple[str, ...]:
    return KEYS[table]


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


def value_columns(table: str) -> list[str]:
    """The columns that say what a row holds: all but the bookkeeping times (``created``, ``updated``),
    which a rerun may change while the row itself stays the same."""
    return [name for name in columns(table) if name not in ("created", "updated")]


def create_sql(table: str, kind: str) -> str:
    """CREATE TABLE IF NOT EXISTS for ``kind`` ("mysql" or "sqlite")."""
    lines = [f"  `{name}` {sqltype}" for name, sqltype in TABLES[table]]
    lines.append("  PRIMARY KEY (" + ", ".join(f"`{k}`" for k in KEYS[table]) + ")")
    tail = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if kind == "mysql" else ""
    return f"CREATE TABLE IF NOT EXISTS `{table}` (\n" + ",\n".join(lines) + f"\n){tail};\n"


def script(kind: str) -> str:
    """The whole schema file for ``kind``."""
    head = "-- Generated from homepower/schema.py by `make sql`: edit that file, not this one.\n"
    return head + "\n".join(create_sql(t, kind) for t in TABLES)


if __name__ == "__main__":  # pragma: no cover - used by `make sql`
    import sys

    sys.stdout.write(script(sys.argv[1]))
