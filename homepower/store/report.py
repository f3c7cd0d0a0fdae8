"""The report's reads (``pv_report.py``): the ``pvhistory`` rows it judges."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from homepower.dialects import parse_utc
from homepower.store.core import Database

if TYPE_CHECKING:  # the metrics' records cost the poll, which never reads the report, a tenth of its time
    from homepower.metrics import HourRow


class ReportStore(Protocol):
    def report_rows(self, start: datetime, end: datetime) -> list[HourRow]: ...

    def measured_span(self) -> tuple[datetime | None, datetime | None]: ...


class ReportQueries(Database):
    REPORT_COLS = (
        *("ts_utc", "year", "month", "day", "hour", "kwh_pv", "kwh_s3p", "kwh_fc", "forecast_issued", "flags"),
        *("kwh_fc_p10", "kwh_fc_p90"),
    )

    def report_rows(self, start: datetime, end: datetime) -> list[HourRow]:
        """pvhistory rows with ``start <= ts_utc < end`` as the report reads them, oldest first. A value
        that is not a number or a time (a row written by hand) raises ValueError or TypeError."""
        from homepower.metrics import HourRow

        rows = self.fetch("pvhistory", self.REPORT_COLS, start, end)
        for row in rows:
            if row["forecast_issued"] is not None:
                row["forecast_issued"] = parse_utc(row["forecast_issued"])
        return [HourRow.from_row(row) for row in rows]

    def measured_span(self) -> tuple[datetime | None, datetime | None]:
        """The first and last pvhistory hour (start, UTC) with a known kwh_pv; (None, None) when none."""
        sql = (
            f"SELECT MIN({self.q('ts_utc')}), MAX({self.q('ts_utc')}) FROM {self.q('pvhistory')} "
            f"WHERE {self.q('kwh_pv')} IS NOT NULL"
        )
        first, last = self._run(sql, fetch=True)[0]
        return (None if first is None else parse_utc(first)), (None if last is None else parse_utc(last))
