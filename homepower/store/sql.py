"""The whole store: ``SqlStore`` (every ``...Queries`` mixin on one connection), ``connect`` and the ``Store``
protocol. Importable as ``homepower.store`` (the package loads this module when one of these names is
first asked for); see the package's docstring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from homepower.store.calibration import CalibrationQueries, CalibrationStore
from homepower.store.core import CoreStore
from homepower.store.forecasts import ForecastQueries, ForecastStore
from homepower.store.history import HistoryQueries, HistoryStore
from homepower.store.panels import PanelQueries, PanelStore
from homepower.store.report import ReportQueries, ReportStore
from homepower.store.samples import SampleQueries, SampleStore
from homepower.store.status import StatusQueries, StatusStore

if TYPE_CHECKING:
    from homepower.settings import DatabaseConfig

__all__ = ["SqlStore", "Store", "connect"]


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
