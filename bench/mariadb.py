"""A fresh MariaDB database for one bench run, created and dropped through the server of
TEST_DATABASE_URL (default mysql://root@127.0.0.1:3306/test), loopback only."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from homepower.settings import DatabaseConfig, parse_database_url

DEFAULT_URL = "mysql://root@127.0.0.1:3306/test"


def admin_config() -> DatabaseConfig:
    cfg = parse_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_URL), Path("var"))
    if cfg.kind != "mysql":
        raise RuntimeError("TEST_DATABASE_URL must name a MySQL/MariaDB server")
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"the bench only talks to loopback, not {cfg.host}")
    return cfg


def _connect(cfg: DatabaseConfig):
    import mysql.connector
    return mysql.connector.connect(host=cfg.host, port=cfg.port, user=cfg.user, password=cfg.password,
                                   database=cfg.database, connection_timeout=5)


def server_version() -> str:
    conn = _connect(admin_config())
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        return str(cur.fetchone()[0])
    finally:
        conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_databases(names: list[str], alive) -> list[str]:
    """Bench databases (``hp_bench_<pid>``) whose process no longer runs."""
    stale = []
    for name in names:
        suffix = name[len("hp_bench_"):]
        if name.startswith("hp_bench_") and suffix.isdigit() and not alive(int(suffix)):
            stale.append(name)
    return stale


@contextmanager
def fresh_database(name: str | None = None):
    """Yield the DatabaseConfig of a new empty database ``hp_bench_<pid>``; dropped on exit."""
    admin = admin_config()
    name = name or f"hp_bench_{os.getpid()}"
    conn = _connect(admin)
    cur = conn.cursor()
    cur.execute("SHOW DATABASES LIKE 'hp\\_bench\\_%'")
    for stale in stale_databases([row[0] for row in cur.fetchall()], _alive):
        cur.execute(f"DROP DATABASE IF EXISTS `{stale}`")  # left by a bench that was killed
    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield replace(admin, database=name)
    finally:
        try:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def count_rows(cfg: DatabaseConfig, table: str, where: str = "") -> int:
    """Rows of ``table`` (those matching the SQL condition ``where``, a constant of the bench)."""
    conn = _connect(cfg)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM `{table}`" + (f" WHERE {where}" if where else ""))
        return int(cur.fetchone()[0])
    finally:
        conn.close()


def truncate(cfg: DatabaseConfig, table: str) -> None:
    conn = _connect(cfg)
    try:
        conn.cursor().execute(f"DELETE FROM `{table}`")
        conn.commit()
    finally:
        conn.close()
