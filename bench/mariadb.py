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


def _store(cfg: DatabaseConfig):
    """A connection through the project's store (no tables created: the admin database is not ours)."""
    from homepower.store import Store

    return Store.connect(cfg, create=False)


def server_version() -> str:
    with _store(admin_config()) as store:
        return str(store.execute("SELECT VERSION()", fetch=True)[0][0])


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
        suffix = name[len("hp_bench_") :]
        if name.startswith("hp_bench_") and suffix.isdigit() and not alive(int(suffix)):
            stale.append(name)
    return stale


@contextmanager
def fresh_database(name: str | None = None):
    """Yield the DatabaseConfig of a new empty database ``hp_bench_<pid>``; dropped on exit."""
    admin = admin_config()
    name = name or f"hp_bench_{os.getpid()}"
    store = _store(admin)
    found = store.execute("SHOW DATABASES LIKE 'hp\\_bench\\_%'", fetch=True)
    for stale in stale_databases([row[0] for row in found], _alive):
        store.execute(f"DROP DATABASE IF EXISTS `{stale}`")  # left by a bench that was killed
    store.execute(f"DROP DATABASE IF EXISTS `{name}`")
    store.execute(f"CREATE DATABASE `{name}`")
    try:
        yield replace(admin, database=name)
    finally:
        try:
            store.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            store.close()


def count_rows(cfg: DatabaseConfig, table: str, where: str = "") -> int:
    """Rows of ``table`` (those matching the SQL condition ``where``, a constant of the bench)."""
    with _store(cfg) as store:
        sql = f"SELECT COUNT(*) FROM `{table}`" + (f" WHERE {where}" if where else "")
        return int(store.execute(sql, fetch=True)[0][0])


def truncate(cfg: DatabaseConfig, table: str) -> None:
    with _store(cfg) as store:
        store.execute(f"DELETE FROM `{table}`")
        store.commit()
