"""The panels' reads (``inverter_reading``, ``inverter_energy``): report spans and hourly figures per
micro-inverter. The poll writes them with the core's ``insert_new``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Sequence

from homepower.dialects import parse_utc
from homepower.store.core import Database


def _hour(bucket: Any, seen: dict[Any, datetime]) -> datetime:
    """An hour bucket of ``Dialect.hour_sql`` ("YYYY-MM-DD HH") as the naive UTC hour start (``seen``: the
    buckets met already; every panel repeats them, and strptime is slow)."""
    found = seen.get(bucket)
    if found is None:
        t = bucket.decode() if isinstance(bucket, (bytes, bytearray)) else str(bucket)
        found = seen[bucket] = datetime(int(t[0:4]), int(t[5:7]), int(t[8:10]), int(t[11:13]))
    return found


class PanelStore(Protocol):
    def panel_spans(self) -> dict[str, tuple[datetime, datetime]]: ...

    def first_panel_poll(self) -> datetime | None: ...

    def panel_hours(
        self, serials: Sequence[str], start: datetime, end: datetime, energy: bool = False
    ) -> list[tuple[str, datetime, float, float]]: ...


class PanelQueries(Database):
    def panel_spans(self) -> dict[str, tuple[datetime, datetime]]:
        """Each micro-inverter's first and last report time (naive UTC) in ``inverter_reading`` or (listed only
        in device_data) ``inverter_energy``, from the primary keys' indexes."""
        q = self.q
        spans: dict[str, tuple[datetime, datetime]] = {}
        for table, col in (("inverter_energy", "end_utc"), ("inverter_reading", "report_utc")):
            sql = f"SELECT {q('serial')}, MIN({q(col)}), MAX({q(col)}) FROM {q(table)} GROUP BY {q('serial')}"
            for serial, first, last in self._run(sql, fetch=True):
                spans[str(serial)] = (parse_utc(first), parse_utc(last))
        return spans

    def first_panel_poll(self) -> datetime | None:
        """When the record of the panels began: the first poll that stored a report."""
        return self.newest("inverter_reading", "ts_utc", oldest=True)

    def panel_hours(
        self, serials: Sequence[str], start: datetime, end: datetime, energy: bool = False
    ) -> list[tuple[str, datetime, float, float]]:
        """Per micro-inverter and UTC hour with ``start <= hour < end``: (serial, hour start, mean reported W,
        highest reported W) from ``inverter_reading``; with ``energy``, (serial, hour start, Wh, seconds)
        from ``inverter_energy`` (intervals by their end). Only ``serials`` (the key's index serves each)."""
        if not serials:
            return []
        q, p = self.q, self.dialect.placeholder
        table, when = ("inverter_energy", "end_utc") if energy else ("inverter_reading", "report_utc")
        values = f"SUM({q('wh')}), SUM({q('seconds')})" if energy else f"AVG({q('watts')}), MAX({q('watts')})"
        hour = self.dialect.hour_sql(q(when))
        out: list[tuple[str, datetime, float, float]] = []
        seen: dict[Any, datetime] = {}
        for first in range(0, len(serials), 500):  # bound the statement's parameters
            some = list(serials[first : first + 500])
            sql = (
                f"SELECT {q('serial')}, {hour}, {values} FROM {q(table)} "
                f"WHERE {q('serial')} IN ({self.dialect.params(len(some))}) AND {q(when)} >= {p} AND {q(when)} < {p} "
                f"GROUP BY {q('serial')}, {hour}"
            )
            params = (*some, self.dialect.to_db(start), self.dialect.to_db(end))
            for serial, bucket, a, b in self._run(sql, params, fetch=True):
                if a is None:
                    continue
                out.append((str(serial), _hour(bucket, seen), float(a), float(b or 0.0)))
        return out
