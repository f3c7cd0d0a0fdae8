"""How far ``pvhistory`` is built: each hour's measured energy and flags, for the collector (which hours to
compute again), ``--status`` (which hours are missing, and why) and ``--publish`` (the last hour)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol

from homepower.store.core import Database, _float


@dataclass(frozen=True, slots=True)
class HourState:
    """A stored pvhistory hour: its start (naive UTC), measured kWh (None: NULL), flags (comma separated)."""

    ts_utc: datetime
    kwh_pv: float | None
    flags: frozenset[str]

    COLUMNS = ("ts_utc", "kwh_pv", "flags")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> HourState:
        text = row["flags"] or ""
        return cls(row["ts_utc"], _float(row["kwh_pv"]), frozenset(f.strip() for f in text.split(",") if f.strip()))


class HistoryStore(Protocol):
    def hour_states(self, start: datetime, end: datetime) -> list[HourState]: ...


class HistoryQueries(Database):
    def hour_states(self, start: datetime, end: datetime) -> list[HourState]:
        """The stored pvhistory hours with ``start <= ts_utc < end``, oldest first."""
        return [HourState.from_row(r) for r in self.fetch("pvhistory", HourState.COLUMNS, start, end)]
