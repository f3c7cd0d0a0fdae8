"""The poll's per-panel part: after the reading is stored, read each micro-inverter's last report
(``/api/v1/production/inverters``) and, where the firmware has it, its last interval's energy
(``/ivp/pdm/device_data``), and store the reports not stored yet.

Nothing here may cost the reading: the caller has stored it already, and every failure (an endpoint the
gateway lacks, refuses, answers slowly or garbled, a database that fails now) ends as at most one warning
line. Light on purpose: the poller imports this.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from homepower.errors import HomepowerError, StoreUnavailable
from homepower.gateway import device_data, inverters, parse

if TYPE_CHECKING:
    from homepower.store import Store

log = logging.getLogger(__name__)

Ask = Callable[[parse.Endpoint], parse.Answer]  # what the gateway answered at an endpoint (may raise)


class Panels(NamedTuple):
    reports: list[inverters.InverterReport] | None  # None: not read (absent, refused, failed)
    intervals: list[device_data.IntervalEnergy] | None
    cut: bool  # device_data listed as many devices as its limit
    problems: list[str]  # why an endpoint gave nothing, for the one warning line


def read(ask: Ask, firmware: tuple[int, ...]) -> Panels:
    """Both endpoints (device_data only on firmware that has it). An endpoint the gateway lacks is no
    problem; a refusal, a failure or an answer not understood is. A gateway that failed on the first (it
    may be stalled) is not asked the second."""
    problems: list[str] = []
    reports = _one(ask, inverters.ENDPOINT, firmware, problems)
    data = None
    if device_data.offered(firmware) and not problems:
        data = _one(ask, device_data.ENDPOINT, firmware, problems)
    return Panels(
        reports=reports,
        intervals=data.intervals if data is not None else None,
        cut=bool(data is not None and data.cut),
        problems=problems,
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


def poll(ask: Ask, firmware: tuple[int, ...], store: Store, seen: datetime) -> Panels:
    """Read and store the panels; never raises a HomepowerError (one warning line instead)."""
    panels = read(ask, firmware)
    readings, energy = rows(panels, seen)
    try:
        new = store.insert_new("inverter_reading", readings)
        new_energy = store.insert_new("inverter_energy", energy)
    except StoreUnavailable as exc:
        panels.problems.append(f"not stored: {exc}")
    else:
        if panels.reports is not None or panels.intervals is not None:
            log.info(
                "%d panel report(s) (%d new), %d energy interval(s) (%d new)%s",
                len(readings),
                new,
                len(energy),
                new_energy,
                " (device_data is cut at its device limit)" if panels.cut else "",
            )
    if panels.problems:
        log.warning("panels skipped this run (the reading is stored): %s", "; ".join(panels.problems))
    return panels
