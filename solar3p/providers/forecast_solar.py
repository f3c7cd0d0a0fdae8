"""Forecast.Solar (doc.forecast.solar): the request for one plane, its answer as records, hourly kWh. Pure.

The service's conventions, from its documentation and the clients that use it (the ``forecast_solar``
library behind Home Assistant's integration, Predbat):

- ``GET {base}[/{key}]/estimate/{lat}/{lon}/{dec}/{az}/{kWp}``: one plane a call on the public and
  personal plans. ``az`` is its own convention: -180..180, 0 = south, -90 = east, 90 = west, ±180 = north;
  ``dec`` the tilt. Declination and azimuth are integers to the service.
- ``?horizon=h1,h2,...``: horizon heights in degrees at evenly spaced azimuths from north, clockwise.
- ``?time=iso8601``: times with their UTC offset. Without it the keys are bare local times, which repeat
  in the autumn hour (the JSON object then holds a key twice): both are read, in order.
- ``result.watt_hours_period``: Wh per period, keyed by the period's END in local time. Periods end on the
  hour, except the first of a day (at sunrise, 0 Wh) and the last (at sunset), which end off the hour: a
  period ending at 07:00 is energy of the hour 06:00-07:00; one ending at 20:59:23, of 20:00-21:00.
  Night hours have no key: the service expects nothing then.
- ``message.ratelimit``: ``{"zone", "period" (s), "limit", "remaining"}``; the 429 answer has
  ``"retry-at"`` (ISO time) there instead of ``remaining``. The public plan allows 12 calls an hour per
  address. Errors are JSON too: ``message.text`` says what; 401/403 a refused key, 400/422 a plane or
  place the service refuses, 429 the rate limit, 502/503 down (quarterly maintenance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from solar3p.errors import shown
from solar3p.providers import MAX_SPAN_DAYS, countable

SERVICE = "Forecast.Solar"
PROVIDER = "forecast.solar"
DEFAULT_URL = "https://api.forecast.solar"
PUBLIC_LIMIT = 12  # calls an hour per address on the public plan
MAX_WH = 1e9  # a period's energy beyond this is no rooftop's


class AnswerError(ValueError):
    """An answer that is not what the service sends; the message says what (the caller names the URL)."""


@dataclass(frozen=True)
class PlaneRequest:
    """One plane, as the service takes it."""

    declination: int
    azimuth: int  # Forecast.Solar's: 0 = south, -90 = east
    kwp: float

    def path(self, latitude: float, longitude: float) -> str:
        return f"estimate/{latitude:.4f}/{longitude:.4f}/{self.declination}/{self.azimuth}/{self.kwp:g}"


@dataclass(frozen=True)
class Ratelimit:
    zone: str | None
    period_s: int | None
    limit: int | None
    remaining: int | None
    retry_at: datetime | None

    def describe(self) -> str:
        """The limit in words, e.g. ``12 calls per 3600 s for this address``."""
        limit = self.limit if self.limit is not None else PUBLIC_LIMIT
        period = f"{self.period_s} s" if self.period_s else "hour"
        return f"{limit} calls per {period}"


@dataclass(frozen=True)
class Period:
    end: datetime  # aware
    wh: float


@dataclass(frozen=True)
class Estimate:
    periods: tuple[Period, ...]
    ratelimit: Ratelimit | None
    timezone: str | None


def azimuth(from_north: float) -> int:
    """Degrees from north (180 = south, 90 = east) -> Forecast.Solar's azimuth (0 = south, -90 = east)."""
    value = (float(from_north) - 180.0) % 360.0  # 0 = south, 90 = west, 270 = east
    if value > 180.0:
        value -= 360.0
    whole = int(round(value))
    return -180 if whole == 180 else whole  # north either way; -180 as the documentation lists first


def plane_request(panels: int, panel_wp: float, azimuth_from_north: float, tilt: float) -> PlaneRequest:
    return PlaneRequest(int(round(tilt)), azimuth(azimuth_from_north), round(panels * panel_wp / 1000.0, 3))


def query(horizon: Sequence[float] | None) -> dict[str, str]:
    params = {"time": "iso8601"}
    if horizon:
        params["horizon"] = ",".join(f"{h:g}" for h in horizon)
    return params


def decode(body: bytes) -> object:
    """JSON with every object as its list of pairs kept (a repeated key is kept twice)."""
    try:
        return json.loads(body, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError) as exc:
        raise AnswerError("is not JSON") from exc


class _Pairs(dict):
    """A decoded object: a dict of the last value per key (as json gives), plus every pair in order."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _get(obj: object, *names: str) -> object:
    for name in names:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)
    return obj


def message_text(document: object) -> str | None:
    """The service's own words: ``message.text`` (or ``result`` when it is a sentence)."""
    for value in (_get(document, "message", "text"), _get(document, "result")):
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:300]
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_ratelimit(document: object, headers: dict[str, str] | None = None) -> Ratelimit | None:
    """``message.ratelimit``, completed by the ``X-Ratelimit-*`` headers where the body lacks a field."""
    block = _get(document, "message", "ratelimit")
    block = block if isinstance(block, dict) else {}
    head = {k.lower(): v for k, v in (headers or {}).items()}
    if not block and not any(k.startswith("x-ratelimit-") for k in head):
        return None

    def field(name: str) -> object:
        value = block.get(name)
        return value if value is not None else head.get(f"x-ratelimit-{name}")

    retry_at = None
    retry_text = field("retry-at")
    if isinstance(retry_text, str):
        try:
            retry_at = datetime.fromisoformat(retry_text.strip())
        except ValueError:
            retry_at = None
        if retry_at is not None and retry_at.tzinfo is None:
            retry_at = None  # a bare local time of an unknown zone says nothing certain
    zone = block.get("zone")
    return Ratelimit(
        zone=zone if isinstance(zone, str) else None,
        period_s=_int(field("period")),
        limit=_int(field("limit")),
        remaining=_int(field("remaining")),
        retry_at=retry_at,
    )


def _zone(name: object) -> ZoneInfo | None:
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _moment(key: str, tz: ZoneInfo | None, seen: set[str]) -> datetime:
    text = key.strip()
    try:
        if text.isascii() and text.isdigit():  # ?time=seconds
            moment = datetime.fromtimestamp(int(text), timezone.utc)
        else:
            moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise AnswerError(f"has a period key {shown(key)} that is no time") from None
    if moment.tzinfo is None:
        if tz is None:
            raise AnswerError(f"has a period key {shown(key)} without a UTC offset and names no time zone")
        # A bare local time: the second time the same text comes is the repeated autumn hour.
        fold = 1 if text in seen else 0
        seen.add(text)
        moment = moment.replace(tzinfo=tz, fold=fold)
    if not countable(moment):
        raise AnswerError(f"has a period key {shown(key)} that is no time")
    return moment


def parse_estimate(document: object, site_tz: ZoneInfo | None = None) -> Estimate:
    """The answer of ``estimate`` as records; AnswerError says what is wrong with it."""
    if not isinstance(document, dict):
        raise AnswerError("is not a JSON object")
    result = document.get("result")
    if not isinstance(result, dict):
        said = message_text(document)
        raise AnswerError("has no result" + (f" ({said})" if said else ""))
    raw = result.get("watt_hours_period")
    if raw is None:
        raise AnswerError("has no result.watt_hours_period")
    if isinstance(raw, list) and not raw:  # PHP encodes an empty map as []
        pairs: list[tuple[str, Any]] = []
    elif isinstance(raw, _Pairs):
        pairs = raw.pairs
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise AnswerError("has a result.watt_hours_period that is not an object")
    tz_name = _get(document, "message", "info", "timezone")
    tz = _zone(tz_name) or site_tz
    seen: set[str] = set()
    periods = []
    for key, value in pairs:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AnswerError(f"has {shown(value)} for period {shown(key)}, not Wh")
        wh = float(value)
        if not math.isfinite(wh) or not 0.0 <= wh <= MAX_WH:
            raise AnswerError(f"has {shown(value)} Wh for period {shown(key)}")
        periods.append(Period(_moment(key, tz, seen), wh))
    periods.sort(key=lambda p: p.end.timestamp())
    ends = [p.end.timestamp() for p in periods]
    if len(set(ends)) != len(ends):
        raise AnswerError("names one period end twice")
    if ends and ends[-1] - ends[0] > MAX_SPAN_DAYS * 86400:
        raise AnswerError(
            f"spans {(ends[-1] - ends[0]) / 86400:.0f} days ({periods[0].end.isoformat()} to "
            f"{periods[-1].end.isoformat()}): a forecast spans {MAX_SPAN_DAYS} at most"
        )
    return Estimate(tuple(periods), parse_ratelimit(document), tz_name if isinstance(tz_name, str) else None)


def hour_start(end: datetime) -> int:
    """The unix second the local clock hour of the period ending at ``end`` starts (a period ending on
    the hour belongs to the hour before)."""
    just_before = end.astimezone(timezone.utc) - timedelta(microseconds=1)
    local = just_before.astimezone(end.tzinfo)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())


def hourly_kwh(periods: Sequence[Period]) -> dict[int, float]:
    """kWh per local hour start, from the first hour to the last the answer covers; an hour between them
    without a period (night) is 0."""
    wh: dict[int, float] = {}
    for period in periods:
        start = hour_start(period.end)
        wh[start] = wh.get(start, 0.0) + period.wh
    if not wh:
        return {}
    first, last = min(wh), max(wh)
    return {t: wh.get(t, 0.0) / 1000.0 for t in range(first, last + 1, 3600)}


def sum_planes(planes: Sequence[dict[int, float]]) -> dict[int, float]:
    """The roof's kWh per hour: the planes summed over the hours every plane covers."""
    if not planes:
        return {}
    common = set(planes[0])
    for plane in planes[1:]:
        common &= set(plane)
    return {t: math.fsum(plane[t] for plane in planes) for t in sorted(common)}
