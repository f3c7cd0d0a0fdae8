"""The database: MySQL/MariaDB (mysql-connector-python) or SQLite, chosen by DATABASE_URL.

Times go in and come out as naive UTC ``datetime`` (the tables' ``ts_utc``). Every write is an upsert
keyed on ``ts_utc``, sent in batches inside one transaction. Connection failures and a database that
goes away raise ``StoreUnavailable`` (exit 75); the caller decides what that means (the poller spools).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from homepower import schema
from homepower.dialects import Dialect, for_kind, parse_utc
from homepower.errors import StoreUnavailable
from homepower.settings import DatabaseConfig

log = logging.getLogger(__name__)

BATCH = 2000  # rows per executemany: large enough to amortise round trips, small enough for max_allowed_packet


def _mysql_errors():
    import mysql.connector.errors as errors

    return errors


class Store:
    """One open connection with the schema in place."""

    def __init__(self, conn, dialect: Dialect, config: DatabaseConfig):
        self.conn = conn
        self.dialect = dialect
        self.config = config

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def connect(cls, config: DatabaseConfig, timezone: ZoneInfo | None = None, create: bool = True) -> "Store":
        """Open the database, create missing tables and upgrade the original layout in place."""
        conn = _open_sqlite(config) if config.kind == "sqlite" else _open_mysql(config)
        store = cls(conn, for_kind(config.kind), config)
        if create:
            store.ensure_schema(timezone or ZoneInfo("UTC"))
        return store

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection must not mask the real error
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------------
    def table_columns(self, table: str) -> list[str]:
        sql, params = self.dialect.columns_sql(table)
        return [row[0] for row in self._run(sql, params, fetch=True)]

    def ensure_schema(self, timezone: ZoneInfo) -> None:
        """Create missing tables, upgrade the original layout, add columns added since."""
        for table in schema.TABLES:
            existing = self.table_columns(table)
            if existing and schema.KEY not in existing and schema.KEY in schema.KEYS[table]:
                from homepower import upgrade  # only on the rare first run against the original tables

                upgrade.upgrade_table(self, table, existing, timezone)
                existing = self.table_columns(table)
            if not existing:
                self._run(schema.create_sql(table, self.dialect.kind))
                continue
            for name, coltype in schema.TABLES[table]:
                if name not in existing:
                    coltype = coltype.replace("NOT NULL", "NULL")
                    self._run(f"ALTER TABLE {self.q(table)} ADD COLUMN {self.q(name)} {coltype}")
        self.commit()

    def q(self, name: str) -> str:
        """Quote an identifier (both dialects accept backticks)."""
        return f"`{name}`"

    # -- reads and writes ----------------------------------------------------------------------
    def upsert(
        self,
        table: str,
        rows: Iterable[Mapping],
        keep: tuple[str, ...] = ("created",),
        commit: bool = True,
        key: tuple[str, ...] | None = None,
    ) -> int:
        """Insert or replace ``rows`` (dicts with the same keys) keyed on the table's primary key
        (``schema.KEYS``, or ``key`` for a table of another name); returns the count.

        Columns named in ``keep`` keep their stored value when a row is replaced."""
        rows = list(rows)
        if not rows:
            return 0
        cols = list(rows[0].keys())
        sql = self.dialect.upsert_sql(table, cols, key or schema.key(table), keep)
        to_db = self.dialect.to_db
        for start in range(0, len(rows), BATCH):
            chunk = [tuple(to_db(row[c]) for c in cols) for row in rows[start : start + BATCH]]
            self._run(sql, chunk, many=True)
        if commit:
            self.commit()
        return len(rows)

    def fetch(
        self, table: str, cols: Sequence[str], start: datetime | None = None, end: datetime | None = None
    ) -> list[dict]:
        """Rows of ``table`` with ``start <= ts_utc < end`` (either bound optional), oldest first."""
        key, p = self.q(schema.KEY), self.dialect.placeholder
        where, params = [], []
        if start is not None:
            where.append(f"{key} >= {p}")
            params.append(self.dialect.to_db(start))
        if end is not None:
            where.append(f"{key} < {p}")
            params.append(self.dialect.to_db(end))
        sql = f"SELECT {', '.join(self.q(c) for c in cols)} FROM {self.q(table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {key}"
        from_db = self.dialect.from_db
        out = []
        for row in self._run(sql, tuple(params), fetch=True):
            item = {c: from_db(v) for c, v in zip(cols, row, strict=True)}
            if isinstance(item.get("ts_utc"), str):
                item["ts_utc"] = parse_utc(item["ts_utc"])
            out.append(item)
        return out

    # -- the report's reads (pv_report.py) ------------------------------------------------------
    REPORT_COLS = ("ts_utc", "year", "month", "day", "hour", "kwh_pv", "kwh_s3p", "kwh_fc", "forecast_issued", "flags")

    def report_rows(self, start: datetime, end: datetime) -> list[dict]:
        """pvhistory rows with ``start <= ts_utc < end`` as the report reads them, oldest first."""
        rows = self.fetch("pvhistory", self.REPORT_COLS, start, end)
        for row in rows:
            if row["forecast_issued"] is not None:
                row["forecast_issued"] = parse_utc(row["forecast_issued"])
        return rows

    def newest(self, table: str, col: str = "ts_utc") -> datetime | None:
        """The largest ``col`` (a DATETIME) of ``table``, or None when it is empty."""
        value = self._newest_raw(table, col)
        return None if value is None else parse_utc(value)

    def _newest_raw(self, table: str, col: str):
        rows = self._run(f"SELECT MAX({self.q(col)}) FROM {self.q(table)}", fetch=True)
        return rows[0][0] if rows else None

    def null_hours(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(rows, rows with NULL kwh_pv) of pvhistory with ``start <= ts_utc < end``."""
        p = self.dialect.placeholder
        sql = (
            f"SELECT COUNT(*), SUM(CASE WHEN {self.q('kwh_pv')} IS NULL THEN 1 ELSE 0 END) "
            f"FROM {self.q('pvhistory')} WHERE {self.q('ts_utc')} >= {p} AND {self.q('ts_utc')} < {p}"
        )
        n, nulls = self._run(sql, (self.dialect.to_db(start), self.dialect.to_db(end)), fetch=True)[0]
        return int(n or 0), int(nulls or 0)

    def newest_forecast(self) -> dict | None:
        """The newest archived forecast issue: ``issued_utc``, ``provider``, ``first``/``last`` hour it covers."""
        issued = self._newest_raw("forecast", "issued_utc")
        if issued is None:
            return None
        p = self.dialect.placeholder
        sql = (
            f"SELECT MIN({self.q('ts_utc')}), MAX({self.q('ts_utc')}), MAX({self.q('provider')}) "
            f"FROM {self.q('forecast')} WHERE {self.q('issued_utc')} = {p}"
        )
        first, last, provider = self._run(sql, (issued,), fetch=True)[0]
        return {
            "issued_utc": parse_utc(issued),
            "provider": provider,
            "first": None if first is None else parse_utc(first),
            "last": None if last is None else parse_utc(last),
        }

    def last_calibration(self) -> dict | None:
        """The newest row of ``calibration`` (params left out), or None."""
        fitted = self._newest_raw("calibration", "fitted_utc")
        if fitted is None:
            return None
        cols = ("fitted_utc", "trained_from", "trained_to", "hours", "nmae_pct")
        p = self.dialect.placeholder
        sql = (
            f"SELECT {', '.join(self.q(c) for c in cols)} FROM {self.q('calibration')} "
            f"WHERE {self.q('fitted_utc')} = {p}"
        )
        rows = self._run(sql, (fitted,), fetch=True)
        if not rows:
            return None
        item = {c: self.dialect.from_db(v) for c, v in zip(cols, rows[0], strict=True)}
        for c in ("fitted_utc", "trained_from", "trained_to"):
            if item[c] is not None:
                item[c] = parse_utc(item[c])
        return item

    # -- calibration ---------------------------------------------------------------------------
    def forecast_hours(self, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
        """pvhistory hours in [start, end) that have forecast weather (gr_w and temp), oldest first:
        what calibration trains on (with kwh_pv) and what it forecasts."""
        cols = ("ts_utc", "year", "month", "day", "hour", "gr_w", "tc", "temp", "kwh_pv", "kwh_fc", "flags")
        return [r for r in self.fetch("pvhistory", cols, start, end) if r["gr_w"] is not None and r["temp"] is not None]

    def set_kwh_fc(self, values: Mapping[datetime, float | None]) -> int:
        """Set ``kwh_fc`` of existing pvhistory hours (keyed by ``ts_utc``); other columns untouched."""
        p = self.dialect.placeholder
        sql = f"UPDATE {self.q('pvhistory')} SET {self.q('kwh_fc')} = {p} WHERE {self.q('ts_utc')} = {p}"
        items = [(v, self.dialect.to_db(k)) for k, v in values.items()]
        for start in range(0, len(items), BATCH):
            self._run(sql, items[start : start + BATCH], many=True)
        self.commit()
        return len(items)

    def calibrations(self) -> list[dict]:
        """Every stored calibration (``fitted_utc``, ``trained_to``, ``params`` JSON text), oldest first."""
        q = self.q
        sql = (
            f"SELECT {q('fitted_utc')}, {q('trained_from')}, {q('trained_to')}, {q('params')} "
            f"FROM {q('calibration')} ORDER BY {q('fitted_utc')}"
        )
        out = []
        for fitted, first, last, params in self._run(sql, (), fetch=True):
            out.append(
                {
                    "fitted_utc": parse_utc(fitted),
                    "trained_from": None if first is None else parse_utc(first),
                    "trained_to": None if last is None else parse_utc(last),
                    "params": params,
                }
            )
        return out

    def commit(self) -> None:
        try:
            self.conn.commit()
        except Exception as exc:
            self._raise_unavailable(exc)

    def rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:
            pass

    def execute(self, sql: str, params: Sequence = (), fetch: bool = False):
        """Run one parameterised statement (``?``/``%s`` per dialect: use ``dialect.placeholder``)."""
        return self._run(sql, params, fetch=fetch)

    # -- internals -----------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence = (), fetch: bool = False, many: bool = False):
        cursor = None
        try:
            cursor = self.conn.cursor()
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, tuple(params))
            return cursor.fetchall() if fetch else None
        except Exception as exc:
            self._raise_unavailable(exc)
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:
                    pass

    def _raise_unavailable(self, exc: Exception):
        """Map 'the database went away / is locked' to StoreUnavailable; let real bugs through."""
        if self.dialect.kind == "sqlite":
            import sqlite3

            msg = str(exc)
            if isinstance(exc, sqlite3.OperationalError) and any(
                word in msg for word in ("locked", "unable to open", "disk", "readonly")
            ):
                raise StoreUnavailable(f"database {self.config.describe()} is unavailable: {msg}") from None
        else:
            errors = _mysql_errors()
            if isinstance(exc, (errors.InterfaceError, errors.OperationalError)):
                raise StoreUnavailable(
                    f"database {self.config.describe()} is unavailable: {_safe(exc, self.config)}"
                ) from None
        raise exc


def _open_sqlite(config: DatabaseConfig):
    import sqlite3  # imported here: a MySQL poll need not load it

    try:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(config.path), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(f"database {config.describe()} cannot be opened: {exc}") from None
    return conn


def _open_mysql(config: DatabaseConfig):
    import mysql.connector
    from mysql.connector.constants import ClientFlag

    try:
        return mysql.connector.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password,
            database=config.database,
            connection_timeout=10,
            autocommit=False,
            charset="utf8mb4",
            collation="utf8mb4_general_ci",
            time_zone="+00:00",
            # No connection attributes: collecting them runs `lsb_release` in a subprocess on
            # every connect (8 ms here, far more on a Raspberry Pi), for nothing we use.
            client_flags=[-ClientFlag.CONNECT_ARGS],
        )
    except mysql.connector.Error as exc:
        raise StoreUnavailable(
            f"database {config.describe()} is unavailable: {_safe(exc, config)}; "
            f"check that the server runs and DATABASE_URL is right"
        ) from None


def _safe(exc: Exception, config: DatabaseConfig) -> str:
    """An error text with the password removed, should the driver ever echo it."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if config.password:
        text = text.replace(config.password, "***")
    return text
