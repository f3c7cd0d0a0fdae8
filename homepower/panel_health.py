"""Panel health from the per-micro-inverter record: which panels behave alike (the roof's planes), which one
makes less than its siblings on sunny days, which one has gone silent. Pure: stdlib only, no I/O.

The input is hourly: per micro-inverter and UTC hour, the mean of the powers it reported in that hour (each
report is the mean power of its 5-15 minute interval, so the hour's mean times one hour is the hour's
energy), or the energy of the intervals device_data gave, for a micro-inverter the gateway lists only there.

- A day's energy of a panel is the sum of its hours. A *sunny* day is one whose median panel made at least
  ``SUNNY_SHARE`` of the best median day within ``SUNNY_WINDOW_DAYS`` of it: on a cloudy day diffuse light
  evens out the planes and a shaded or soiled panel hides.
- *Groups*: each panel's daily profile (the share of its sunny-day energy in each local clock hour) has a
  centroid, the time of day its energy comes; planes facing east and west differ by hours, panels of one
  plane by minutes. Panels are sorted by centroid and split where neighbours are more than ``GROUP_GAP_H``
  apart; with ``PV_ARRAYS`` of k planes facing k ways, at the k - 1 widest gaps instead, and the group sizes
  are checked against the planes' panel counts (east before west: the planes in order of azimuth).
- *Low*: a panel whose energy over the last ``LOW_DAYS`` sunny days is below ``LOW_RATIO`` of its group's
  median (each day's median of the group's panels that reported that day).
- *Silent*: no report with power for more than a day of daylight (the roof's producing hours of a recent
  day): a dead micro-inverter stops reporting, a dead panel makes its micro-inverter report 0 W.
- Micro-inverters whose last report came before the record began (the gateway still lists them: replaced
  years ago), or before another one first reported (its replacement), are not counted.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Mapping, NamedTuple, Sequence
from zoneinfo import ZoneInfo

SUNNY_SHARE = 0.7
SUNNY_WINDOW_DAYS = 15
GROUP_GAP_H = 0.4
LOW_RATIO = 0.85
LOW_DAYS = 7
MIN_W = 1.0  # an hour with less than this mean power is no production (standby, dawn)
PROFILE_DAYS = 60  # the groups are learned from the sunny days of the last two months
SILENT_LOOK_BACK_DAYS = 10  # more than a day of daylight fits in it, even in December
HOUR = timedelta(hours=1)


class PanelHour(NamedTuple):
    serial: str
    hour_utc: datetime  # naive UTC hour start
    wh: float  # energy in the hour (mean reported W x 1 h, or device_data's Wh)


class Plane(NamedTuple):
    """A plane of PV_ARRAYS as the health check needs it."""

    panels: int
    azimuth: float
    tilt: float

    @property
    def label(self) -> str:
        names = {0: "N", 45: "NE", 90: "E", 135: "SE", 180: "S", 225: "SW", 270: "W", 315: "NW"}
        way = names.get(round(self.azimuth) % 360, f"{self.azimuth:g}deg")
        return f"{way}/{self.tilt:g}"


@dataclass(frozen=True)
class Low:
    serial: str
    group: str
    ratio: float
    since: date
    days: int  # sunny days in a row below LOW_RATIO up to the last one

    def as_dict(self) -> dict:
        return {"serial": self.serial, "group": self.group, "ratio": self.ratio, "since": self.since.isoformat()}


@dataclass(frozen=True)
class Silent:
    serial: str
    since: datetime  # naive UTC: its last report with power (or its last report)
    daylight_h: int  # hours of daylight since then


@dataclass
class Health:
    count: int
    groups: dict[str, list[str]]
    silent: list[Silent]
    low: list[Low]
    sunny_days: list[date] = field(default_factory=list)
    ratios: dict[str, dict[date, float]] = field(default_factory=dict)  # serial -> day -> Wh / group median
    centroids: dict[str, float] = field(default_factory=dict)  # group -> local hour its energy centres on
    not_counted: list[str] = field(default_factory=list)  # listed by the gateway, replaced or gone before
    arrays_note: str | None = None  # where the groups do not match PV_ARRAYS
    newest_report: datetime | None = None  # of any counted panel (naive UTC)

    def group_of(self, serial: str) -> str | None:
        return next((name for name, members in self.groups.items() if serial in members), None)

    def as_dict(self) -> dict:
        """The report's "panels" block (the contract's keys)."""
        out: dict = {
            "count": self.count,
            "groups": {name: sorted(members) for name, members in self.groups.items()},
            "silent": [s.serial for s in self.silent],
            "low": [low.as_dict() for low in self.low],
        }
        if self.arrays_note:
            out["arrays_note"] = self.arrays_note
        return out

    @property
    def ok(self) -> bool:
        return not self.silent and not self.low


def local_day(hour_utc: datetime, tz: ZoneInfo) -> date:
    return hour_utc.replace(tzinfo=timezone.utc).astimezone(tz).date()


def counted(
    spans: Mapping[str, tuple[datetime, datetime]], record_start: datetime | None
) -> tuple[list[str], list[str]]:
    """(panels of the roof, listed ones not counted): a micro-inverter whose last report came more than a
    day before the record began, or before another first reported (its replacement), is not counted."""
    firsts = sorted(first for first, _ in spans.values())
    keep: list[str] = []
    drop: list[str] = []
    for serial, (_, last) in spans.items():
        gone_before = record_start is not None and last < record_start - timedelta(days=1)
        replaced = bool(firsts) and firsts[-1] > last + timedelta(days=1)
        (drop if gone_before or replaced else keep).append(serial)
    return sorted(keep), sorted(drop)


def analyse(
    hours: Iterable[tuple[str, datetime, float]],
    spans: Mapping[str, tuple[datetime, datetime]],
    end: datetime,
    tz: ZoneInfo,
    record_start: datetime | None = None,
    planes: Sequence[Plane] = (),
    days: Iterable[tuple[str, date, float]] = (),
    powered: Mapping[str, datetime] | None = None,
) -> Health:
    """The health at ``end`` (naive UTC, exclusive) from the hours before it; ``spans``: each micro-inverter's
    first and last report ever (naive UTC). Older days may come summed up instead: ``days`` (serial, local
    day, Wh) and ``powered`` (each one's last hour with power among them), as long as the hours of the last
    PROFILE_DAYS and SILENT_LOOK_BACK_DAYS come as hours."""
    panels, not_counted = counted(spans, record_start)
    wanted = set(panels)
    daily: dict[str, dict[date, float]] = {s: {} for s in panels}
    by_hour: dict[str, dict[int, dict[date, float]]] = {s: {} for s in panels}
    last_power: dict[str, datetime] = {}
    producing: dict[datetime, set[str]] = {}  # UTC hour -> panels producing in it
    today = local_day(end, tz)
    profile_from = today - timedelta(days=PROFILE_DAYS)  # the planes from recent days: the sun's path moves
    recent = end - timedelta(days=SILENT_LOOK_BACK_DAYS)
    local: dict[datetime, tuple[date, int]] = {}  # UTC hour -> (local day, local hour): every panel repeats it
    for serial, hour_utc, wh in hours:
        if serial not in wanted or hour_utc >= end:
            continue
        if wh >= MIN_W:
            if hour_utc >= recent:
                producing.setdefault(hour_utc, set()).add(serial)
            if hour_utc > last_power.get(serial, datetime.min):
                last_power[serial] = hour_utc
        when = local.get(hour_utc)
        if when is None:
            moment = hour_utc.replace(tzinfo=timezone.utc).astimezone(tz)
            when = local[hour_utc] = (moment.date(), moment.hour)
        day = when[0]
        if day >= today:  # a day not over yet is no day to compare
            continue
        mine = daily[serial]
        mine[day] = mine.get(day, 0.0) + wh
        if day >= profile_from:
            slot = by_hour[serial].setdefault(when[1], {})
            slot[day] = slot.get(day, 0.0) + wh

    for serial, day, wh in days:
        if serial in wanted and day < today:
            daily[serial][day] = daily[serial].get(day, 0.0) + wh
    for serial, hour_utc in (powered or {}).items():
        if serial in wanted and hour_utc < end and hour_utc > last_power.get(serial, datetime.min):
            last_power[serial] = hour_utc

    sunny = sunny_days(daily)
    groups, centroids, note = group_panels(by_hour, sunny, planes)
    ratios, medians = day_ratios(daily, groups)
    silent = find_silent(panels, spans, last_power, producing, end, tz)
    quiet = {s.serial for s in silent}  # a silent panel is said silent, not low as well
    low = [x for x in find_low(daily, ratios, medians, sunny, groups) if x.serial not in quiet]
    newest = max((spans[s][1] for s in panels), default=None)
    return Health(len(panels), groups, silent, low, sunny, ratios, centroids, not_counted, note, newest)


def sunny_days(daily: Mapping[str, Mapping[date, float]]) -> list[date]:
    """Days whose median panel made at least SUNNY_SHARE of the best median day within SUNNY_WINDOW_DAYS."""
    per_day: dict[date, list[float]] = {}
    for days in daily.values():
        for day, wh in days.items():
            per_day.setdefault(day, []).append(wh)
    median = {day: statistics.median(values) for day, values in per_day.items()}
    out = []
    window = timedelta(days=SUNNY_WINDOW_DAYS)
    ordered = sorted(median)
    for day in ordered:
        near = [median[d] for d in ordered if abs(d - day) <= window]
        best = max(near)
        if best > 0 and median[day] >= SUNNY_SHARE * best:
            out.append(day)
    return out


def centroid(slots: Mapping[int, Mapping[date, float]], days: set[date]) -> float | None:
    """The local clock hour (mid-hour) the panel's energy of ``days`` centres on."""
    total = weighted = 0.0
    for hour, per_day in slots.items():
        wh = sum(v for d, v in per_day.items() if d in days)
        total += wh
        weighted += wh * (hour + 0.5)
    return weighted / total if total > 0 else None


def group_panels(
    by_hour: Mapping[str, Mapping[int, Mapping[date, float]]], sunny: Sequence[date], planes: Sequence[Plane] = ()
) -> tuple[dict[str, list[str]], dict[str, float], str | None]:
    """Groups of panels that behave alike through the day, named by plane (PV_ARRAYS matched) or A, B, ...
    in the order of the day (one group: "roof"); panels without a day of production are in none."""
    days = set(sunny)
    found = {s: centroid(slots, days) for s, slots in by_hour.items()}
    if not any(v is not None for v in found.values()):  # no sunny day yet: every day
        every = {d for slots in by_hour.values() for per_day in slots.values() for d in per_day}
        found = {s: centroid(slots, every) for s, slots in by_hour.items()}
    ordered = sorted(((c, s) for s, c in found.items() if c is not None))
    if not ordered:
        return {}, {}, None
    # Distinct ways the planes face: planes facing alike behave as one group.
    ways: list[tuple[float, int, list[Plane]]] = []
    for plane in sorted(planes, key=lambda p: p.azimuth):
        if ways and abs(ways[-1][0] - plane.azimuth) < 1 and ways[-1][2][0].tilt == plane.tilt:
            ways[-1][2].append(plane)
            ways[-1] = (ways[-1][0], ways[-1][1] + plane.panels, ways[-1][2])
        else:
            ways.append((plane.azimuth, plane.panels, [plane]))
    gaps = [(ordered[i + 1][0] - ordered[i][0], i) for i in range(len(ordered) - 1)]
    if len(ways) > 1 and len(ordered) >= len(ways):
        cuts = sorted(i for _, i in sorted(gaps, reverse=True)[: len(ways) - 1])
    else:
        cuts = [i for gap, i in gaps if gap > GROUP_GAP_H]
    clusters: list[list[tuple[float, str]]] = []
    start = 0
    for cut in cuts + [len(ordered) - 1]:
        clusters.append(ordered[start : cut + 1])
        start = cut + 1
    note = None
    if len(ways) > 1:
        sizes = [len(c) for c in clusters]
        wanted = [n for _, n, _ in ways]
        if sizes == wanted:
            names = ["+".join(dict.fromkeys(p.label for p in plist)) for _, _, plist in ways]
        else:
            names = _letters(len(clusters))
            note = (
                f"PV_ARRAYS gives {len(ways)} planes of {', '.join(map(str, wanted))} panels (east to west); the "
                f"panels behave as groups of {', '.join(map(str, sizes))}: check PV_ARRAYS"
            )
    elif len(ways) == 1 and len(clusters) > 1:
        names = _letters(len(clusters))
        note = f"PV_ARRAYS gives one plane; the panels behave as {len(clusters)} groups (shading, or another plane?)"
    elif len(ways) == 1:
        names = ["+".join(dict.fromkeys(p.label for p in ways[0][2]))]
    else:
        names = ["roof"] if len(clusters) == 1 else _letters(len(clusters))
    groups = {name: sorted(s for _, s in cluster) for name, cluster in zip(names, clusters, strict=True)}
    centres = {name: statistics.fmean(c for c, _ in cluster) for name, cluster in zip(names, clusters, strict=True)}
    return groups, centres, note


def _letters(n: int) -> list[str]:
    return [chr(ord("A") + i) if i < 26 else f"G{i + 1}" for i in range(n)]


def day_ratios(
    daily: Mapping[str, Mapping[date, float]], groups: Mapping[str, Sequence[str]]
) -> tuple[dict[str, dict[date, float]], dict[str, dict[date, float]]]:
    """(ratios, medians): each panel's energy of a day over the median of its group's panels that reported
    that day, and that median per group and day (groups of two or more; a day whose median is 0 has none)."""
    out: dict[str, dict[date, float]] = {}
    medians: dict[str, dict[date, float]] = {}
    for name, members in groups.items():
        if len(members) < 2:
            continue
        days = {d for s in members for d in daily.get(s, {})}
        for day in days:
            values = {s: daily[s][day] for s in members if day in daily.get(s, {})}
            if len(values) < 2:
                continue
            median = statistics.median(values.values())
            if median <= 0:
                continue
            medians.setdefault(name, {})[day] = median
            for serial, wh in values.items():
                out.setdefault(serial, {})[day] = wh / median
    return out, medians


def find_low(
    daily: Mapping[str, Mapping[date, float]],
    ratios: Mapping[str, Mapping[date, float]],
    medians: Mapping[str, Mapping[date, float]],
    sunny: Sequence[date],
    groups: Mapping[str, Sequence[str]],
) -> list[Low]:
    """Panels below LOW_RATIO of their group over their last LOW_DAYS sunny days: their energy over the sum of
    their group's daily medians; ``since``: the first of the sunny days in a row below it up to the last, or
    the first of those LOW_DAYS."""
    out = []
    for name, members in groups.items():
        for serial in members:
            mine = ratios.get(serial, {})
            days = [d for d in sunny if d in mine]
            if len(days) < LOW_DAYS:
                continue
            recent = days[-LOW_DAYS:]
            ratio = sum(daily[serial][d] for d in recent) / sum(medians[name][d] for d in recent)
            if not ratio < LOW_RATIO:
                continue
            run = 0
            for d in reversed(days):
                if mine[d] >= LOW_RATIO:
                    break
                run += 1
            since = days[-run] if run >= LOW_DAYS else recent[0]
            out.append(Low(serial, name, ratio, since, run))
    return sorted(out, key=lambda low: low.ratio)


def find_silent(
    panels: Sequence[str],
    spans: Mapping[str, tuple[datetime, datetime]],
    last_power: Mapping[str, datetime],
    producing: Mapping[datetime, set[str]],
    end: datetime,
    tz: ZoneInfo,
) -> list[Silent]:
    """Panels without a report with power for more than a day of daylight: the hours since their last one in
    which other panels produced reach the producing hours of the longest of the last complete days."""
    day_length = daylight_hours(producing, end, tz)
    if day_length == 0:
        return []
    hours = sorted(producing)
    out = []
    for serial in panels:
        last = last_power.get(serial)
        since = last if last is not None else spans[serial][1].replace(minute=0, second=0, microsecond=0)
        lit = sum(1 for h in hours if h > since and producing[h] - {serial})
        if lit >= day_length:
            out.append(Silent(serial, last + HOUR if last is not None else spans[serial][1], lit))
    return sorted(out, key=lambda s: s.since)


def daylight_hours(producing: Mapping[datetime, set[str]], end: datetime, tz: ZoneInfo, days: int = 3) -> int:
    """The producing hours of the longest of the last ``days`` complete local days (a dull winter day may
    have few)."""
    today = local_day(end, tz)
    per_day: dict[date, int] = {}
    for hour in producing:
        day = local_day(hour, tz)
        if today - timedelta(days=days) <= day < today:
            per_day[day] = per_day.get(day, 0) + 1
    return max(per_day.values(), default=0)


def ratio_text(ratio: float) -> str:
    return f"{(1 - ratio) * 100:.0f} % below" if ratio < 1 else f"{(ratio - 1) * 100:.0f} % above"


def finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
