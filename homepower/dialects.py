"""The small places where MySQL/MariaDB and SQLite differ: placeholders, upserts, introspection,
how a DATETIME travels. Nothing else in the project writes dialect-specific SQL."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class Dialect:
    kind = ""
    placeholder = "?"

    def upsert_sql(self, table: str, cols: list[str], key: str, keep: tuple[str, ...] = ()) -> str:
        raise NotImplementedError

    def columns_sql(self, table: str) -> tuple[str, tuple]:
        raise NotImplementedError

    def to_db(self, value):
        return value

    def from_db(self, value):
        if isinstance(value, Decimal):
            return float(value)
        return value

    def rename_sql(self, pairs: list[tuple[str, str]]) -> list[str]:
        """Statements renaming each ``(old, new)`` table, in order."""
        raise NotImplementedError

    def params(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)


class MySQLDialect(Dialect):
    kind = "mysql"
    placeholder = "%s"

    def upsert_sql(self, table, cols, key, keep=()):
        names = ", ".join(f"`{c}`" for c in cols)
        updates = ", ".join(f"`{c}`=VALUES(`{c}`)" for c in cols if c != key and c not in keep)
        return (f"INSERT INTO `{table}` ({names}) VALUES ({self.params(len(cols))}) "
                f"ON DUPLICATE KEY UPDATE {updates}")

    def columns_sql(self, table):
        return ("SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table,))

    def rename_sql(self, pairs):
        # One statement: MySQL swaps the names atomically (DDL there commits on its own).
        return ["RENAME TABLE " + ", ".join(f"`{old}` TO `{new}`" for old, new in pairs)]


class SQLiteDialect(Dialect):
    kind = "sqlite"
    placeholder = "?"

    def upsert_sql(self, table, cols, key, keep=()):
        names = ", ".join(f'"{c}"' for c in cols)
        updates = ", ".join(f'"{c}"=excluded."{c}"' for c in cols if c != key and c not in keep)
        return (f'INSERT INTO "{table}" ({names}) VALUES ({self.params(len(cols))}) '
                f'ON CONFLICT("{key}") DO UPDATE SET {updates}')

    def columns_sql(self, table):
        return ("SELECT name FROM pragma_table_info(?)", (table,))

    def rename_sql(self, pairs):
        # SQLite renames one table a statement.
        return [f'ALTER TABLE "{old}" RENAME TO "{new}"' for old, new in pairs]

    def to_db(self, value):
        # SQLite has no DATETIME type: a fixed-width text sorts and compares like the time itself.
        if isinstance(value, datetime):
            return value.strftime(DATETIME_FORMAT)
        return value


def for_kind(kind: str) -> Dialect:
    return MySQLDialect() if kind == "mysql" else SQLiteDialect()
