"""The small places where MySQL/MariaDB and SQLite differ: placeholders, upserts, introspection, table
renames, how a DATETIME travels (and ``parse_utc`` for a stored time in any of its forms). The one other
place with dialect-specific SQL is the store's bulk sample read (``Store.read_samples``), for speed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_EPOCH = datetime(1970, 1, 1)


def parse_utc(value: object) -> datetime:
    """A stored ``ts_utc`` (or an ISO text given by a person) as naive UTC. SQLite keeps DATETIME as
    whatever text was inserted: ours is "YYYY-MM-DD HH:MM:SS", but rows written by hand or by other tools
    may carry a "T", fractions of a second or an offset; all mean the same instant. ValueError otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        return _EPOCH + timedelta(seconds=float(value))
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class Dialect:
    kind = ""
    placeholder = "?"

    def upsert_sql(self, table: str, cols: list[str], key: tuple[str, ...], keep: tuple[str, ...] = ()) -> str:
        """INSERT or replace keyed on the columns of ``key``; columns in ``keep`` keep their stored value."""
        raise NotImplementedError

    def insert_new_sql(self, table: str, cols: list[str], key: tuple[str, ...]) -> str:
        """INSERT that leaves a row whose ``key`` is stored already as it was (no error)."""
        raise NotImplementedError

    def columns_sql(self, table: str) -> tuple[str, tuple[str, ...]]:
        raise NotImplementedError

    def tables_columns_sql(self, tables: list[str]) -> tuple[str, tuple[str, ...]]:
        """(table, column) of every column of ``tables`` that exist, in table order: one query for all."""
        raise NotImplementedError

    def to_db(self, value: Any) -> Any:
        return value

    def from_db(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        return value

    def rename_sql(self, pairs: list[tuple[str, str]]) -> list[str]:
        """Statements renaming each ``(old, new)`` table, in order."""
        raise NotImplementedError

    def params(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def hour_sql(self, column: str) -> str:
        """An expression giving the hour of a DATETIME ``column`` as the text "YYYY-MM-DD HH"."""
        raise NotImplementedError

    def day_sql(self, column: str, minutes: int) -> str:
        """An expression giving the date of a DATETIME ``column`` shifted by ``minutes`` (a UTC offset)."""
        raise NotImplementedError

    def distinct_sql(self, column: str, table: str) -> str:
        """The distinct values of ``column``, the first column of ``table``'s key, by seeks of that index
        rather than a read of every row (both quoted already)."""
        raise NotImplementedError


class MySQLDialect(Dialect):
    kind = "mysql"
    placeholder = "%s"

    def upsert_sql(self, table: str, cols: list[str], key: tuple[str, ...], keep: tuple[str, ...] = ()) -> str:
        names = ", ".join(f"`{c}`" for c in cols)
        updates = ", ".join(f"`{c}`=VALUES(`{c}`)" for c in cols if c not in key and c not in keep)
        return f"INSERT INTO `{table}` ({names}) VALUES ({self.params(len(cols))}) ON DUPLICATE KEY UPDATE {updates}"

    def insert_new_sql(self, table: str, cols: list[str], key: tuple[str, ...]) -> str:
        names = ", ".join(f"`{c}`" for c in cols)
        # Not INSERT IGNORE: that would also turn bad values into warnings.
        return (
            f"INSERT INTO `{table}` ({names}) VALUES ({self.params(len(cols))}) "
            f"ON DUPLICATE KEY UPDATE `{key[0]}`=`{key[0]}`"
        )

    def columns_sql(self, table: str) -> tuple[str, tuple[str, ...]]:
        return (
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )

    def tables_columns_sql(self, tables: list[str]) -> tuple[str, tuple[str, ...]]:
        return (
            "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({self.params(len(tables))}) "
            "ORDER BY TABLE_NAME, ORDINAL_POSITION",
            tuple(tables),
        )

    def hour_sql(self, column: str) -> str:
        # Not DATE_FORMAT: its '%' would meet the driver's parameter markers.
        return f"LEFT(CAST({column} AS CHAR), 13)"

    def day_sql(self, column: str, minutes: int) -> str:
        return f"DATE(DATE_ADD({column}, INTERVAL {int(minutes)} MINUTE))"

    def distinct_sql(self, column: str, table: str) -> str:
        # MariaDB's loose index scan ("Using index for group-by"): a seek a value. Its recursive CTE below
        # took 11 s over a year of 30 panels' reports.
        return f"SELECT DISTINCT {column} FROM {table}"

    def rename_sql(self, pairs: list[tuple[str, str]]) -> list[str]:
        # One statement: MySQL swaps the names atomically (DDL there commits on its own).
        return ["RENAME TABLE " + ", ".join(f"`{old}` TO `{new}`" for old, new in pairs)]


class SQLiteDialect(Dialect):
    kind = "sqlite"
    placeholder = "?"

    def upsert_sql(self, table: str, cols: list[str], key: tuple[str, ...], keep: tuple[str, ...] = ()) -> str:
        names = ", ".join(f'"{c}"' for c in cols)
        updates = ", ".join(f'"{c}"=excluded."{c}"' for c in cols if c not in key and c not in keep)
        conflict = ", ".join(f'"{k}"' for k in key)
        return (
            f'INSERT INTO "{table}" ({names}) VALUES ({self.params(len(cols))}) '
            f"ON CONFLICT({conflict}) DO UPDATE SET {updates}"
        )

    def insert_new_sql(self, table: str, cols: list[str], key: tuple[str, ...]) -> str:
        names = ", ".join(f'"{c}"' for c in cols)
        conflict = ", ".join(f'"{k}"' for k in key)
        return f'INSERT INTO "{table}" ({names}) VALUES ({self.params(len(cols))}) ON CONFLICT({conflict}) DO NOTHING'

    def columns_sql(self, table: str) -> tuple[str, tuple[str, ...]]:
        return ("SELECT name FROM pragma_table_info(?)", (table,))

    def tables_columns_sql(self, tables: list[str]) -> tuple[str, tuple[str, ...]]:
        return (
            "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
            f"WHERE m.type = 'table' AND m.name IN ({self.params(len(tables))}) ORDER BY m.name, p.cid",
            tuple(tables),
        )

    def hour_sql(self, column: str) -> str:
        # Our DATETIME text is "YYYY-MM-DD HH:MM:SS": its first 13 characters are the hour.
        return f"substr({column}, 1, 13)"

    def day_sql(self, column: str, minutes: int) -> str:
        return f"date({column}, '{int(minutes):+d} minutes')"

    def distinct_sql(self, column: str, table: str) -> str:
        # SQLite has no loose index scan: DISTINCT reads every row. A recursive skip, one seek a value.
        return (
            f"WITH RECURSIVE s(v) AS (SELECT MIN({column}) FROM {table} UNION ALL "
            f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > s.v) FROM s WHERE s.v IS NOT NULL) "
            f"SELECT v FROM s WHERE v IS NOT NULL"
        )

    def rename_sql(self, pairs: list[tuple[str, str]]) -> list[str]:
        # SQLite renames one table a statement.
        return [f'ALTER TABLE "{old}" RENAME TO "{new}"' for old, new in pairs]

    def to_db(self, value: Any) -> Any:
        # SQLite has no DATETIME type: a fixed-width text sorts and compares like the time itself.
        if isinstance(value, datetime):
            return value.strftime(DATETIME_FORMAT)
        return value


def for_kind(kind: str) -> Dialect:
    return MySQLDialect() if kind == "mysql" else SQLiteDialect()
