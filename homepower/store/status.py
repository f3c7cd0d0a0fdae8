"""What ``pv_report.py --status`` asks: the newest forecast issue, the last fit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Sequence

from homepower.dialects import parse_utc
from homepower.store.core import Database, _float


def _time(value: Any) -> datetime | None:
    return None if value is None else parse_utc(value)


@dataclass(frozen=True, slots=True)
class NewestForecast:
    """The newest archived forecast issue and the hours it covers (hour starts, naive UTC)."""

    issued_utc: datetime
    provider: str | None
    first: datetime | None
    last: datetime | None

    @classmethod
    def from_row(cls, issued: Any, row: Sequence[Any]) -> NewestForecast:
        first, last, provider = row
        return cls(parse_utc(issued), None if provider is None else str(provider), _time(first), _time(last))


@dataclass(frozen=True, slots=True)
class LastCalibration:
    """The newest row of ``calibration`` (times naive UTC); ``params`` its JSON text, as stored."""

    fitted_utc: datetime
    trained_from: datetime | None
    trained_to: datetime | None
    hours: int | None
    nmae_pct: float | None
    params: str | None = None

    COLUMNS = ("fitted_utc", "trained_from", "trained_to", "hours", "nmae_pct", "params")

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LastCalibration:
        fitted, first, last, hours, nmae, params = row
        return cls(
            parse_utc(fitted),
            _time(first),
            _time(last),
            None if hours is None else int(hours),
            _float(nmae),
            None if params is None else str(params),
        )


class StatusStore(Protocol):
    def newest_forecast(self) -> NewestForecast | None: ...

    def last_calibration(self) -> LastCalibration | None: ...


class StatusQueries(Database):
    def _at_newest(self, table: str, col: str, select: str) -> tuple[Any, list] | None:
        """(the newest ``col`` of ``table`` as stored, ``select`` over the rows holding it), or None when empty."""
        newest = self._newest_raw(table, col)
        if newest is None:
            return None
        sql = f"SELECT {select} FROM {self.q(table)} WHERE {self.q(col)} = {self.dialect.placeholder}"
        return newest, self._run(sql, (newest,), fetch=True)

    def newest_forecast(self) -> NewestForecast | None:
        """The newest archived forecast issue: when, by whom, the first and last hour it covers."""
        q = self.q
        found = self._at_newest(
            "forecast", "issued_utc", f"MIN({q('ts_utc')}), MAX({q('ts_utc')}), MAX({q('provider')})"
        )
        return None if found is None else NewestForecast.from_row(found[0], found[1][0])

    def last_calibration(self) -> LastCalibration | None:
        """The newest row of ``calibration``, or None."""
        found = self._at_newest("calibration", "fitted_utc", ", ".join(self.q(c) for c in LastCalibration.COLUMNS))
        return LastCalibration.from_row(found[1][0]) if found is not None and found[1] else None
