"""The forecast archive (table ``forecast``): storing every forecast file's rows, reading them back."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping, NamedTuple, Protocol

from homepower import schema
from homepower.dialects import parse_utc
from homepower.store.core import BATCH, Database, _float

if TYPE_CHECKING:
    from homepower.forecast_join import ArchivedForecast

FORECAST_READ_COLS = ("ts_utc", "issued_utc", "provider", "gr_w", "tc", "temp")


class PvForecast(NamedTuple):
    """One archived forecast of a PV service (``pv_forecast``): the hour's energy, kWh, as ``provider``
    issued it at ``issued_utc`` for the hour starting at ``ts_utc`` (naive UTC)."""

    provider: str
    ts_utc: datetime
    issued_utc: datetime
    kwh: float
    kwh_p10: float | None = None  # its quantiles, where the service gives them (Solcast)
    kwh_p90: float | None = None


class ForecastStore(Protocol):
    def store_forecasts(self, rows: Iterable[Mapping], table: str = "forecast") -> int: ...

    def forecast_count(self) -> tuple[int, int]: ...

    def read_forecasts(self, start: datetime, end: datetime, provider: str | None = None) -> list[ArchivedForecast]: ...

    def read_pv_forecasts(self, start: datetime, end: datetime) -> list[PvForecast]: ...


class ForecastQueries(Database):
    def store_forecasts(self, rows: Iterable[Mapping], table: str = "forecast") -> int:
        """Insert the archive rows (dicts of ``table``'s columns: ``forecast``, or ``pv_forecast`` for the
        PV services; any number, taken a batch at a time) not stored yet, in one transaction; returns how
        many the insert added. A row whose key (ts_utc, issued_utc, provider) is stored already is left as
        it was: the archive never rewrites what a forecast said. If ``rows`` raises (a bad file found half
        way), nothing of it is stored."""
        to_db = self.dialect.to_db
        sql: str | None = None
        cols: list[str] = []
        mysql = self.dialect.kind == "mysql"
        # The count is what this insert did, also while another run archives the same file: SQLite counts
        # each row it inserted (rowcount; writers take turns); on MariaDB the transaction's snapshot sees
        # its own rows and none that another run committed meanwhile, so the difference is exact.
        before = self._forecast_rows(table) if mysql else 0
        added = 0
        try:
            batch: list[Mapping] = []
            for row in itertools.chain(rows, [None]):  # None: flush the last batch
                if row is not None:
                    batch.append(row)
                    if len(batch) < BATCH:
                        continue
                if not batch:
                    continue
                if sql is None:
                    cols = list(batch[0].keys())
                    sql = self.dialect.insert_new_sql(table, cols, schema.key(table))
                added += self._run(sql, [tuple(to_db(r[c]) for c in cols) for r in batch], many=True, count=True)
                batch = []
            if mysql:
                added = self._forecast_rows(table) - before
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return added

    def _forecast_rows(self, table: str = "forecast") -> int:
        return int(self._run(f"SELECT COUNT(*) FROM {self.q(table)}", fetch=True)[0][0] or 0)

    def read_pv_forecasts(self, start: datetime, end: datetime) -> list[PvForecast]:
        """The PV services' archived forecasts of the hours starting in [start, end), sorted by hour and issue
        (the primary key's order). Every issue is read: choosing in SQL (window functions, date arithmetic)
        measured slower on SQLite than reading them all."""
        q, p = self.q, self.dialect.placeholder
        cols = ", ".join(q(c) for c in ("provider", "ts_utc", "issued_utc", "kwh", "kwh_p10", "kwh_p90"))
        sql = (
            f"SELECT {cols} FROM {q('pv_forecast')} WHERE {q('ts_utc')} >= {p} AND {q('ts_utc')} < {p} "
            f"AND {q('kwh')} IS NOT NULL ORDER BY {q('ts_utc')}, {q('issued_utc')}"
        )
        rows = self._run(sql, (self.dialect.to_db(start), self.dialect.to_db(end)), fetch=True)
        # A month holds a few thousand distinct times among ~60,000 rows: each parsed once.
        times: dict = {}

        def when(value: object) -> datetime:
            moment = times.get(value)
            if moment is None:
                moment = times[value] = parse_utc(value)
            return moment

        return [
            PvForecast(str(prov), when(ts), when(issued), float(kwh), _float(p10), _float(p90))
            for prov, ts, issued, kwh, p10, p90 in rows
        ]

    def forecast_count(self) -> tuple[int, int]:
        """(rows, distinct issue times) of the archive."""
        q = self.q
        rows = self._run(f"SELECT COUNT(*), COUNT(DISTINCT {q('issued_utc')}) FROM {q('forecast')}", fetch=True)
        return int(rows[0][0] or 0), int(rows[0][1] or 0)

    def read_forecasts(self, start: datetime, end: datetime, provider: str | None = None) -> list[ArchivedForecast]:
        """The archived forecasts of the hours starting in [start, end) (of ``provider`` when given)."""
        from homepower.forecast_join import ArchivedForecast

        q, p = self.q, self.dialect.placeholder
        where = f"{q('ts_utc')} >= {p} AND {q('ts_utc')} < {p}"
        params: list = [self.dialect.to_db(start), self.dialect.to_db(end)]
        if provider is not None:
            where += f" AND {q('provider')} = {p}"
            params.append(provider)
        sql = f"SELECT {', '.join(q(c) for c in FORECAST_READ_COLS)} FROM {q('forecast')} WHERE {where}"
        from solar3p.meteo import in_range  # a value archived before the file reader checked ranges: unknown

        out = []
        for ts, issued, prov, gr_w, tc, temp in self._run(sql, tuple(params), fetch=True):
            out.append(
                ArchivedForecast(
                    parse_utc(ts),
                    parse_utc(issued),
                    prov,
                    in_range("gr_w", _float(gr_w)),
                    in_range("tc", _float(tc)),
                    in_range("temp", _float(temp)),
                )
            )
        return out
