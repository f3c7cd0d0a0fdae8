"""Clock hours and the energy in them, from lifetime counters. Pure: no I/O, stdlib only.

An hour is a local clock hour [H:00, H+1:00) of ``SITE_TIMEZONE``, identified by its start in UTC, so the
repeated autumn hour is two hours (same local fields, different ``ts_utc``) and the skipped spring hour is
none. The energy of an hour is the lifetime counter at its end boundary minus at its start boundary, each
boundary value interpolated linearly between the nearest samples of the same source on either side.

Counter quirks, each handled here only (see ``classify_step``):
- inverter lifetimes on firmware below 8 count watt-seconds in 32 bits and wrap to 0 at 2^32/3600 Wh;
- eim meters drift down a little at night (the inverters' standby draw): metering noise, not production;
- anything else going down is a reset (gateway replaced or re-provisioned): unknown across it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from homepower.errors import UsageError

UTC = timezone.utc
HOUR = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1)

WRAP_WH = 2**32 / 3600  # 1,193,046.47 Wh: a 32-bit watt-second counter wrapping (inverters, firmware < 8)
WRAP_SLACK_WH = 50_000.0  # production between the two samples around a wrap makes the drop that much smaller
NOISE_WH = 100.0  # a drop below this is metering noise: no production in that stretch
JUMP_FLOOR_WH = 500.0  # a rise is only judged impossible above this (rounding over seconds-apart samples)
LONG_GAP_S = 3600.0  # a boundary interpolated across more than this is flagged long_gap

# Flag names stored (comma separated) in pvhistory.flags.
WRAP, RESET, LONG_GAP = "wrap", "reset", "long_gap"
LATE_FORECAST, NO_FORECAST = "late_forecast", "no_forecast"  # set by the forecast join (forecast_join)
FLAG_ORDER = (WRAP, RESET, LONG_GAP, LATE_FORECAST, NO_FORECAST)

# Preferred source when several can compute an hour with as many samples: the contract's order.
SOURCE_ORDER = ("eim", "v1", "inverters", "pdm", "html")


# -- clock hours ---------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Hour:
    """One local clock hour. ``start``: naive UTC; ``year..hour``: the local start."""

    start: datetime
    year: int
    month: int
    day: int
    hour: int

    @property
    def end(self) -> datetime:
        return self.start + HOUR

    @property
    def start_s(self) -> float:
        return epoch_s(self.start)

    @property
    def unix(self) -> int:
        """Unix time of the start (the forecast's ``time``)."""
        return int(epoch_s(self.start))

    def local_label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}T{self.hour:02d}"


def epoch_s(naive_utc: datetime) -> float:
    return (naive_utc - EPOCH).total_seconds()


def to_utc(local: datetime, tz: ZoneInfo, fold: int = 0) -> datetime:
    """Naive local time -> naive UTC. In the spring gap fold=0 gives the first instant after it."""
    return local.replace(tzinfo=tz, fold=fold).astimezone(UTC).replace(tzinfo=None)


def hour_at(start_utc: datetime, tz: ZoneInfo) -> Hour:
    local = start_utc.replace(tzinfo=UTC).astimezone(tz)
    return Hour(start_utc, local.year, local.month, local.day, local.hour)


def local_hours(start_local: datetime, end_local: datetime, tz: ZoneInfo) -> list[Hour]:
    """Every local clock hour starting in [start_local, end_local) (naive local times): 23 rows on a
    spring-forward day, 25 on an autumn day."""
    return utc_hours(to_utc(start_local, tz), to_utc(end_local, tz), tz)


def utc_hours(start_utc: datetime, end_utc: datetime, tz: ZoneInfo) -> list[Hour]:
    """The hours starting in [start_utc, end_utc), start_utc on an hour boundary of the zone."""
    hours, t = [], start_utc
    while t < end_utc:
        hours.append(hour_at(t, tz))
        t += HOUR
    return hours


def exists(local: datetime, tz: ZoneInfo) -> bool:
    """False for a local time in the spring-forward gap."""
    back = to_utc(local, tz).replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return back == local


def hours_of_local_hour(local: datetime, tz: ZoneInfo) -> list[Hour]:
    """The hour(s) of a local clock hour: two for the repeated autumn hour; UsageError (64) for the
    skipped spring hour."""
    if not exists(local, tz):
        raise UsageError(
            f"{local:%Y-%m-%dT%H} does not exist in {tz.key}: the clocks skip that hour "
            f"(daylight saving time starts); nothing to collect"
        )
    return local_hours(local, local + HOUR, tz)


_LOCAL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2})(?::00)?)?$")


def parse_local(text: str, option: str, need_hour: bool = False) -> datetime:
    """``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DDTHH`` as a naive local datetime; UsageError otherwise."""
    form = "YYYY-MM-DDTHH" if need_hour else "YYYY-MM-DD or YYYY-MM-DDTHH"
    match = _LOCAL_RE.match(text.strip())
    if not match or (need_hour and match.group(4) is None):
        raise UsageError(f"{option} {text!r} is not a local time of the form {form}")
    year, month, day, hour = (int(g) if g is not None else 0 for g in match.groups())
    if not 1971 <= year <= 2199:  # the years a unix clock and a day either side both reach
        raise UsageError(f"{option} {text!r} is outside the years 1971 to 2199")
    try:
        return datetime(year, month, day, hour)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r} is not a valid local time: {exc}") from None


# -- counters ------------------------------------------------------------------------------------
@dataclass
class Series:
    """Samples of one lifetime counter from one source, oldest first. ``ts``: unix seconds; ``wh``."""

    source: str
    ts: list[float] = field(default_factory=list)
    wh: list[float] = field(default_factory=list)

    def count_in(self, start_s: float, end_s: float) -> int:
        return bisect_left(self.ts, end_s) - bisect_left(self.ts, start_s)


def classify_step(prev: float, cur: float, dt_s: float | None = None, max_w: float | None = None) -> str:
    """How the counter went from one sample to the next: "up", "noise", "wrap" or "reset".

    With ``max_w`` (W, far above what the installation can make), a rise faster than that over ``dt_s``
    seconds is a reset too: a counter that came back from a spurious 0, or a replaced gateway."""
    drop = prev - cur
    if drop <= 0:
        if max_w is not None and dt_s is not None and -drop > max(JUMP_FLOOR_WH, max_w * dt_s / 3600.0):
            return "reset"
        return "up"
    if drop < NOISE_WH:
        return "noise"
    # Inverter firmware below 8: a 32-bit watt-second counter. The drop is 2^32/3600 Wh less what was
    # produced between the two samples. (Judged by the drop alone, as the contract says: a stored
    # lifetime may carry an installation offset above the counter's own range.)
    if WRAP_WH - WRAP_SLACK_WH <= drop <= WRAP_WH + 1.0:
        return "wrap"
    return "reset"


@dataclass(frozen=True)
class Energy:
    """The energy of one hour from one series: ``wh`` None when unknown."""

    wh: float | None
    flags: frozenset = frozenset()
    source: str | None = None
    samples: int = 0  # samples of the series inside the hour (to choose between sources)


UNKNOWN = Energy(None)


def _bracket(ts: Sequence[float], t: float) -> tuple[int, int] | None:
    """Indexes of the nearest samples at-or-before and after ``t`` (the same index if one is at ``t``)."""
    k = bisect_right(ts, t)
    if k == 0:
        return None
    if ts[k - 1] == t:
        return k - 1, k - 1
    if k == len(ts):
        return None
    return k - 1, k


def interval_energy(series: Series, start_s: float, end_s: float, max_w: float | None = None) -> Energy:
    """Counter energy (Wh) of [start_s, end_s) from one series, or unknown.

    Walks only the samples from the start boundary's left neighbour to the end boundary's right one, so
    the answer for an hour never depends on which other hours are computed in the same run."""
    ts, wh = series.ts, series.wh
    left, right = _bracket(ts, start_s), _bracket(ts, end_s)
    if left is None or right is None:
        return UNKNOWN
    first, last = left[0], right[1]
    flags = set()
    # Unwrapped counter relative to the first sample: cumulative production, never decreasing.
    unwrapped = [0.0]
    for k in range(first + 1, last + 1):
        step = classify_step(wh[k - 1], wh[k], ts[k] - ts[k - 1], max_w)
        if step == "up":
            unwrapped.append(unwrapped[-1] + (wh[k] - wh[k - 1]))
        elif step == "noise":
            unwrapped.append(unwrapped[-1])
        elif step == "wrap":
            flags.add(WRAP)
            unwrapped.append(unwrapped[-1] + max(0.0, wh[k] - wh[k - 1] + WRAP_WH))
        else:
            return Energy(None, frozenset({RESET}), series.source)

    def value_at(bracket: tuple[int, int], t: float) -> float:
        i, j = bracket
        ui, uj = unwrapped[i - first], unwrapped[j - first]
        if i == j:
            return ui
        return ui + (uj - ui) * (t - ts[i]) / (ts[j] - ts[i])

    for i, j in (left, right):
        if ts[j] - ts[i] > LONG_GAP_S:
            flags.add(LONG_GAP)
    energy = value_at(right, end_s) - value_at(left, start_s)
    return Energy(max(0.0, energy), frozenset(flags), series.source, series.count_in(start_s, end_s))


def best_energy(candidates: Iterable[Energy]) -> Energy:
    """Of the sources' answers for one hour: a known value from the source with the most samples in the
    hour (ties: the contract's source order); else an unknown one that says why (reset)."""
    candidates = list(candidates)
    known = [e for e in candidates if e.wh is not None]
    if known:

        def rank(e: Energy) -> tuple[int, int, str]:
            order = SOURCE_ORDER.index(e.source) if e.source in SOURCE_ORDER else len(SOURCE_ORDER)
            return (-e.samples, order, e.source or "")

        return min(known, key=rank)
    for e in candidates:
        if e.flags:
            return e
    return UNKNOWN


def hour_energies(hours: Sequence[Hour], series: Sequence[Series], max_w: float | None = None) -> list[Energy]:
    """The energy of each hour from whichever series can compute it (see ``best_energy``)."""
    out = []
    for h in hours:
        start_s = h.start_s
        out.append(best_energy([interval_energy(s, start_s, start_s + 3600.0, max_w) for s in series]))
    return out


def flags_text(flags: Iterable[str]) -> str | None:
    """Flags in a fixed order, comma separated; None when there are none."""
    present = set(flags)
    ordered = [f for f in FLAG_ORDER if f in present] + sorted(present - set(FLAG_ORDER))
    return ",".join(ordered) or None


def kwh(wh: float | None) -> float | None:
    """Wh -> kWh at the column's precision (DECIMAL(10,5)); None stays None."""
    return None if wh is None else round(wh / 1000.0, 5)
