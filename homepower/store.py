"""The database: MySQL/MariaDB (mysql-connector-python) or SQLite, chosen by DATABASE_URL.

Times go in and come out as naive UTC ``datetime`` (the tables' ``ts_utc``). Every write is an upsert
keyed on ``ts_utc``, sent in batches inside one transaction. Connection failures and a database that
goes away raise ``StoreUnavailable`` (exit 75); the caller decides what that means (the poller spools).
"""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from homepower import schema
from homepower.dialects import Dialect, for_kind, parse_utc
from homepower.errors import ConfigError, StoreRejected, StoreUnavailable
from homepower.settings import DatabaseConfig

if TYPE_CHECKING:
    from homepower.forecast_join import ArchivedForecast

log = logging.getLogger(__name__)

# MySQL/MariaDB errors that a setting causes, not an outage (exit 78): access denied for the user (1045,
# 1698 for a unix-socket user), to the database (1044), unknown database (1049), an account that is locked
# (3118) or whose password expired (1820, 1862).
REJECTED_ERRNOS = (1044, 1045, 1049, 1698, 1820, 1862, 3118)
# A statement the user may not run (a GRANT without CREATE, ALTER or DROP): also a setting to fix (78).
PRIVILEGE_ERRNOS = (1044, 1142, 1143, 1227, 1370)
BATCH = 2000  # rows per executemany: large enough to amortise round trips, small enough for max_allowed_packet


_EPOCH = datetime(1970, 1, 1)


class Sample(NamedTuple):
    """One gateway reading as the collector needs it: ``t`` unix seconds; lifetime counters in Wh
    (None where the source or meter has none)."""

    t: float
    wh: float | None  # wattHoursLifetime (production)
    exported: float | None  # whExportedLifetime (net-consumption meter: to the grid)
    imported: float | None  # whImportedLifetime (net-consumption meter: from the grid)
    consumed: float | None  # whConsumedLifetime (total-consumption meter: the house's use)
    source: str | None


SAMPLE_COLS = (
    "ts_utc",
    "wattHoursLifetime",
    "whExportedLifetime",
    "whImportedLifetime",
    "whConsumedLifetime",
    "source",
)
FORECAST_READ_COLS = ("ts_utc", "issued_utc", "provider", "gr_w", "tc", "temp")


def _epoch(naive_utc: datetime) -> float:
    return (naive_utc - _EPOCH).total_seconds()


def _hour(bucket: Any) -> datetime:
    """An hour bucket of ``Dialect.hour_sql`` ("YYYY-MM-DD HH") as the naive UTC hour start."""
    text = bucket.decode() if isinstance(bucket, (bytes, bytearray)) else str(bucket)
    return datetime.strptime(text[:13], "%Y-%m-%d %H")


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _mysql_errors():
    import mysql.connector.errors as errors

    return errors


class Store:
    """One open connection with the schema in place."""

    def __init__(self, conn, dialect: Dialect, config: DatabaseConfig):
        self.conn = conn
        self.dialect = dialect
        self.config = config

    # -- lifecycle -----------------------------------------------------------------------------
    @classmethod
    def connect(
        cls, config: DatabaseConfig, timezone: ZoneInfo | None = None, create: bool = True, existing: bool = False
    ) -> "Store":
        """Open the database, create missing tables and upgrade the original layout in place. ``existing``
        (readers such as the report): a SQLite file that does not exist is a ConfigError, never created."""
        conn = _open_sqlite(config, existing) if config.kind == "sqlite" else _open_mysql(config)
        store = cls(conn, for_kind(config.kind), config)
        if create:
            store.ensure_schema(timezone or ZoneInfo("UTC"))
        return store

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a dead connection must not mask the real error
            pass

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------------
    def table_columns(self, table: str) -> list[str]:
        sql, params = self.dialect.columns_sql(table)
        return [row[0] for row in self._run(sql, params, fetch=True)]

    def ensure_schema(self, timezone: ZoneInfo) -> None:
        """Create missing tables, upgrade the original layout, add columns added since."""
        for table in schema.TABLES:
            existing = self.table_columns(table)
            if existing and schema.KEY not in existing and schema.KEY in schema.KEYS[table]:
                from homepower import upgrade  # only on the rare first run against the original tables

                upgrade.upgrade_table(self, table, existing, timezone)
                existing = self.table_columns(table)
            if not existing:
                self._run(schema.create_sql(table, self.dialect.kind))
                continue
            for name, coltype in schema.TABLES[table]:
                if name not in existing:
                    coltype = coltype.replace("NOT NULL", "NULL")
                    self._run(f"ALTER TABLE {self.q(table)} ADD COLUMN {self.q(name)} {coltype}")
        self.commit()

    def q(self, name: str) -> str:
        """Quote an identifier (both dialects accept backticks)."""
        return f"`{name}`"

    # -- reads and writes ----------------------------------------------------------------------
    def upsert(
        self,
        table: str,
        rows: Iterable[Mapping],
        keep: tuple[str, ...] = ("created",),
        commit: bool = True,
        key: tuple[str, ...] | None = None,
    ) -> int:
        """Insert or replace ``rows`` (dicts with the same keys) keyed on the table's primary key
        (``schema.KEYS``, or ``key`` for a table of another name); returns the count.

        Columns named in ``keep`` keep their stored value when a row is replaced."""
        rows = list(rows)
        if not rows:
            return 0
        cols = list(rows[0].keys())
        sql = self.dialect.upsert_sql(table, cols, key or schema.key(table), keep)
        to_db = self.dialect.to_db
        for start in range(0, len(rows), BATCH):
            chunk = [tuple(to_db(row[c]) for c in cols) for row in rows[start : start + BATCH]]
            self._run(sql, chunk, many=True)
        if commit:
            self.commit()
        return len(rows)

    def fetch(
        self, table: str, cols: Sequence[str], start: datetime | None = None, end: datetime | None = None
    ) -> list[dict]:
        """Rows of ``table`` with ``start <= ts_utc < end`` (either bound optional), oldest first."""
        key, p = self.q(schema.KEY), self.dialect.placeholder
        where, params = [], []
        if start is not None:
            where.append(f"{key} >= {p}")
            params.append(self.dialect.to_db(start))
        if end is not None:
            where.append(f"{key} < {p}")
            params.append(self.dialect.to_db(end))
        sql = f"SELECT {', '.join(self.q(c) for c in cols)} FROM {self.q(table)}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {key}"
        from_db = self.dialect.from_db
        # SQLite hands back a time as its text: the table's DATETIME/TIMESTAMP columns come back as times.
        types = dict(schema.TABLES.get(table, []))
        times = {c for c in cols if types.get(c, "").startswith(("DATETIME", "TIMESTAMP"))} | {schema.KEY}
        out = []
        for row in self._run(sql, tuple(params), fetch=True):
            item = {c: from_db(v) for c, v in zip(cols, row, strict=True)}
            for c in times & item.keys():
                if isinstance(item[c], str):
                    item[c] = parse_utc(item[c])
            out.append(item)
        return out

    # -- the report's reads (pv_report.py) ------------------------------------------------------
    REPORT_COLS = ("ts_utc", "year", "month", "day", "hour", "kwh_pv", "kwh_s3p", "kwh_fc", "forecast_issued", "flags")

    def report_rows(self, start: datetime, end: datetime) -> list[dict]:
        """pvhistory rows with ``start <= ts_utc < end`` as the report reads them, oldest first."""
        rows = self.fetch("pvhistory", self.REPORT_COLS, start, end)
        for row in rows:
            if row["forecast_issued"] is not None:
                row["forecast_issued"] = parse_utc(row["forecast_issued"])
        return rows

    def measured_span(self) -> tuple[datetime | None, datetime | None]:
        """The first and last pvhistory hour (start, UTC) with a known kwh_pv; (None, None) when none."""
        sql = (
            f"SELECT MIN({self.q('ts_utc')}), MAX({self.q('ts_utc')}) FROM {self.q('pvhistory')} "
            f"WHERE {self.q('kwh_pv')} IS NOT NULL"
        )
        first, last = self._run(sql, fetch=True)[0]
        return (None if first is None else parse_utc(first)), (None if last is None else parse_utc(last))

    def newest(self, table: str, col: str = "ts_utc", oldest: bool = False) -> datetime | None:
        """The largest (``oldest``: smallest) ``col`` (a DATETIME) of ``table``, or None when it is empty."""
        value = self._newest_raw(table, col, "MIN" if oldest else "MAX")
        return None if value is None else parse_utc(value)

    def _newest_raw(self, table: str, col: str, agg: str = "MAX"):
        rows = self._run(f"SELECT {agg}({self.q(col)}) FROM {self.q(table)}", fetch=True)
        return rows[0][0] if rows else None

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

    # -- calibration ---------------------------------------------------------------------------
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

    # -- samples (enphase_production) ---------------------------------------------------------
    def read_samples(self, start: datetime, end: datetime) -> list[Sample]:
        """Every sample with ``start <= ts_utc < end``, oldest first, in one query."""
        q, p = self.q, self.dialect.placeholder
        if self.dialect.kind == "sqlite":
            # SQLite keeps DATETIME as the text inserted (see parse_utc): the index narrows to whole
            # days (any ISO text of a day sorts between that day's date and the next's), the exact
            # bounds are applied to the parsed times.
            lo: Any = (start - timedelta(days=1)).strftime("%Y-%m-%d")
            hi: Any = (end + timedelta(days=1)).strftime("%Y-%m-%d")
            cols = ", ".join(q(c) for c in SAMPLE_COLS)
        else:
            lo, hi = self.dialect.to_db(start), self.dialect.to_db(end)
            # Numbers as DOUBLE and the time as unix seconds: no Decimal or datetime per value.
            cols = ", ".join(
                [f"UNIX_TIMESTAMP({q('ts_utc')})"] + [f"{q(c)} + 0E0" for c in SAMPLE_COLS[1:-1]] + [q("source")]
            )
        sql = (
            f"SELECT {cols} FROM {q('enphase_production')} "
            f"WHERE {q('ts_utc')} >= {p} AND {q('ts_utc')} < {p} ORDER BY {q('ts_utc')}"
        )
        lo_s, hi_s = _epoch(start), _epoch(end)
        out = [self._sample(row) for row in self._run(sql, (lo, hi), fetch=True)]
        out = [s for s in out if lo_s <= s.t < hi_s]
        out.sort(key=lambda s: s.t)
        return out

    def _sample(self, row: Sequence) -> Sample:
        ts, wh, exported, imported, consumed, source = row
        # unix seconds (MySQL's UNIX_TIMESTAMP, or already converted), else a stored time in any form
        t = _epoch(parse_utc(ts)) if isinstance(ts, (str, datetime)) else float(ts)
        return Sample(t, _float(wh), _float(exported), _float(imported), _float(consumed), source)

    def edge_samples(self, t: datetime, side: str) -> list[Sample]:
        """The nearest sample of each source before (``side`` "before") or at-or-after ("after") ``t``,
        and the nearest carrying each meter counter, whatever its source."""
        p, q = self.dialect.placeholder, self.q
        agg, cmp = ("MAX", "<") if side == "before" else ("MIN", ">=")
        # SQLite: compare as times, not as whatever text was inserted (see parse_utc).
        when = f"datetime({q('ts_utc')})" if self.dialect.kind == "sqlite" else q("ts_utc")
        meters = ", ".join(
            f"{agg}(CASE WHEN {q(c)} IS NOT NULL THEN {q('ts_utc')} END)"
            for c in ("whExportedLifetime", "whImportedLifetime", "whConsumedLifetime")
        )
        sql = (
            f"SELECT {agg}(CASE WHEN {q('wattHoursLifetime')} IS NOT NULL THEN {q('ts_utc')} END), {meters} "
            f"FROM {q('enphase_production')} WHERE {when} {cmp} {p} GROUP BY {q('source')}"
        )
        found = self._run(sql, (self.dialect.to_db(t),), fetch=True)
        stamps = sorted({v for row in found for v in row if v is not None})
        if not stamps:
            return []
        sql = (
            f"SELECT {', '.join(q(c) for c in SAMPLE_COLS)} FROM {q('enphase_production')} "
            f"WHERE {q('ts_utc')} IN ({self.dialect.params(len(stamps))}) ORDER BY {q('ts_utc')}"
        )
        out = []
        for row in self._run(sql, tuple(stamps), fetch=True):
            ts = parse_utc(row[0])
            out.append(self._sample((_epoch(ts),) + tuple(row[1:])))
        return sorted(out, key=lambda s: s.t)

    # -- the forecast archive ------------------------------------------------------------------
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

    def read_pv_forecasts(self, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime, float]]:
        """The PV services' archived forecasts of the hours starting in [start, end): (provider, ts_utc,
        issued_utc, kwh), sorted by provider, hour and issue."""
        q, p = self.q, self.dialect.placeholder
        cols = ", ".join(q(c) for c in ("provider", "ts_utc", "issued_utc", "kwh"))
        sql = (
            f"SELECT {cols} FROM {q('pv_forecast')} WHERE {q('ts_utc')} >= {p} AND {q('ts_utc')} < {p} "
            f"AND {q('kwh')} IS NOT NULL ORDER BY {q('provider')}, {q('ts_utc')}, {q('issued_utc')}"
        )
        rows = self._run(sql, (self.dialect.to_db(start), self.dialect.to_db(end)), fetch=True)
        return [(str(prov), parse_utc(ts), parse_utc(issued), float(kwh)) for prov, ts, issued, kwh in rows]

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
        out = []
        for ts, issued, prov, gr_w, tc, temp in self._run(sql, tuple(params), fetch=True):
            out.append(ArchivedForecast(parse_utc(ts), parse_utc(issued), prov, _float(gr_w), _float(tc), _float(temp)))
        return out

    # -- panels (inverter_reading, inverter_energy) ---------------------------------------------
    def insert_new(self, table: str, rows: Sequence[Mapping]) -> int:
        """Insert the ``rows`` whose key is not stored yet, in one transaction; a stored row stays as it was
        (a report seen by several polls keeps the poll that first saw it). Returns how many were new."""
        if not rows:
            return 0
        cols = list(rows[0].keys())
        sql = self.dialect.insert_new_sql(table, cols, schema.key(table))
        to_db = self.dialect.to_db
        try:
            added = 0
            for start in range(0, len(rows), BATCH):
                chunk = [tuple(to_db(r[c]) for c in cols) for r in rows[start : start + BATCH]]
                added += self._run(sql, chunk, many=True, count=True)
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return added

    def panel_spans(self) -> dict[str, tuple[datetime, datetime]]:
        """Each micro-inverter's first and last report time (naive UTC), from the primary key's index."""
        q = self.q
        sql = (
            f"SELECT {q('serial')}, MIN({q('report_utc')}), MAX({q('report_utc')}) "
            f"FROM {q('inverter_reading')} GROUP BY {q('serial')}"
        )
        return {str(s): (parse_utc(a), parse_utc(b)) for s, a, b in self._run(sql, fetch=True)}

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
                out.append((str(serial), _hour(bucket), float(a), float(b or 0.0)))
        return out

    def commit(self) -> None:
        try:
            self.conn.commit()
        except Exception as exc:
            self._raise_unavailable(exc)

    def rollback(self) -> None:
        try:
            self.conn.rollback()
        except Exception:
            pass

    def execute(self, sql: str, params: Sequence = (), fetch: bool = False):
        """Run one parameterised statement (``?``/``%s`` per dialect: use ``dialect.placeholder``)."""
        return self._run(sql, params, fetch=fetch)

    # -- internals -----------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence = (), fetch: bool = False, many: bool = False, count: bool = False):
        """``fetch``: the rows; ``count``: the rows the statement changed (rowcount)."""
        cursor = None
        try:
            cursor = self.conn.cursor()
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, tuple(params))
            if count:
                return max(cursor.rowcount or 0, 0)
            return cursor.fetchall() if fetch else None
        except Exception as exc:
            self._raise_unavailable(exc)
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:
                    pass

    def _raise_unavailable(self, exc: Exception):
        """Map 'the database went away / is locked' to StoreUnavailable; let real bugs through."""
        if self.dialect.kind == "sqlite":
            import sqlite3

            # SQLite's primary result codes for a file that is busy, locked, unopenable, read-only, failing
            # or damaged (extended codes carry the primary one in their low byte).
            unavailable = {
                sqlite3.SQLITE_CORRUPT,
                sqlite3.SQLITE_BUSY,
                sqlite3.SQLITE_LOCKED,
                sqlite3.SQLITE_CANTOPEN,
                sqlite3.SQLITE_READONLY,
                sqlite3.SQLITE_IOERR,
                sqlite3.SQLITE_FULL,
            }
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(exc, sqlite3.OperationalError) and code is not None and (code & 0xFF) in unavailable:
                raise StoreUnavailable(f"database {self.config.describe()} is unavailable: {exc}") from None
        else:
            errors = _mysql_errors()
            if getattr(exc, "errno", None) in PRIVILEGE_ERRNOS:
                raise StoreRejected(
                    f"database {self.config.describe()} refuses a statement: {_safe(exc, self.config)}; grant "
                    f"the user the privileges the README's set-up lists"
                ) from None
            if isinstance(exc, (errors.InterfaceError, errors.OperationalError)):
                raise StoreUnavailable(
                    f"database {self.config.describe()} is unavailable: {_safe(exc, self.config)}"
                ) from None
        raise exc


def _open_sqlite(config: DatabaseConfig, existing: bool = False):
    import sqlite3  # imported here: a MySQL poll need not load it

    assert config.path is not None  # a sqlite DatabaseConfig always has its file
    if existing and not config.path.is_file():
        raise ConfigError(
            f"database file {config.path} does not exist: check DATABASE_URL (the poller and the collector "
            f"create it on their first run)"
        )
    try:
        config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(config.path), timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(f"database {config.describe()} cannot be opened: {exc}") from None
    return conn


MYSQL_CONNECT_TIMEOUT_S = 10  # the handshake, whole; a silent server must not hold the poll


def _open_mysql(config: DatabaseConfig):
    import mysql.connector
    from mysql.connector.constants import ClientFlag

    try:
        return mysql.connector.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password,
            database=config.database,
            connection_timeout=MYSQL_CONNECT_TIMEOUT_S,
            autocommit=False,
            charset="utf8mb4",
            collation="utf8mb4_general_ci",
            time_zone="+00:00",
            # No connection attributes: collecting them runs `lsb_release` in a subprocess on
            # every connect, for nothing we use.
            client_flags=[-ClientFlag.CONNECT_ARGS],
        )
    except mysql.connector.Error as exc:
        if getattr(exc, "errno", None) in REJECTED_ERRNOS:
            raise StoreRejected(
                f"database {config.describe()} refuses this connection: {_safe(exc, config)}; fix the user, "
                f"password or database name in DATABASE_URL (or create them: see the README)"
            ) from None
        raise StoreUnavailable(
            f"database {config.describe()} is unavailable: {_connect_reason(exc, config)}; "
            f"check that the server runs and DATABASE_URL is right"
        ) from None


def _connect_reason(exc: Exception, config: DatabaseConfig) -> str:
    """The driver's reason, or what happened when it has none: a server that accepts TCP and never sends
    its handshake gives an empty 3024 (the driver's read timeout)."""
    msg = getattr(exc, "msg", None)
    if getattr(exc, "errno", None) == 3024 or (isinstance(msg, str) and not msg.strip()):
        return f"no answer from the server within {MYSQL_CONNECT_TIMEOUT_S:g} s (it accepted the connection)"
    return _safe(exc, config)


def _safe(exc: Exception, config: DatabaseConfig) -> str:
    """An error text with the password removed, should the driver ever echo it."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if config.password:
        text = text.replace(config.password, "***")
    return text
