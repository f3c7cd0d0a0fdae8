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
"""

from __future__ import annotations

from typing import Protocol
from zoneinfo import ZoneInfo

from homepower.settings import DatabaseConfig
from homepower.store.calibration import CalibrationQueries, CalibrationStore
from homepower.store.core import CoreStore, Database
from homepower.store.forecasts import ForecastQueries, ForecastStore
from homepower.store.history import HistoryQueries, HistoryStore
from homepower.store.panels import PanelHour, PanelQueries, PanelStore
from homepower.store.report import ReportQueries, ReportStore
from homepower.store.samples import SAMPLE_COLS, Sample, SampleQueries, SampleStore
from homepower.store.status import StatusQueries, StatusStore

__all__ = [
    "SAMPLE_COLS",
    "Database",
    "PanelHour",
    "Sample",
    "SqlStore",
    "Store",
    "connect",
]


class SqlStore(
    SampleQueries, HistoryQueries, ForecastQueries, CalibrationQueries, ReportQueries, StatusQueries, PanelQueries
):
    """The store on MySQL/MariaDB or SQLite: one open connection with the schema in place."""


def connect(
    config: DatabaseConfig, timezone: ZoneInfo | None = None, create: bool = True, existing: bool = False
) -> SqlStore:
    """Open the database, create missing tables and upgrade the original layout in place. ``existing``
    (readers such as the report): a SQLite file that does not exist is a ConfigError, never created."""
    return SqlStore.connect(config, timezone, create, existing)


class Store(
    CoreStore,
    SampleStore,
    HistoryStore,
    ForecastStore,
    CalibrationStore,
    ReportStore,
    StatusStore,
    PanelStore,
    Protocol,
):
    """Everything a use case may ask of the store."""

    @staticmethod
    def connect(
        config: DatabaseConfig, timezone: ZoneInfo | None = None, create: bool = True, existing: bool = False
    ) -> SqlStore:
        """``Store.connect(...)``, as the scripts have always opened it: ``homepower.store.connect``."""
        return SqlStore.connect(config, timezone, create, existing)
