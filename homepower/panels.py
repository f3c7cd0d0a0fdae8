"""The poll's per-panel part: after the reading is stored, read each micro-inverter's last report
(``/api/v1/production/inverters``) and, where the firmware has it, its last interval's energy
(``/ivp/pdm/device_data``), and store the reports not stored yet.

Nothing here may cost the reading: the caller has stored it already, and every failure (an endpoint the
gateway lacks, refuses, answers slowly or garbled, a database that fails now) ends as at most one warning
line. Light on purpose: the poller imports this.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from homepower.errors import HomepowerError, StoreUnavailable
from homepower.gateway import device_data, inverters, parse

if TYPE_CHECKING:
    from homepower.store.core import CoreStore  # all the panel part asks of the store

log = logging.getLogger(__name__)

Ask = Callable[[parse.Endpoint], parse.Answer]  # what the gateway answered at an endpoint (may raise)
# A report time this far past the poll is the gateway's garbage, not clock skew (both keep NTP time).
FUTURE_SLACK = timedelta(hours=1)
SKIPPED_SHOWN = 3  # implausible entries named in the warning line; the rest counted


class Panels(NamedTuple):
    reports: list[inverters.InverterReport] | None  # None: not read (absent, refused, failed)
    intervals: list[device_data.IntervalEnergy] | None
    cut: bool  # device_data listed as many devices as its limit
    problems: list[str]  # why an endpoint gave nothing, for the one warning line
    skipped: list[str]  # implausible entries left out (the others are kept), each naming its serial


def read(ask: Ask, firmware: tuple[int, ...]) -> Panels:
    """Both endpoints (device_data only on firmware that has it). An endpoint the gateway lacks is no
    problem; a refusal, a failure or an answer not understood is. A gateway that failed on the first (it
    may be stalled) is not asked the second."""
    problems: list[str] = []
    found = _one(ask, inverters.ENDPOINT, firmware, problems)
    data = None
    if device_data.offered(firmware) and not problems:
        data = _one(ask, device_data.ENDPOINT, firmware, problems)
    skipped = [f"{inverters.PATH} {x}" for x in (found.skipped if found is not None else ())]
    skipped += [f"{device_data.PATH} {x}" for x in (data.skipped if data is not None else ())]
    return Panels(
        reports=found.reports if found is not None else None,
        intervals=data.intervals if data is not None else None,
        cut=bool(data is not None and data.cut),
        problems=problems,
        skipped=skipped,
    )


def plausible(panels: Panels, seen: datetime) -> Panels:
    """Reports dated after the poll that saw them (``seen``, naive UTC; FUTURE_SLACK allowed) left out and
    named in ``skipped``."""
    last = seen + FUTURE_SLACK
    skipped = list(panels.skipped)
    reports = []
    for r in panels.reports or []:
        if r.report_utc > last:
            skipped.append(
                f"{inverters.PATH} {r.serial}: lastReportDate {r.report_utc:%Y-%m-%d %H:%M} UTC, after this poll"
            )
        else:
            reports.append(r)
    intervals = []
    for i in panels.intervals or []:
        if i.end_utc > last:
            skipped.append(f"{device_data.PATH} {i.serial}: endDate {i.end_utc:%Y-%m-%d %H:%M} UTC, after this poll")
        else:
            intervals.append(i)
    return panels._replace(
        reports=reports if panels.reports is not None else None,
        intervals=intervals if panels.intervals is not None else None,
        skipped=skipped,
    )


def _one(ask: Ask, endpoint: parse.Endpoint, firmware: tuple[int, ...], problems: list[str]) -> Any:
    try:
        result = endpoint.interpret(ask(endpoint))
    except HomepowerError as exc:  # unreachable, too slow, a server error, too large, not understood
        problems.append(str(exc).split("; nothing stored")[0])
        return None
    if result == parse.REFUSED:
        problems.append(f"gateway refused {endpoint.path} (the token's account may not see the panels)")
        return None
    if result == parse.ABSENT:
        log.debug("gateway has no %s (firmware %s)", endpoint.path, ".".join(map(str, firmware)))
        return None
    return result


def rows(panels: Panels, seen: datetime) -> tuple[list[dict], list[dict]]:
    """The table rows: ``inverter_reading`` (``ts_utc``: the poll that saw the report, naive UTC) and
    ``inverter_energy``."""
    readings = [
        {"serial": r.serial, "report_utc": r.report_utc, "watts": r.watts, "max_watts": r.max_watts, "ts_utc": seen}
        for r in panels.reports or []
    ]
    energy = [
        {"serial": i.serial, "end_utc": i.end_utc, "seconds": i.seconds, "wh": i.wh} for i in panels.intervals or []
    ]
    return readings, energy


def poll(ask: Ask, firmware: tuple[int, ...], store: CoreStore, seen: datetime) -> Panels:
    """Read and store the panels; never raises a HomepowerError (one warning line instead, saying what was
    stored and what was not)."""
    panels = plausible(read(ask, firmware), seen)
    readings, energy = rows(panels, seen)
    stored: list[str] = []
    for table, items, what in (
        ("inverter_reading", readings, "panel report(s)"),
        ("inverter_energy", energy, "energy interval(s)"),
    ):
        if not items:
            continue
        try:
            new = store.insert_new(table, items)
        except StoreUnavailable as exc:
            panels.problems.append(f"{len(items)} {what} not stored: {exc}")
            continue
        stored.append(f"{len(items)} {what} ({new} new)")
    cut = " (device_data is cut at its device limit)" if panels.cut else ""
    if stored:
        log.info("%s%s", ", ".join(stored), cut)
    missing = list(panels.problems)
    if panels.skipped:
        shown = "; ".join(panels.skipped[:SKIPPED_SHOWN])
        more = len(panels.skipped) - SKIPPED_SHOWN
        missing.append(
            f"{len(panels.skipped)} implausible entr{'y' if len(panels.skipped) == 1 else 'ies'} left out ({shown}"
            + (f"; and {more} more" if more > 0 else "")
            + ")"
        )
    if missing and stored:
        log.warning("panels: stored %s; not stored: %s (the reading is stored)", ", ".join(stored), "; ".join(missing))
    elif missing:
        log.warning("panels skipped this run (the reading is stored): %s", "; ".join(missing))
    return panels
