"""Solcast rooftop sites (docs.solcast.com.au, hobbyist): the request, its answer as records, hourly kWh. Pure.

The service's conventions, from its documentation and the clients that use it (the ``ha-solcast-solar``
integration and its simulator, Predbat):

- ``GET {base}/rooftop_sites/{resource_id}/forecasts?format=json&hours=168`` with the key as a bearer
  token (``Authorization: Bearer KEY``); one call per site. A hobbyist key has 10 calls a day, counted per
  UTC day, and at most two sites.
- ``{"forecasts": [{"period_end": "2026-12-07T12:30:00.0000000Z", "period": "PT30M", "pv_estimate": kW,
  "pv_estimate10": kW, "pv_estimate90": kW}, ...]}``: each value the MEAN power (kW) over the period that
  ENDS at ``period_end`` (UTC); ``pv_estimate10``/``90`` the 10 %/90 % quantiles. So a half-hour's energy
  is kW x 0.5 h, and the local hour 12:00-13:00 is the periods ending 12:30 and 13:00 (local).
- Errors: ``{"response_status": {"error_code": "...", "message": "..."}}``; 401/403 a refused key, 404 an
  unknown site, 429 the daily limit ("TooManyRequests") or, without that code, the service too busy.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence
from zoneinfo import ZoneInfo

from solar3p.errors import shown
from solar3p.providers import MAX_SPAN_DAYS, countable

SERVICE = "Solcast"
PROVIDER = "solcast"
DEFAULT_URL = "https://api.solcast.com.au"
HOBBYIST_LIMIT = 10  # calls a day per key, reset at 00:00 UTC
QUERY = {"format": "json", "hours": "168"}
MAX_KW = 1e6
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PERIOD = re.compile(r"^PT(\d{1,3})M$")


class AnswerError(ValueError):
    """An answer that is not what the service sends; the message says what (the caller names the URL)."""


@dataclass(frozen=True)
class HalfHour:
    """One period of the answer (usually 30 minutes); powers in kW, mean over the period."""

    end: datetime  # aware, UTC
    minutes: int
    kw: float
    kw10: float | None
    kw90: float | None


@dataclass(frozen=True)
class HourValue:
    kwh: float
    kwh_p10: float | None
    kwh_p90: float | None


def site_ids(text: str | None) -> list[str]:
    """SOLCAST_SITE: one resource id or several, comma-separated (each once). ValueError says what is wrong."""
    sites: list[str] = []
    for part in (text or "").split(","):
        site = part.strip()
        if not site:
            continue
        if not _SITE.match(site):
            raise ValueError(
                f"{shown(site)} is not a Solcast resource id (letters, digits, '-', e.g. abcd-1234-ef56-7890)"
            )
        if site not in sites:
            sites.append(site)
    return sites


def forecasts_path(site: str) -> str:
    return f"rooftop_sites/{site}/forecasts"


def error_of(document: object) -> tuple[str | None, str | None]:
    """(error_code, message) of Solcast's ``response_status``; (None, None) when absent."""
    status = document.get("response_status") if isinstance(document, dict) else None
    if not isinstance(status, dict):
        return None, None
    code, message = status.get("error_code"), status.get("message")
    return (
        code if isinstance(code, str) and code.strip() else None,
        " ".join(message.split())[:300] if isinstance(message, str) and message.strip() else None,
    )


def next_reset(now: datetime) -> datetime:
    """When a hobbyist key's daily count starts again: the next 00:00 UTC."""
    utc = now.astimezone(timezone.utc)
    return datetime(utc.year, utc.month, utc.day, tzinfo=timezone.utc) + timedelta(days=1)


def _kw(item: dict, name: str, index: int, optional: bool) -> float | None:
    value = item.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnswerError(f"forecast {index} has {name} {shown(value)}, not kW")
    kw = float(value)
    if not math.isfinite(kw) or not 0.0 <= kw <= MAX_KW:
        raise AnswerError(f"forecast {index} has {name} {shown(value)}, not a power in kW")
    return kw


def parse_forecasts(document: object) -> list[HalfHour]:
    """The answer's periods, checked; AnswerError says what is wrong."""
    if not isinstance(document, dict):
        raise AnswerError("is not a JSON object")
    items = document.get("forecasts")
    if not isinstance(items, list):
        code, message = error_of(document)
        said = message or code
        raise AnswerError("has no forecasts list" + (f" ({said})" if said else ""))
    periods = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise AnswerError(f"forecast {index} is not an object")
        text = item.get("period_end")
        try:
            end = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            end = None
        if end is None or end.tzinfo is None or not countable(end):
            raise AnswerError(f"forecast {index} has period_end {shown(text)}, not a time with its offset")
        period = item.get("period", "PT30M")
        match = _PERIOD.match(period) if isinstance(period, str) else None
        if not match or not 0 < int(match.group(1)) <= 60:
            raise AnswerError(f"forecast {index} has period {shown(period)}, not PT30M or another part of an hour")
        kw = _kw(item, "pv_estimate", index, optional=False)
        assert kw is not None
        periods.append(
            HalfHour(
                end.astimezone(timezone.utc),
                int(match.group(1)),
                kw,
                _kw(item, "pv_estimate10", index, optional=True),
                _kw(item, "pv_estimate90", index, optional=True),
            )
        )
    ends = [p.end for p in periods]
    if len(set(ends)) != len(ends):
        raise AnswerError("names one period_end twice")
    if ends and max(ends) - min(ends) > timedelta(days=MAX_SPAN_DAYS):
        raise AnswerError(
            f"spans {(max(ends) - min(ends)).days} days ({min(ends).isoformat()} to {max(ends).isoformat()}): "
            f"a forecast spans {MAX_SPAN_DAYS} at most"
        )
    return sorted(periods, key=lambda p: p.end)


def _local_hour(moment: datetime, tz: ZoneInfo) -> int:
    return int(moment.astimezone(tz).replace(minute=0, second=0, microsecond=0).timestamp())


def hourly(periods: Sequence[HalfHour], tz: ZoneInfo) -> tuple[dict[int, HourValue], int]:
    """kWh per local hour start (``tz``: the site's zone) from the periods wholly inside that hour, kept
    only where they cover all of it (an hour with only one of its half-hours is left out, as is a period
    that straddles two local hours). Returns the hours and how many were left out."""
    parts: dict[int, list[HalfHour]] = {}
    broken: set[int] = set()
    for p in periods:
        start = p.end - timedelta(minutes=p.minutes)
        hour = _local_hour(start, tz)
        if _local_hour(p.end - timedelta(microseconds=1), tz) != hour:
            broken.add(hour)
            broken.add(_local_hour(p.end - timedelta(microseconds=1), tz))
            continue
        parts.setdefault(hour, []).append(p)
    out: dict[int, HourValue] = {}
    for hour, items in sorted(parts.items()):
        if hour in broken or sum(p.minutes for p in items) != 60:
            continue

        def energy(values: list[float | None], items: list[HalfHour] = items) -> float | None:
            if any(v is None for v in values):
                return None
            return math.fsum(v * p.minutes / 60.0 for v, p in zip(values, items, strict=True) if v is not None)

        kwh = energy([p.kw for p in items])
        assert kwh is not None
        out[hour] = HourValue(kwh, energy([p.kw10 for p in items]), energy([p.kw90 for p in items]))
    left_out = len((set(parts) | broken) - set(out))
    return out, left_out


def sum_sites(sites: Sequence[dict[int, HourValue]]) -> dict[int, HourValue]:
    """The roof's hours: each site's kWh (and quantiles, summed as Solcast's own tools do) over the hours
    every site has."""
    if not sites:
        return {}
    common = set(sites[0])
    for site in sites[1:]:
        common &= set(site)

    def total(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else math.fsum(v for v in values if v is not None)

    out = {}
    for t in sorted(common):
        values = [site[t] for site in sites]
        kwh = total([v.kwh for v in values])
        assert kwh is not None
        out[t] = HourValue(kwh, total([v.kwh_p10 for v in values]), total([v.kwh_p90 for v in values]))
    return out
