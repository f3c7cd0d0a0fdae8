"""Calibration's reads and writes: the hours it trains on, the ``kwh_fc`` it fills, the fits it stored."""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Protocol

from homepower.dialects import parse_utc
from homepower.store.core import BATCH, Database


class CalibrationStore(Protocol):
    def forecast_hours(self, start: datetime | None = None, end: datetime | None = None) -> list[dict]: ...

    def set_kwh_fc(self, values: Mapping[datetime, float | None]) -> int: ...

    def calibrations(self) -> list[dict]: ...


class CalibrationQueries(Database):
    def forecast_hours(self, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
        """pvhistory hours in [start, end) that have forecast weather (gr_w and temp), oldest first:
        what calibration trains on (with kwh_pv) and what it forecasts."""
        cols = ("ts_utc", "year", "month", "day", "hour", "gr_w", "tc", "temp", "kwh_pv", "kwh_fc", "flags")
        return [r for r in self.fetch("pvhistory", cols, start, end) if r["gr_w"] is not None and r["temp"] is not None]

    def set_kwh_fc(self, values: Mapping[datetime, float | None]) -> int:
        """Set ``kwh_fc`` of existing pvhistory hours (keyed by ``ts_utc``); other columns untouched."""
        p = self.dialect.placeholder
        sql = f"UPDATE {self.q('pvhistory')} SET {self.q('kwh_fc')} = {p} WHERE {self.q('ts_utc')} = {p}"
        items = [(v, self.dialect.to_db(k)) for k, v in values.items()]
        for start in range(0, len(items), BATCH):
            self._run(sql, items[start : start + BATCH], many=True)
        self.commit()
        return len(items)

    def calibrations(self) -> list[dict]:
        """Every stored calibration (``fitted_utc``, ``trained_to``, ``params`` JSON text), oldest first."""
        q = self.q
        sql = (
            f"SELECT {q('fitted_utc')}, {q('trained_from')}, {q('trained_to')}, {q('params')} "
            f"FROM {q('calibration')} ORDER BY {q('fitted_utc')}"
        )
        out = []
        for fitted, first, last, params in self._run(sql, (), fetch=True):
            out.append(
                {
                    "fitted_utc": parse_utc(fitted),
                    "trained_from": None if first is None else parse_utc(first),
                    "trained_to": None if last is None else parse_utc(last),
                    "params": params,
                }
            )
        return out
