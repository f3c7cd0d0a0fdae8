"""The collector's reads of ``enphase_production``: the samples around the hours it computes."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, Sequence

from homepower.dialects import parse_utc
from homepower.store.core import Database, _epoch, _float

log = logging.getLogger(__name__)


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


class SampleStore(Protocol):
    def read_samples(self, start: datetime, end: datetime) -> list[Sample]: ...

    def edge_samples(self, t: datetime, side: str) -> list[Sample]: ...


class SampleQueries(Database):
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
        out = self._samples(self._run(sql, (lo, hi), fetch=True))
        out = [s for s in out if lo_s <= s.t < hi_s]
        out.sort(key=lambda s: s.t)
        return out

    def _samples(self, rows: Sequence[Sequence]) -> list[Sample]:
        """``rows`` as samples; a row that is no reading (on SQLite another tool may write a time of hour 25
        or a counter of text) is left out with one warning, not the end of the run."""
        out, bad = [], 0
        for row in rows:
            try:
                out.append(self._sample(row))
            except (ValueError, TypeError, OverflowError):
                bad += 1
        if bad:
            log.warning(
                "left out %d enphase_production row(s) whose ts_utc is no time or whose counters are no "
                "numbers (written by another tool?)",
                bad,
            )
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
        out = self._samples(self._run(sql, tuple(stamps), fetch=True))
        return sorted(out, key=lambda s: s.t)
