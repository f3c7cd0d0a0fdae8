"""The panels' reads (``inverter_reading``, ``inverter_energy``): report spans and hourly figures per
micro-inverter. The poll writes them with the core's ``insert_new``."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol, Sequence
from zoneinfo import ZoneInfo

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


def _day(value: Any, seen: dict[Any, date]) -> date:
    """A ``Dialect.day_sql`` value (a date, or its ISO text) as a date."""
    found = seen.get(value)
    if found is None:
        found = seen[value] = value if isinstance(value, date) else date.fromisoformat(str(value))
    return found


def offset_spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime, int]]:
    """[start, end) (naive UTC) cut where ``tz``'s UTC offset changes: (from, to, offset in minutes)."""
    out: list[tuple[datetime, datetime, int]] = []
    t = start
    while t < end:
        offset = t.replace(tzinfo=timezone.utc).astimezone(tz).utcoffset()
        minutes = int((offset or timedelta()).total_seconds() // 60)
        if out and out[-1][2] == minutes:
            out[-1] = (out[-1][0], min(t + timedelta(hours=1), end), minutes)
        else:
            out.append((t, min(t + timedelta(hours=1), end), minutes))
        t += timedelta(hours=1)
    return out


class PanelHour(NamedTuple):
    """One micro-inverter's UTC hour (naive UTC start). From ``inverter_reading``: ``wh`` is the mean reported
    W (over an hour, its Wh) and ``max_watts`` the highest; from ``inverter_energy``: ``wh`` the Wh of the
    intervals ending in it and ``seconds`` what they cover."""

    serial: str
    hour_utc: datetime
    wh: float
    max_watts: float | None = None
    seconds: float | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any], seen: dict[Any, datetime], energy: bool) -> PanelHour:
        serial, bucket, a, b = row
        hour = _hour(bucket, seen)
        if energy:
            return cls(str(serial), hour, float(a), seconds=float(b or 0.0))
        return cls(str(serial), hour, float(a), max_watts=None if b is None else float(b))


class PanelStore(Protocol):
    def panel_serials(self, table: str = "inverter_reading") -> list[str]: ...

    def panel_spans(self) -> dict[str, tuple[datetime, datetime]]: ...

    def roll_up_panels(self, settled: datetime) -> int: ...

    def panel_rolled_hours(
        self, serials: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, float]]: ...

    def first_panel_poll(self) -> datetime | None: ...

    def panel_days(
        self, serials: Sequence[str], start: datetime, end: datetime, tz: ZoneInfo
    ) -> list[tuple[str, date, float]]: ...

    def panel_last_powered(
        self, serials: Sequence[str], start: datetime, end: datetime, min_wh: float
    ) -> dict[str, datetime]: ...

    def panel_hours(
        self, serials: Sequence[str], start: datetime, end: datetime, energy: bool = False
    ) -> list[PanelHour]: ...


class PanelQueries(Database):
    def panel_serials(self, table: str = "inverter_reading") -> list[str]:
        """The serials of ``table``, one index seek each (a plain DISTINCT on SQLite would read every one of a
        year's million reports)."""
        return [str(r[0]) for r in self._run(self.dialect.distinct_sql(self.q("serial"), self.q(table)), fetch=True)]

    def panel_spans(self) -> dict[str, tuple[datetime, datetime]]:
        """Each micro-inverter's first and last report time (naive UTC) in ``inverter_reading`` or (listed only
        in device_data) ``inverter_energy``: two index seeks per serial."""
        q, p = self.q, self.dialect.placeholder
        spans: dict[str, tuple[datetime, datetime]] = {}
        for table, col in (("inverter_energy", "end_utc"), ("inverter_reading", "report_utc")):
            # MIN and MAX apart: each alone is one seek of the index, together a scan of the serial's rows
            ends = [f"SELECT {agg}({q(col)}) FROM {q(table)} WHERE {q('serial')} = {p}" for agg in ("MIN", "MAX")]
            for serial in self.panel_serials(table):
                first, last = (self._run(sql, (serial,), fetch=True)[0][0] for sql in ends)
                if first is not None:
                    spans[serial] = (parse_utc(first), parse_utc(last))
        return spans

    def first_panel_poll(self) -> datetime | None:
        """When the record of the panels began: the first poll that stored a report (it stored the first report
        of every micro-inverter listed then), from each serial's first report."""
        q, p = self.q, self.dialect.placeholder
        sql = (
            f"SELECT {q('ts_utc')} FROM {q('inverter_reading')} WHERE {q('serial')} = {p} "
            f"ORDER BY {q('report_utc')} LIMIT 1"
        )
        seen = []
        for serial in self.panel_serials():
            rows = self._run(sql, (serial,), fetch=True)
            if rows and rows[0][0] is not None:
                seen.append(parse_utc(rows[0][0]))
        return min(seen, default=None)

    def roll_up_panels(self, settled: datetime) -> int:
        """Sum up ``inverter_reading`` per micro-inverter and UTC hour into ``inverter_hour`` for the hours
        before ``settled`` (naive UTC: no report of them will come any more) not summed up yet, each serial from
        its last summed hour on: a year's backlog once, then a few hours a run. Returns the rows added."""
        q, p = self.q, self.dialect.placeholder
        marks = {
            str(serial): parse_utc(last)
            for serial, last in self._run(
                f"SELECT {q('serial')}, MAX({q('hour_utc')}) FROM {q('inverter_hour')} GROUP BY {q('serial')}",
                fetch=True,
            )
        }
        serials = self.panel_serials()  # index seeks; on SQLite DISTINCT read all of a year's reports every run
        hour = self.dialect.hour_sql(q("report_utc"))
        seen: dict[Any, datetime] = {}
        rows: list[dict] = []
        added = 0
        for serial in serials:
            mark = marks.get(serial)
            start = mark + timedelta(hours=1) if mark is not None else datetime(2000, 1, 1)
            if start >= settled:
                continue
            sql = (
                f"SELECT {hour}, AVG({q('watts')}), MAX({q('watts')}), COUNT(*) FROM {q('inverter_reading')} "
                f"WHERE {q('serial')} = {p} AND {q('report_utc')} >= {p} AND {q('report_utc')} < {p} GROUP BY {hour}"
            )
            params = (serial, self.dialect.to_db(start), self.dialect.to_db(settled))
            for bucket, mean, top, count in self._run(sql, params, fetch=True):
                if mean is None:
                    continue
                rows.append(
                    {
                        "serial": serial,
                        "hour_utc": _hour(bucket, seen),
                        "wh": float(mean),
                        "max_watts": float(top),
                        "reports": int(count),
                    }
                )
            if len(rows) >= 20000:
                added += self.insert_new("inverter_hour", rows)
                rows = []
        return added + self.insert_new("inverter_hour", rows)

    def panel_rolled_hours(
        self, serials: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[str, datetime, float]]:
        """(serial, hour start, Wh) of ``inverter_hour`` with ``start <= hour < end`` (naive UTC)."""
        q = self.q
        seen: dict[Any, datetime] = {}
        select = f"{q('serial')}, {self.dialect.hour_sql(q('hour_utc'))}, {q('wh')}"
        return [
            (str(serial), _hour(bucket, seen), float(wh))
            for serial, bucket, wh in self._per_serials(select, "inverter_hour", "hour_utc", serials, start, end)
            if wh is not None
        ]

    def panel_days(
        self, serials: Sequence[str], start: datetime, end: datetime, tz: ZoneInfo
    ) -> list[tuple[str, date, float]]:
        """(serial, local day, Wh) of ``inverter_hour`` with ``start <= hour < end`` (naive UTC), summed per
        local day in the database: a year of 30 panels is 11,000 rows instead of 140,000 hours (2.5 s of
        MariaDB's connector). A day cut by ``start``, ``end`` or a change of UTC offset comes in parts."""
        q = self.q
        seen: dict[Any, date] = {}
        out: list[tuple[str, date, float]] = []
        for first, last, minutes in offset_spans(start, end, tz):
            day = self.dialect.day_sql(q("hour_utc"), minutes)
            rows = self._per_serials(
                f"{q('serial')}, {day}, SUM({q('wh')})",
                "inverter_hour",
                "hour_utc",
                serials,
                first,
                last,
                f" GROUP BY {q('serial')}, {day}",
            )
            out += [(str(s), _day(d, seen), float(wh)) for s, d, wh in rows if wh is not None]
        return out

    def panel_last_powered(
        self, serials: Sequence[str], start: datetime, end: datetime, min_wh: float
    ) -> dict[str, datetime]:
        """Each serial's last hour of ``inverter_hour`` in [start, end) (naive UTC) with at least ``min_wh``."""
        q = self.q
        tail = f" AND {q('wh')} >= {float(min_wh)!r} GROUP BY {q('serial')}"
        rows = self._per_serials(
            f"{q('serial')}, MAX({q('hour_utc')})", "inverter_hour", "hour_utc", serials, start, end, tail
        )
        return {str(s): parse_utc(h) for s, h in rows if h is not None}

    def panel_hours(
        self, serials: Sequence[str], start: datetime, end: datetime, energy: bool = False
    ) -> list[PanelHour]:
        """Per micro-inverter and UTC hour with ``start <= hour < end``, from ``inverter_reading`` or, with
        ``energy``, ``inverter_energy`` (intervals by their end). Only ``serials`` (the key's index serves
        each)."""
        q = self.q
        table, when = ("inverter_energy", "end_utc") if energy else ("inverter_reading", "report_utc")
        values = f"SUM({q('wh')}), SUM({q('seconds')})" if energy else f"AVG({q('watts')}), MAX({q('watts')})"
        hour = self.dialect.hour_sql(q(when))
        rows = self._per_serials(
            f"{q('serial')}, {hour}, {values}", table, when, serials, start, end, f" GROUP BY {q('serial')}, {hour}"
        )
        seen: dict[Any, datetime] = {}
        return [PanelHour.from_row(r, seen, energy) for r in rows if r[2] is not None]

    def _per_serials(
        self,
        select: str,
        table: str,
        when: str,
        serials: Sequence[str],
        start: datetime,
        end: datetime,
        tail: str = "",
    ) -> list[Any]:
        """``SELECT select FROM table`` over the rows of ``serials`` with ``start <= when < end`` (naive UTC),
        then ``tail``: 500 serials a statement, to bound its parameters (the key's index serves each)."""
        q, p = self.q, self.dialect.placeholder
        out: list[Any] = []
        for first in range(0, len(serials), 500):
            some = list(serials[first : first + 500])
            sql = (
                f"SELECT {select} FROM {q(table)} WHERE {q('serial')} IN ({self.dialect.params(len(some))}) "
                f"AND {q(when)} >= {p} AND {q(when)} < {p}{tail}"
            )
            out += self._run(sql, (*some, self.dialect.to_db(start), self.dialect.to_db(end)), fetch=True)
        return out
