"""Calibration's reads and writes: the hours it trains on, the ``kwh_fc`` it fills, the fits it stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

from homepower.dialects import parse_utc
from homepower.store.core import BATCH, Database, _float


@dataclass(frozen=True, slots=True)
class ForecastHour:
    """A pvhistory hour that has forecast weather: ``ts_utc`` its start (naive UTC), ``year month day
    hour`` local; irradiance W/m², cloud cover %, temperature °C; energies kWh; ``flags`` as stored."""

    ts_utc: datetime
    year: int
    month: int
    day: int
    hour: int
    gr_w: float
    tc: float | None
    temp: float
    kwh_pv: float | None
    kwh_fc: float | None
    flags: str | None
    forecast_issued: datetime | None = None  # when the forecast was issued (naive UTC)

    COLUMNS = (
        *("ts_utc", "year", "month", "day", "hour", "gr_w", "tc", "temp", "kwh_pv", "kwh_fc", "flags"),
        "forecast_issued",
    )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ForecastHour:
        """From the store's row of ``COLUMNS`` (``gr_w`` and ``temp`` known)."""
        return cls(
            ts_utc=row["ts_utc"],
            year=int(row["year"]),
            month=int(row["month"]),
            day=int(row["day"]),
            hour=int(row["hour"]),
            gr_w=float(row["gr_w"]),
            tc=_float(row["tc"]),
            temp=float(row["temp"]),
            kwh_pv=_float(row["kwh_pv"]),
            kwh_fc=_float(row["kwh_fc"]),
            flags=row["flags"],
            forecast_issued=None if row.get("forecast_issued") is None else parse_utc(row["forecast_issued"]),
        )


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """One row of ``calibration``: when it was fitted, the hours it learned from (naive UTC), and the
    calibration itself as JSON text (``solar3p.calibrate.Calibration.from_json``)."""

    fitted_utc: datetime
    trained_from: datetime | None
    trained_to: datetime | None
    params: str | None

    COLUMNS = ("fitted_utc", "trained_from", "trained_to", "params")

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StoredCalibration:
        fitted, first, last, params = row
        return cls(
            fitted_utc=parse_utc(fitted),
            trained_from=None if first is None else parse_utc(first),
            trained_to=None if last is None else parse_utc(last),
            params=None if params is None else str(params),
        )


class CalibrationStore(Protocol):
    def forecast_hours(self, start: datetime | None = None, end: datetime | None = None) -> list[ForecastHour]: ...

    def set_kwh_fc(self, values: Mapping[datetime, tuple[float | None, float | None, float | None]]) -> int: ...

    def calibrations(self) -> list[StoredCalibration]: ...


class CalibrationQueries(Database):
    def forecast_hours(self, start: datetime | None = None, end: datetime | None = None) -> list[ForecastHour]:
        """pvhistory hours in [start, end) that have forecast weather (gr_w and temp), oldest first:
        what calibration trains on (with kwh_pv) and what it forecasts."""
        rows = self.fetch("pvhistory", ForecastHour.COLUMNS, start, end)
        return [ForecastHour.from_row(r) for r in rows if r["gr_w"] is not None and r["temp"] is not None]

    def set_kwh_fc(self, values: Mapping[datetime, tuple[float | None, float | None, float | None]]) -> int:
        """Set ``kwh_fc``, ``kwh_fc_p10``, ``kwh_fc_p90`` of existing pvhistory hours (keyed by ``ts_utc``);
        other columns untouched."""
        p = self.dialect.placeholder
        sets = ", ".join(f"{self.q(c)} = {p}" for c in ("kwh_fc", "kwh_fc_p10", "kwh_fc_p90"))
        sql = f"UPDATE {self.q('pvhistory')} SET {sets} WHERE {self.q('ts_utc')} = {p}"
        items = [(*v, self.dialect.to_db(k)) for k, v in values.items()]
        for start in range(0, len(items), BATCH):
            self._run(sql, items[start : start + BATCH], many=True)
        self.commit()
        return len(items)

    def calibrations(self) -> list[StoredCalibration]:
        """Every stored calibration, oldest first."""
        q = self.q
        sql = (
            f"SELECT {', '.join(q(c) for c in StoredCalibration.COLUMNS)} "
            f"FROM {q('calibration')} ORDER BY {q('fitted_utc')}"
        )
        return [StoredCalibration.from_row(row) for row in self._run(sql, (), fetch=True)]
