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
    """The newest row of ``calibration``, its params left out (times naive UTC)."""

    fitted_utc: datetime
    trained_from: datetime | None
    trained_to: datetime | None
    hours: int | None
    nmae_pct: float | None

    COLUMNS = ("fitted_utc", "trained_from", "trained_to", "hours", "nmae_pct")

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LastCalibration:
        fitted, first, last, hours, nmae = row
        return cls(parse_utc(fitted), _time(first), _time(last), None if hours is None else int(hours), _float(nmae))


class StatusStore(Protocol):
    def newest_forecast(self) -> NewestForecast | None: ...

    def last_calibration(self) -> LastCalibration | None: ...


class StatusQueries(Database):
    def newest_forecast(self) -> NewestForecast | None:
        """The newest archived forecast issue: when, by whom, the first and last hour it covers."""
        issued = self._newest_raw("forecast", "issued_utc")
        if issued is None:
            return None
        p = self.dialect.placeholder
        sql = (
            f"SELECT MIN({self.q('ts_utc')}), MAX({self.q('ts_utc')}), MAX({self.q('provider')}) "
            f"FROM {self.q('forecast')} WHERE {self.q('issued_utc')} = {p}"
        )
        return NewestForecast.from_row(issued, self._run(sql, (issued,), fetch=True)[0])

    def last_calibration(self) -> LastCalibration | None:
        """The newest row of ``calibration`` (params left out), or None."""
        fitted = self._newest_raw("calibration", "fitted_utc")
        if fitted is None:
            return None
        p = self.dialect.placeholder
        sql = (
            f"SELECT {', '.join(self.q(c) for c in LastCalibration.COLUMNS)} FROM {self.q('calibration')} "
            f"WHERE {self.q('fitted_utc')} = {p}"
        )
        rows = self._run(sql, (fitted,), fetch=True)
        return LastCalibration.from_row(rows[0]) if rows else None
