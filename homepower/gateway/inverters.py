"""``/api/v1/production/inverters``: each micro-inverter's last report (35 of the 38 recorded firmwares).

One entry per micro-inverter: ``serialNumber``, ``lastReportDate`` (unix seconds, the inverter's own report
time), ``lastReportWatts`` (its mean power over the interval it reported, as device_data shows: joules over
duration) and ``maxReportWatts``. Inverters report every 5 to 15 minutes; between reports the entry stays
the same, and a dead one keeps its last report forever (its ``lastReportDate`` ages). Pure: no I/O.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from homepower.errors import DataError
from homepower.gateway import parse

PATH = "/api/v1/production/inverters"
# The largest recorded body is 7.7 KiB for 51 inverters; the largest site (600 inverters) needs ~90 KiB.
CAP = 512 * parse.KIB
MICRO_INVERTER = 1  # devType of a PV micro-inverter (IQ6/7/8)
MAX_SERIAL = 20  # inverter_reading.serial is VARCHAR(20); Enphase serials have 12 digits
# The largest micro-inverter (a two-panel IQ8D) gives under 700 W; a report above this is no inverter's.
MAX_WATTS = 1000.0
# At dusk and at night a micro-inverter draws a little from the grid and may report it negative
# (homebridge-enphase-envoy #43 saw -7 and -15 W): stored as reported; far below that is no report.
MIN_WATTS = -50.0
# Report times the gateway may hold: from Enphase's first gateways to well past any clock error.
FIRST_REPORT = 946684800  # 2000-01-01
LAST_REPORT = 4102444800  # 2100-01-01
_EPOCH = datetime(1970, 1, 1)


class Inverters(NamedTuple):
    reports: list[InverterReport]
    skipped: list[str]  # entries left out as implausible, each naming its serial and why


class InverterReport(NamedTuple):
    """One micro-inverter report; ``report_utc`` naive UTC (the table's DATETIME)."""

    serial: str
    report_utc: datetime
    watts: float | None
    max_watts: float | None


def refused_in_json(answer: parse.Answer) -> str | None:
    """Firmware 3.9.36 answers a wrong digest password here with status 200 and the JSON
    ``{"status": 401, "info": "Authentication required"}`` (3.9.36_bad_auth)."""
    body = answer.text.strip()
    if answer.status == 200 and body.startswith("{") and len(body) < 500:
        try:
            decoded = json.loads(body)
        except ValueError:
            return None
        if isinstance(decoded, dict) and decoded.get("status") in (401, 403):
            return parse.REFUSED
    return None


def unix_time(value: Any, endpoint: str, field: str) -> datetime | None:
    """A unix time the gateway gives as a report time; None for 0 (never reported: a new or replaced
    inverter the gateway lists before its first report)."""
    seconds = parse.number(value, endpoint, field, required=True)
    assert seconds is not None
    if seconds == 0:
        return None
    if not FIRST_REPORT <= seconds < LAST_REPORT:
        raise DataError(f"gateway {endpoint} gave {field}={value!r}, not a plausible report time; nothing stored")
    return _EPOCH + timedelta(seconds=int(seconds))


def serial_of(value: Any, endpoint: str, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_SERIAL:
        raise DataError(f"gateway {endpoint} gave {field}={parse._short(value)}, not an inverter serial")
    return value.strip()


def parse_inverters(text: str | list) -> Inverters:
    """Every micro-inverter's last report. Firmware 4.10 and later give each entry a ``devType``: 1 is a PV
    micro-inverter, 11 an AC battery's inverter (8.2.4382_ACB), which is no panel and is left out, as
    pyenphase does; below 4.10 every entry is a micro-inverter. An entry never reported (time 0) is left
    out. An entry that is malformed or implausible is left out and listed in ``skipped``: one bad inverter
    does not cost the others' reports. An answer that is not a list of them: DataError, nothing stored."""
    data = parse.load_json(text, PATH)
    if not isinstance(data, list):
        raise DataError(f"gateway {PATH} is not a list of inverters; nothing stored")
    out: list[InverterReport] = []
    skipped: list[str] = []
    for entry in data:
        try:
            report = _report(entry)
        except DataError as exc:
            skipped.append(str(exc))
            continue
        if report is not None:
            out.append(report)
    return Inverters(out, skipped)


def why(exc: DataError, endpoint: str) -> str:
    """A DataError's reason without the endpoint before it or the "nothing stored" after it."""
    text = str(exc).removeprefix(f"gateway {endpoint} ")
    return text.removesuffix("; nothing stored")


def _report(entry: Any) -> InverterReport | None:
    if not isinstance(entry, dict):
        raise DataError(f"an entry that is not an object ({parse._short(entry)})")
    if entry.get("devType", MICRO_INVERTER) != MICRO_INVERTER:
        return None
    try:
        serial = serial_of(entry.get("serialNumber"), PATH, "serialNumber")
    except DataError as exc:
        raise DataError(f"an entry: {why(exc, PATH)}") from exc
    try:
        when = unix_time(entry.get("lastReportDate"), PATH, "lastReportDate")
        watts = parse.number(entry.get("lastReportWatts"), PATH, "lastReportWatts", limit=MAX_WATTS)
        top = parse.number(entry.get("maxReportWatts"), PATH, "maxReportWatts", limit=MAX_WATTS)
    except DataError as exc:
        raise DataError(f"{serial}: {why(exc, PATH)}") from exc
    if when is None:
        return None
    if watts is not None and watts < MIN_WATTS:
        raise DataError(f"{serial}: lastReportWatts={watts:g}, below {MIN_WATTS:g}")
    if watts is not None and top is not None and watts > top:
        raise DataError(f"{serial}: lastReportWatts={watts:g}, above its maxReportWatts={top:g}")
    return InverterReport(serial, when, watts, top)


# A refusal here is said (the panels go unrecorded), also when /auth/check_jwt accepted the token: no
# source rule falls back past it.
QUIRKS: tuple[parse.Quirk, ...] = (
    refused_in_json,
    parse.refused,
    parse.not_found,
    parse.error_404_json,
    parse.html_on_firmware_3,
)
ENDPOINT = parse.Endpoint("api_v1_production_inverters", PATH, CAP, parse_inverters, quirks=QUIRKS, optional=True)
