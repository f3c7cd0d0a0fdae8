"""One gateway reading: the typed value the poller stores, spools and replays.

The spool and ``--replay`` share one JSON-lines format: ``{"ts": "<ISO 8601 with offset>", "body": <raw
JSON body of a supported endpoint>}``. A reading written by the poller uses the api/v1/production shape
for ``body`` and adds ``source`` and ``whExportedLifetime`` at the top, so a spooled line keeps all it had.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from homepower.errors import DataError
from homepower.gateway.parse import SOURCES, Values, number, values_from_body

TABLE = "enphase_production"


def utc_second(ts: datetime) -> datetime:
    """Aware UTC, truncated to the second (the table's precision: a second already stored is replaced)."""
    if ts.tzinfo is None:
        raise ValueError("a reading's time must carry its offset")
    return ts.astimezone(timezone.utc).replace(microsecond=0)


def parse_ts(text: object) -> datetime:
    """``ts`` of a spool/replay line: ISO 8601 with an offset (``Z`` accepted)."""
    if not isinstance(text, str):
        raise DataError(f"ts {text!r} is not an ISO 8601 text")
    try:
        ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DataError(f"ts {text!r} is not ISO 8601") from None
    if ts.tzinfo is None:
        raise DataError(f"ts {text!r} has no UTC offset (e.g. +01:00 or Z): the hour would be ambiguous")
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

    @classmethod
    def of(cls, ts: datetime, source: str, values: Values, exported: float | None = None) -> "Reading":
        return cls(
            utc_second(ts),
            values.wattHoursToday,
            values.wattHoursSevenDays,
            values.wattHoursLifetime,
            values.wattsNow,
            exported,
            source,
        )

    def values(self) -> dict:
        return {
            "wattHoursToday": self.wattHoursToday,
            "wattHoursSevenDays": self.wattHoursSevenDays,
            "wattHoursLifetime": self.wattHoursLifetime,
            "wattsNow": self.wattsNow,
        }

    def to_row(self, tz: ZoneInfo) -> dict:
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
        row["whExportedLifetime"] = self.whExportedLifetime
        row["source"] = self.source
        return row

    def to_json(self) -> dict:
        """What ``--dry-run`` prints."""
        out = {"ts_utc": self.ts_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}
        out.update(self.values())
        out["whExportedLifetime"] = self.whExportedLifetime
        out["source"] = self.source
        return out

    def to_line(self) -> str:
        """One spool line (no newline)."""
        line = {
            "ts": self.ts_utc.isoformat(),
            "body": self.values(),
            "source": self.source,
            "whExportedLifetime": self.whExportedLifetime,
        }
        return json.dumps(line, separators=(",", ":"))


def from_record(record: object, ts: datetime | None = None) -> Reading:
    """A Reading from one decoded spool/replay line (or a bare body with ``ts`` given)."""
    if ts is None:
        if not isinstance(record, dict) or "body" not in record:
            raise DataError('line is not {"ts": ..., "body": ...}')
        ts = parse_ts(record.get("ts"))
        body = record["body"]
    else:
        body, record = record, {}
    source, values = values_from_body(body)
    if "source" in record:
        if record["source"] not in SOURCES:
            raise DataError(f"source {record['source']!r} is not one of {', '.join(SOURCES)}")
        source = record["source"]
    exported = number(record.get("whExportedLifetime"), "line", "whExportedLifetime")
    return Reading.of(ts, source, values, exported)


def from_line(line: str) -> Reading:
    try:
        record = json.loads(line)
    except ValueError:
        raise DataError("line is not JSON") from None
    return from_record(record)
