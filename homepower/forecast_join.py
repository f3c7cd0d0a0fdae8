"""The forecast archive's rows and the join rule. Pure: no I/O, stdlib only.

Join rule (the contract's): for an hour starting at S, the archived forecast of that hour issued last at
or before S - FORECAST_MIN_LEAD_H (of FORECAST_PROVIDER when set). If none qualifies, the one issued first
after that moment, flagged ``late_forecast`` (it may have seen the weather). None at all: ``no_forecast``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Iterable, Sequence, TypeVar

from homepower.hours import LATE_FORECAST, NO_FORECAST

V = TypeVar("V")
FILE_PROVIDER = "file"  # a forecast file that does not say which service made it


@dataclass(frozen=True)
class ArchivedForecast:
    """One archived forecast hour. Times naive UTC; values None where the forecast had none."""

    ts_utc: datetime  # start of the hour forecast
    issued_utc: datetime  # when the forecast was made (downloaded)
    provider: str  # meteoserver, open-meteo, file
    gr_w: float | None  # mean global horizontal irradiance over the hour, W/m²
    tc: float | None  # total cloud cover, %
    temp: float | None  # air temperature, °C

    @property
    def key(self) -> tuple[datetime, datetime, str]:
        """The archive's primary key: the same forecast stored twice is one row."""
        return (self.ts_utc, self.issued_utc, self.provider)


@dataclass(frozen=True)
class Joined:
    """The forecast the join rule chose for one hour (None: there is none), and whether it came late."""

    forecast: ArchivedForecast | None
    late: bool = False

    @property
    def flag(self) -> str | None:
        if self.forecast is None:
            return NO_FORECAST
        return LATE_FORECAST if self.late else None


NONE = Joined(None)


def choose(
    candidates: Iterable[ArchivedForecast], hour_start: datetime, min_lead_h: float = 0.0, provider: str | None = None
) -> Joined:
    """The join rule for the hour starting at ``hour_start`` (naive UTC) over the archived forecasts of
    that hour. ``min_lead_h``: hours; ``provider``: only that provider's (None: any). Equal issue times
    of two providers are decided by provider name, so the answer never depends on the order read."""
    cutoff = hour_start - timedelta(hours=min_lead_h)
    on_time: ArchivedForecast | None = None
    late: ArchivedForecast | None = None
    for f in candidates:
        if f.ts_utc != hour_start or (provider is not None and f.provider != provider):
            continue
        if f.issued_utc <= cutoff:
            if on_time is None or (f.issued_utc, f.provider) > (on_time.issued_utc, on_time.provider):
                on_time = f
        elif late is None or (f.issued_utc, f.provider) < (late.issued_utc, late.provider):
            late = f
    if on_time is not None:
        return Joined(on_time)
    if late is not None:
        return Joined(late, late=True)
    return NONE


def choose_all(
    candidates: Sequence[ArchivedForecast],
    hour_starts: Sequence[datetime],
    min_lead_h: float = 0.0,
    provider: str | None = None,
) -> dict[datetime, Joined]:
    """``choose`` for each hour start, grouping the candidates once."""
    by_hour: dict[datetime, list[ArchivedForecast]] = {}
    for f in candidates:
        by_hour.setdefault(f.ts_utc, []).append(f)
    return {s: choose(by_hour.get(s, ()), s, min_lead_h, provider) for s in hour_starts}


# -- the PV services' forecasts (pv_forecast): no late fallback -------------------------------------
@dataclass(frozen=True)
class ServicePicks(Generic[V]):
    """One service's forecasts of one hour as the report judges them: ``joined`` by the join rule with
    FORECAST_MIN_LEAD_H and no late fallback; ``by_bucket`` the last issue made at least lo and less than
    hi hours before the hour, per lead bucket (name, lo, hi) of the ranking. Each (what it said, issued)."""

    joined: tuple[V, datetime] | None
    by_bucket: dict[str, tuple[V, datetime]]


def service_picks(
    issues: Sequence[tuple[datetime, V]],
    hour_start: datetime,
    min_lead_h: float,
    buckets: Sequence[tuple[str, float, float | None]],
) -> ServicePicks[V]:
    """``issues``: (issued, what it said) of one service's forecasts of the hour starting at ``hour_start``,
    sorted by issue time (naive UTC)."""

    def last_at_or_before(cutoff: datetime) -> tuple[datetime, V] | None:
        chosen = None
        for issued, said in issues:
            if issued > cutoff:
                break
            chosen = (issued, said)
        return chosen

    joined = last_at_or_before(hour_start - timedelta(hours=min_lead_h))
    by_bucket: dict[str, tuple[V, datetime]] = {}
    for name, lo, hi in buckets:
        pick = last_at_or_before(hour_start - timedelta(hours=lo))
        if pick is not None and (hi is None or hour_start - pick[0] < timedelta(hours=hi)):
            by_bucket[name] = (pick[1], pick[0])
    return ServicePicks(None if joined is None else (joined[1], joined[0]), by_bucket)
