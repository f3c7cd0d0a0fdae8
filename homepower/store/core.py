"""The store's core: the connection (MySQL/MariaDB via mysql-connector-python, or SQLite, chosen by
DATABASE_URL), the schema, the generic reads and upserts, and what a failure means.

Times go in and come out as naive UTC ``datetime`` (the tables' ``ts_utc``). Every write is an upsert
keyed on ``ts_utc``, sent in batches inside one transaction. Connection failures and a database that
goes away raise ``StoreUnavailable`` (exit 75); the caller decides what that means (the poller spools).
"""

from __future__ import annotations

import logging
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NoReturn, Protocol, Self, Sequence
from zoneinfo import ZoneInfo

from homepower import schema
from homepower.dialects import Dialect, for_kind, parse_utc
from homepower.errors import ConfigError, StoreRejected, StoreUnavailable

if TYPE_CHECKING:
    import sqlite3

    from homepower.settings import DatabaseConfig

log = logging.getLogger(__name__)

# MySQL/MariaDB errors that a setting causes, not an outage (exit 78): access denied for the user (1045,
# 1698 for a unix-socket user), to the database (1044), unknown database (1049), an account that is locked
# (3118) or whose password expired (1820, 1862).
REJECTED_ERRNOS = (1044, 1045, 1049, 1698, 1820, 1862, 3118)
# A statement the user may not run (a GRANT without CREATE, ALTER or DROP): also a setting to fix (78).
PRIVILEGE_ERRNOS = (1044, 1142, 1143, 1227, 1370)
BATCH = 2000  # rows per executemany: large enough to amortise round trips, small enough for max_allowed_packet


_EPOCH = datetime(1970, 1, 1)


def _epoch(naive_utc: datetime) -> float:
    return (naive_utc - _EPOCH).total_seconds()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _mysql_errors() -> ModuleType:
    import mysql.connector.errors as errors

    return errors


class CoreStore(Protocol):
    """What every use of the store has: generic reads and writes of a table, the transaction, closing."""

    def upsert(
        self,
        table: str,
        rows: Iterable[Mapping],
        keep: tuple[str, ...] = ("created",),
        commit: bool = True,
        key: tuple[str, ...] | None = None,
    ) -> int: ...

    def fetch(
        self, table: str, cols: Sequence[str], start: datetime | None = None, end: datetime | None = None
    ) -> list[dict]: ...

    def newest(self, table: str, col: str = "ts_utc", oldest: bool = False) -> datetime | None: ...

    def insert_new(self, table: str, rows: Sequence[Mapping]) -> int: ...

    def describe(self) -> str:
        """Which database this is, without its password."""
        ...

    def execute(self, sql: str, params: Sequence = (), fetch: bool = False) -> Any: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class Database:
    """One open connection with the schema in place. The queries of each use live in the mixins of the
    modules beside this one; ``homepower.store.SqlStore`` puts them together."""

    def __init__(self, conn: Any, dialect: Dialect, config: DatabaseConfig) -> None:
        self.conn = conn
        self.dialect = dialect
        self.config = config

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def connect(
        cls, config: DatabaseConfig, timezone: ZoneInfo | None = None, create: bool = True, existing: bool = False
    ) -> Self:
        """Open the database, create missing tables and upgrade the original layout in place. ``existing``
        (readers such as the report): a SQLite file that does not exist is a ConfigError, never created."""
        conn = _open_sqlite(config, existing) if config.kind == "sqlite" else _open_mysql(config)
        store = cls(conn, for_kind(config.kind), config)
        if create:
            store.ensure_schema(timezone or ZoneInfo("UTC"))
        return store

    def describe(self) -> str:
        return self.config.describe()

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection must not mask the real error
            pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------------
    def table_columns(self, table: str) -> list[str]:
        sql, params = self.dialect.columns_sql(table)
        return [row[0] for row in self._run(sql, params, fetch=True)]

    def tables_columns(self, tables: list[str]) -> dict[str, list[str]]:
        """The columns of each of ``tables`` (an empty list for a missing table), asked in one query: a
        poll opens the store every few minutes, and one round trip to information_schema per table was
        a visible part of its time."""
        sql, params = self.dialect.tables_columns_sql(tables)
        found: dict[str, list[str]] = {table: [] for table in tables}
        named = {table.lower(): table for table in tables}  # as `TABLE_NAME = %s` matched before
        for table, column in self._run(sql, params, fetch=True):
            found[named[str(table).lower()]].append(str(column))
        return found

    def ensure_schema(self, timezone: ZoneInfo) -> None:
        """Create missing tables, upgrade the original layout, add columns added since."""
        every = self.tables_columns(list(schema.TABLES))
        for table in schema.TABLES:
            existing = every[table]
            if existing and schema.KEY not in existing and schema.KEY in schema.KEYS[table]:
                from homepower.store import upgrade  # only on the rare first run against the original tables

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

    def require_schema(self) -> None:
        """ConfigError unless every table exists in the current layout; reads only (for readers that must
        write nothing, such as ``pv_report.py --publish``: ``ensure_schema`` is the writers' job)."""
        gaps = []
        every = self.tables_columns(list(schema.TABLES))
        for table in schema.TABLES:
            existing = every[table]
            if not existing:
                gaps.append(f"{table} missing")
            elif schema.KEY not in existing and schema.KEY in schema.KEYS[table]:
                gaps.append(f"{table} in the original layout")
            elif any(name not in existing for name, _ in schema.TABLES[table]):
                gaps.append(f"{table} lacks new columns")
        if gaps:
            shown = ", ".join(gaps[:3]) + (", …" if gaps[3:] else "")
            from solar3p.environment import command  # only on this error path: the poller never gets here

            raise ConfigError(
                f"database {self.config.describe()} is not set up for this version ({shown}): run "
                f"{command('history_collector.py')} once (it creates and upgrades the tables, keeping every row), "
                "then again"
            )

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
        # SQLite hands back a time as its text: the table's DATETIME/TIMESTAMP columns come back as times.
        types = dict(schema.TABLES.get(table, []))
        times = {c for c in cols if types.get(c, "").startswith(("DATETIME", "TIMESTAMP"))} | {schema.KEY}
        out = []
        for row in self._run(sql, tuple(params), fetch=True):
            item = {c: from_db(v) for c, v in zip(cols, row, strict=True)}
            for c in times & item.keys():
                if isinstance(item[c], str):
                    item[c] = parse_utc(item[c])
            out.append(item)
        return out

    def newest(self, table: str, col: str = "ts_utc", oldest: bool = False) -> datetime | None:
        """The largest (``oldest``: smallest) ``col`` (a DATETIME) of ``table``, or None when it is empty."""
        value = self._newest_raw(table, col, "MIN" if oldest else "MAX")
        return None if value is None else parse_utc(value)

    def _newest_raw(self, table: str, col: str, agg: str = "MAX") -> Any:
        rows = self._run(f"SELECT {agg}({self.q(col)}) FROM {self.q(table)}", fetch=True)
        return rows[0][0] if rows else None

    def insert_new(self, table: str, rows: Sequence[Mapping]) -> int:
        """Insert the ``rows`` whose key is not stored yet, in one transaction; a stored row stays as it was
        (a report seen by several polls keeps the poll that first saw it). Returns how many were new."""
        if not rows:
            return 0
        cols = list(rows[0].keys())
        sql = self.dialect.insert_new_sql(table, cols, schema.key(table))
        to_db = self.dialect.to_db
        try:
            added = 0
            for start in range(0, len(rows), BATCH):
                chunk = [tuple(to_db(r[c]) for c in cols) for r in rows[start : start + BATCH]]
                added += self._run(sql, chunk, many=True, count=True)
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return added

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

    def execute(self, sql: str, params: Sequence = (), fetch: bool = False) -> Any:
        """Run one parameterised statement (``?``/``%s`` per dialect: use ``dialect.placeholder``)."""
        return self._run(sql, params, fetch=fetch)

    # -- internals -----------------------------------------------------------------------------
    def _run(
        self, sql: str, params: Sequence = (), fetch: bool = False, many: bool = False, count: bool = False
    ) -> Any:
        """``fetch``: the rows; ``count``: the rows the statement changed (rowcount)."""
        cursor = None
        try:
            cursor = self.conn.cursor()
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, tuple(params))
            if count:
                return max(cursor.rowcount or 0, 0)
            return cursor.fetchall() if fetch else None
        except Exception as exc:
            self._raise_unavailable(exc)
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:
                    pass

    def _raise_unavailable(self, exc: Exception) -> NoReturn:
        """Map 'the database went away / is locked' to StoreUnavailable; let real bugs through."""
        if self.dialect.kind == "sqlite":
            import sqlite3

            # SQLite's primary result codes for a file that is busy, locked, unopenable, read-only, failing
            # or damaged (extended codes carry the primary one in their low byte).
            unavailable = {
                sqlite3.SQLITE_CORRUPT,
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
                sqlite3.SQLITE_CANTOPEN,
                sqlite3.SQLITE_READONLY,
                sqlite3.SQLITE_IOERR,
                sqlite3.SQLITE_FULL,
            }
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(exc, sqlite3.OperationalError) and code is not None and (code & 0xFF) in unavailable:
                raise StoreUnavailable(f"database {self.config.describe()} is unavailable: {exc}") from exc
        else:
            errors = _mysql_errors()
            if getattr(exc, "errno", None) in PRIVILEGE_ERRNOS:
                raise StoreRejected(
                    f"database {self.config.describe()} refuses a statement: {_safe(exc, self.config)}; grant "
                    f"the user the privileges the README's set-up lists"
                ) from exc
            if isinstance(exc, (errors.InterfaceError, errors.OperationalError)):
                raise StoreUnavailable(
                    f"database {self.config.describe()} is unavailable: {_safe(exc, self.config)}"
                ) from exc
        raise exc


def _open_sqlite(config: DatabaseConfig, existing: bool = False) -> sqlite3.Connection:
    import sqlite3  # imported here: a MySQL poll need not load it

    assert config.path is not None  # a sqlite DatabaseConfig always has its file
    if existing and not config.path.is_file():
        raise ConfigError(
            f"database file {config.path} does not exist: check DATABASE_URL (the poller and the collector "
            f"create it on their first run)"
        )
    try:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(config.path), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(f"database {config.describe()} cannot be opened: {exc}") from exc
    return conn


MYSQL_CONNECT_TIMEOUT_S = 10  # the handshake, whole; a silent server must not hold the poll


def _open_mysql(config: DatabaseConfig) -> Any:
    import mysql.connector
    from mysql.connector.constants import ClientFlag

    try:
        return mysql.connector.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password,
            database=config.database,
            connection_timeout=MYSQL_CONNECT_TIMEOUT_S,
            autocommit=False,
            charset="utf8mb4",
            collation="utf8mb4_general_ci",
            time_zone="+00:00",
            # No connection attributes: collecting them runs `lsb_release` in a subprocess on
            # every connect, for nothing we use.
            client_flags=[-ClientFlag.CONNECT_ARGS],
        )
    except mysql.connector.Error as exc:
        if getattr(exc, "errno", None) in REJECTED_ERRNOS:
            raise StoreRejected(
                f"database {config.describe()} refuses this connection: {_safe(exc, config)}; fix the user, "
                f"password or database name in DATABASE_URL (or create them: see the README)"
            ) from exc
        raise StoreUnavailable(
            f"database {config.describe()} is unavailable: {_connect_reason(exc, config)}; "
            f"check that the server runs and DATABASE_URL is right"
        ) from exc


def _connect_reason(exc: Exception, config: DatabaseConfig) -> str:
    """The driver's reason, or what happened when it has none: a server that accepts TCP and never sends
    its handshake gives an empty 3024 (the driver's read timeout)."""
    msg = getattr(exc, "msg", None)
    if getattr(exc, "errno", None) == 3024 or (isinstance(msg, str) and not msg.strip()):
        return f"no answer from the server within {MYSQL_CONNECT_TIMEOUT_S:g} s (it accepted the connection)"
    return _safe(exc, config)


def _safe(exc: Exception, config: DatabaseConfig) -> str:
    """An error text with the password removed, should the driver ever echo it."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if config.password:
        text = text.replace(config.password, "***")
    return text
