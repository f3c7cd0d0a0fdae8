"""The database: MySQL/MariaDB (mysql-connector-python) or SQLite, chosen by DATABASE_URL. The store owns
all SQL.

Times go in and come out as naive UTC ``datetime`` (the tables' ``ts_utc``). Every write is an upsert
keyed on ``ts_utc``, sent in batches inside one transaction. Connection failures and a database that
goes away raise ``StoreUnavailable`` (exit 75); the caller decides what that means (the poller spools).

Use cases take a ``Store`` (the protocol: what they may ask) and never name the class behind it. The
queries are grouped by what they serve, one module each: ``core`` (connection, schema, generic upsert and
reads, errors), ``samples`` (the collector's readings), ``history`` (how far pvhistory is built),
``forecasts`` (the forecast archive), ``calibration``, ``report``, ``status``, ``panels``. A new query goes
into the module of what it serves, as a method of its ``...Queries`` mixin and a line of its ``...Store``
protocol; results are typed records (a dataclass or NamedTuple built by ``from_row``), not dicts.

The package imports none of them itself: ``Store``, ``SqlStore`` and ``connect`` (``sql.py``), ``Database``
(``core.py``), ``Sample`` and ``SAMPLE_COLS`` (``samples.py``), ``PanelHour`` (``panels.py``) are loaded
when first asked for, so that a poll, which opens ``core.Database`` alone, does not import the query
modules it never uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homepower.store.core import Database
    from homepower.store.panels import PanelHour
    from homepower.store.samples import SAMPLE_COLS, Sample
    from homepower.store.sql import SqlStore, Store, connect

__all__ = [
    "SAMPLE_COLS",
    "Database",
    "PanelHour",
    "Sample",
    "SqlStore",
    "Store",
    "connect",
]

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        """``from homepower.store import Store`` and the like (PEP 562): the module that holds ``name``."""
        if name in ("SqlStore", "Store", "connect"):
            from homepower.store import sql as home
        elif name in ("SAMPLE_COLS", "Sample"):
            from homepower.store import samples as home
        elif name == "Database":
            from homepower.store import core as home
        elif name == "PanelHour":
            from homepower.store import panels as home
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(home, name)
