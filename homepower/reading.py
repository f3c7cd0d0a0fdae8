"""One gateway reading: the typed value the poller stores, spools and replays.

The spool and ``--replay`` share one JSON-lines format: ``{"ts": "<ISO 8601 with offset>", "body": <raw
JSON body of a supported endpoint>}``. A reading written by the poller uses the api/v1/production shape
for ``body`` and adds ``source`` and the grid meters (``whExportedLifetime``, ``whImportedLifetime``,
``whConsumedLifetime``) at the top, so a spooled line keeps all it had. Every value is checked as the
gateway's are (finite, within the plausibility limits of ``parse``) before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from homepower.errors import DataError
from homepower.gateway.parse import SOURCES, Grid, Values, number, values_from_body

GRID_FIELDS = ("whExportedLifetime", "whImportedLifetime", "whConsumedLifetime")
MAX_LINE = 1024 * 1024  # a spool or replay line is a few hundred bytes; a longer one is not a reading

TABLE = "enphase_production"


def utc_second(ts: datetime) -> datetime:
    """Aware UTC, truncated to the second (the table's precision: a second already stored is replaced)."""
    if ts.tzinfo is None:
        raise ValueError("a reading's time must carry its offset")
    return ts.astimezone(timezone.utc).replace(microsecond=0)


def parse_ts(text: object) -> datetime:
    """``ts`` of a spool/replay line: ISO 8601 with an offset (``Z`` accepted), in the years 2000-2099
    (a reading from before IQ Gateways existed, or from the far future, is a corrupt line)."""
    if not isinstance(text, str) or len(text) > 40:
        raise DataError(f"ts {_short(text)} is not an ISO 8601 text")
    try:
        ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DataError(f"ts {text!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        raise DataError(f"ts {text!r} has no UTC offset (e.g. +01:00 or Z): the hour would be ambiguous")
    if not 2000 <= ts.year <= 2099:
        raise DataError(f"ts {text!r} is not a plausible time of a reading (years 2000-2099)")
    return utc_second(ts)


@dataclass(frozen=True)
class Reading:
    ts_utc: datetime  # aware UTC, whole seconds
    wattHoursToday: float | None  # Wh since local midnight (as the gateway counts it)
    wattHoursSevenDays: float | None  # Wh over the last seven days
    wattHoursLifetime: float | None  # Wh since installation
    wattsNow: float | None  # W
    whExportedLifetime: float | None  # Wh sent to the grid since installation (net-consumption meter)
    source: str  # one of SOURCES
    whImportedLifetime: float | None = None  # Wh taken from the grid (net-consumption meter)
    whConsumedLifetime: float | None = None  # Wh the house used (total-consumption meter)

    @classmethod
    def of(cls, ts: datetime, source: str, values: Values, grid: Grid | None = None) -> "Reading":
        grid = grid or Grid()
        return cls(
            utc_second(ts),
            values.wattHoursToday,
            values.wattHoursSevenDays,
            values.wattHoursLifetime,
            values.wattsNow,
            grid.exported,
            source,
            grid.imported,
            grid.consumed,
        )

    def values(self) -> dict[str, Any]:
        return {
            "wattHoursToday": self.wattHoursToday,
            "wattHoursSevenDays": self.wattHoursSevenDays,
            "wattHoursLifetime": self.wattHoursLifetime,
            "wattsNow": self.wattsNow,
        }

    def grid(self) -> dict[str, Any]:
        return {
            "whExportedLifetime": self.whExportedLifetime,
            "whImportedLifetime": self.whImportedLifetime,
            "whConsumedLifetime": self.whConsumedLifetime,
        }

    def to_row(self, tz: ZoneInfo) -> dict[str, Any]:
        """An ``enphase_production`` row: naive UTC key, local date/time in ``tz``."""
        local = self.ts_utc.astimezone(tz)
        row = {
            "ts_utc": self.ts_utc.replace(tzinfo=None),
            "year": local.year,
            "month": local.month,
            "day": local.day,
            "hour": local.hour,
            "minute": local.minute,
        }
        row.update(self.values())
        row.update(self.grid())
        row["source"] = self.source
        return row

    def to_json(self) -> dict[str, Any]:
        """What ``--dry-run`` prints."""
        out: dict[str, Any] = {"ts_utc": self.ts_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}
        out.update(self.values())
        out.update(self.grid())
        out["source"] = self.source
        return out

    def to_line(self) -> str:
        """One spool line (no newline)."""
        line = {"ts": self.ts_utc.isoformat(), "body": self.values(), "source": self.source, **self.grid()}
        return json.dumps(line, separators=(",", ":"))


def from_record(record: object, ts: datetime | None = None) -> Reading:
    """A Reading from one decoded spool/replay line (or a bare body with ``ts`` given)."""
    fields: dict[str, Any] = {}
    if ts is None:
        if not isinstance(record, dict) or "body" not in record:
            raise DataError('line is not {"ts": ..., "body": ...}')
        ts = parse_ts(record.get("ts"))
        body = record["body"]
        fields = record
    else:
        body = record
    source, values = values_from_body(body)
    if "source" in fields:
        if fields["source"] not in SOURCES:
            raise DataError(f"source {_short(fields['source'])} is not one of {', '.join(SOURCES)}")
        source = fields["source"]
    grid = [_lifetime_or_none(fields.get(name), name) for name in GRID_FIELDS]
    return Reading.of(ts, source, values, Grid(*grid))


def _lifetime_or_none(value: Any, name: str) -> float | None:
    wh = number(value, "line", name)
    if wh is not None and wh < 0:
        raise DataError(f"{name}={value!r} is a negative lifetime")
    return wh


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_line(line: str) -> Reading:
    if len(line) > MAX_LINE:
        raise DataError(f"line is longer than {MAX_LINE // 1024} KiB, not a reading")
    try:
        record = json.loads(line)
    except RecursionError:
        raise DataError("line is JSON nested too deep to be a reading") from None
    except ValueError:
        raise DataError("line is not JSON") from None
    return from_record(record)
