"""What ``pv_report.py --status`` asks: hours still NULL, the newest forecast issue, the last fit."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from homepower.dialects import parse_utc
from homepower.store.core import Database


class StatusStore(Protocol):
    def null_hours(self, start: datetime, end: datetime) -> tuple[int, int]: ...

    def newest_forecast(self) -> dict | None: ...

    def last_calibration(self) -> dict | None: ...


class StatusQueries(Database):
    def null_hours(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(rows, rows with NULL kwh_pv) of pvhistory with ``start <= ts_utc < end``."""
        p = self.dialect.placeholder
        sql = (
            f"SELECT COUNT(*), SUM(CASE WHEN {self.q('kwh_pv')} IS NULL THEN 1 ELSE 0 END) "
            f"FROM {self.q('pvhistory')} WHERE {self.q('ts_utc')} >= {p} AND {self.q('ts_utc')} < {p}"
        )
        n, nulls = self._run(sql, (self.dialect.to_db(start), self.dialect.to_db(end)), fetch=True)[0]
        return int(n or 0), int(nulls or 0)

    def newest_forecast(self) -> dict | None:
        """The newest archived forecast issue: ``issued_utc``, ``provider``, ``first``/``last`` hour it covers."""
        issued = self._newest_raw("forecast", "issued_utc")
        if issued is None:
            return None
        p = self.dialect.placeholder
        sql = (
            f"SELECT MIN({self.q('ts_utc')}), MAX({self.q('ts_utc')}), MAX({self.q('provider')}) "
            f"FROM {self.q('forecast')} WHERE {self.q('issued_utc')} = {p}"
        )
        first, last, provider = self._run(sql, (issued,), fetch=True)[0]
        return {
            "issued_utc": parse_utc(issued),
            "provider": provider,
            "first": None if first is None else parse_utc(first),
            "last": None if last is None else parse_utc(last),
        }

    def last_calibration(self) -> dict | None:
        """The newest row of ``calibration`` (params left out), or None."""
        fitted = self._newest_raw("calibration", "fitted_utc")
        if fitted is None:
            return None
        cols = ("fitted_utc", "trained_from", "trained_to", "hours", "nmae_pct")
        p = self.dialect.placeholder
        sql = (
            f"SELECT {', '.join(self.q(c) for c in cols)} FROM {self.q('calibration')} "
            f"WHERE {self.q('fitted_utc')} = {p}"
        )
        rows = self._run(sql, (fitted,), fetch=True)
        if not rows:
            return None
        item = {c: self.dialect.from_db(v) for c, v in zip(cols, rows[0], strict=True)}
        for c in ("fitted_utc", "trained_from", "trained_to"):
            if item[c] is not None:
                item[c] = parse_utc(item[c])
        return item
