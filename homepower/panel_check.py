"""Panel health for ``pv_report.py`` (the "panels" block, its lines and chart) and ``--status``: reads the
per-panel record through the store and asks ``panel_health`` (pure) what it means."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Sequence
from zoneinfo import ZoneInfo

from homepower import panel_health as H
from homepower.errors import StoreUnavailable
from homepower.settings import PVSettings

if TYPE_CHECKING:
    from homepower.store import Store

log = logging.getLogger(__name__)

STATUS_DAYS = 45  # what --status reads: enough sunny days for the groups and the last 7 sunny days
# Before a report's period: its first days have sunny days behind them.
REPORT_LOOK_BACK = timedelta(days=30)
SETTLE = timedelta(hours=1)  # an hour that ended this long ago has all its reports
RECORD_STOPPED = timedelta(hours=36)  # the longest winter night, and a snowed-in day, report nothing


def planes(pv: PVSettings) -> list[H.Plane]:
    """PV_ARRAYS's planes where it is given (the one-plane default is a guess, not a check)."""
    return [H.Plane(p.panels, p.azimuth, p.tilt) for p in pv.arrays or ()]


def settled(now: datetime) -> datetime:
    """Hours before this (naive UTC) have all their reports (an inverter reports within 15 minutes)."""
    return now.replace(minute=0, second=0, microsecond=0) - SETTLE


def read(
    store: Store, start: datetime, end: datetime, tz: ZoneInfo, pv: PVSettings, now: datetime | None = None
) -> H.Health | None:
    """The health at ``end`` from the record in [start, end) (naive UTC); None without any panel record.
    Settled hours (before ``now``'s last hour) are summed up once into ``inverter_hour`` and read from there;
    the hours after them straight from the reports."""
    spans = store.panel_spans()
    if not spans:
        return None
    serials = sorted(spans)
    boundary = min(settled(now or end), end)
    try:
        store.roll_up_panels(boundary)
    except StoreUnavailable as exc:  # e.g. a database this user may only read: every hour from the reports
        log.warning("panels: could not sum up the settled hours (%s); reading every report instead", exc)
        store.rollback()
        boundary = start
    # Before the days the analysis wants hour by hour, the settled hours come summed per local day.
    split = min(max(start, hours_from(end, tz)), boundary, end)
    days = store.panel_days(serials, start, split, tz)
    powered = store.panel_last_powered(serials, start, split, H.MIN_W)
    hours: list[tuple[str, datetime, float]] = store.panel_rolled_hours(serials, split, min(boundary, end))
    if boundary < end:
        hours += [(h.serial, h.hour_utc, h.wh) for h in store.panel_hours(serials, max(start, boundary), end)]
    with_reports = {s for s, _, _ in hours} | {s for s, _, _ in days}
    # A micro-inverter listed only in device_data (8.3.5167 has no /api/v1/production/inverters): its Wh.
    hours += [
        (h.serial, h.hour_utc, h.wh)
        for h in store.panel_hours(serials, start, end, energy=True)
        if h.serial not in with_reports
    ]
    return H.analyse(hours, spans, end, tz, store.first_panel_poll(), planes(pv), days, powered)


def hours_from(end: datetime, tz: ZoneInfo) -> datetime:
    """The local midnight (naive UTC) from which the analysis wants hours: the profiles' days and the silent
    panels' look-back, and a day more."""
    wanted = max(H.PROFILE_DAYS, H.SILENT_LOOK_BACK_DAYS) + 1
    day = H.local_day(end, tz) - timedelta(days=wanted)
    return datetime.combine(day, time.min, tz).astimezone(timezone.utc).replace(tzinfo=None)


def status_lines(health: H.Health, now: datetime) -> tuple[str, list[str]]:
    """(the status line, the problems: one per silent or low panel, naming it)."""
    from homepower.status import age, utc

    groups = ", ".join(f"{name} {len(m)}" for name, m in health.groups.items())
    # A silent panel is listed, not reporting: "11 of 12 reporting", then "1 silent"
    reporting = health.count - len(health.silent)
    text = (f"{reporting} of {health.count}" if health.silent else f"{health.count}") + " reporting"
    text += f" ({groups})" if groups else ""
    problems = []
    for s in health.silent:
        problems.append(
            f"panel {s.serial} silent: no report with power since {utc(s.since)} ({age(now - s.since)} ago, "
            f"{s.daylight_h} h of daylight)"
        )
    for low in health.low:
        problems.append(
            f"panel {low.serial} {H.ratio_text(low.ratio)} the median of its group {low.group} over the last "
            f"{H.LOW_DAYS} sunny days (below since {low.since})"
        )
    newest = health.newest_report
    if newest is not None and now - newest > RECORD_STOPPED:
        # Every panel at once is no panel failing: the record stopped (the endpoint gone after a firmware
        # update, or refused): the poll's warning says why.
        problems.append(
            f"no panel has reported since {utc(newest)} ({age(now - newest)} ago): the poll's per-panel "
            f"record stopped (see its warning line; ENVOY_INVERTERS=off if this gateway should not be asked)"
        )
    if not problems:
        text += ", none silent or low"
    else:
        text += f", {len(health.silent)} silent, {len(health.low)} low"
    if health.arrays_note:
        text += f"; {health.arrays_note}"
    return text, problems


def summary_lines(health: H.Health) -> list[str]:
    """The report's terminal lines about the panels."""
    groups = "; ".join(
        f"{name}: {len(m)} (energy centred {_clock(health.centroids.get(name))})" for name, m in health.groups.items()
    )
    out = [f"  {'panels':<30}{health.count} in {len(health.groups)} group(s): {groups}"]
    for s in health.silent:
        out.append(f"  {'  silent':<30}{s.serial}: no report with power since {s.since:%Y-%m-%d %H:%M} UTC")
    for low in health.low:
        out.append(
            f"  {'  low':<30}{low.serial}: {H.ratio_text(low.ratio)} group {low.group} "
            f"(last {H.LOW_DAYS} sunny days; since {low.since})"
        )
    if not health.silent and not health.low and health.count:
        out.append(f"  {'':<30}none silent, none {(1 - H.LOW_RATIO) * 100:.0f} % below its group")
    if health.not_counted:
        out.append(
            f"  {'':<30}{len(health.not_counted)} more listed by the gateway, not counted: silent since before "
            f"the record began or replaced"
        )
    if health.arrays_note:
        out.append(f"  {'':<30}{health.arrays_note}")
    return out


def _clock(hour: float | None) -> str:
    if hour is None:
        return "n/a"
    minutes = round(hour * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d} local"


def chart_rows(health: H.Health, days: Sequence[date]) -> list[tuple[str, str, list[float | None]]]:
    """(group, serial, ratio per day or None) in group order, for the panel x day chart."""
    out = []
    for name, members in health.groups.items():
        for serial in members:
            mine = health.ratios.get(serial, {})
            out.append((name, serial, [mine.get(d) for d in days]))
    return out
