"""What ``pv_report.py --publish`` sends, as plain data: hourly forecasts -> local-day summaries -> MQTT
messages (retained states and Home Assistant discovery configs). Pure: no I/O, stdlib only.

The forecast sensors take the shape Home Assistant's Solcast integration gives and Predbat reads: the state
is the day's kWh, the attributes hold ``estimate10``/``estimate90`` (the day at P10/P90, sums of the hourly
quantiles) and ``detailedForecast``, one entry per hour of the whole local day. Predbat compares the state
with the sum of the entries' ``pv_estimate`` to learn their unit, so the state is that sum exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

# Home Assistant's recorder drops a state whose attributes exceed 16 KiB; HA adds its own (name, unit, icon,
# device class) to ours, so ours keep a margin.
MAX_PAYLOAD_BYTES = 15 * 1024
# The problem sensor turns unavailable when no run refreshed it for this long (publishing itself stopped):
# runs come after every forecast fetch (hourly, or every 3 hours with Meteoserver) and the nightly calibration.
PROBLEM_EXPIRE_S = 6 * 3600
DAY_SENSORS = ("pv_forecast_today", "pv_forecast_tomorrow", "pv_forecast_d3")
DEVICE_NAME = "homepower"
DIGITS = 4  # kWh to 0.1 Wh: the entries and the state agree to the digit
ON, OFF = "ON", "OFF"


@dataclass(frozen=True)
class HourForecast:
    """The calibrated forecast of one hour: its start (aware, in the site's zone) and kWh at the median and
    the 10 % / 90 % quantiles (None where the calibration gives no quantiles)."""

    start: datetime
    kwh: float
    p10: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class DaySummary:
    """One local day as far as the forecast covers it: its hours in time order."""

    day: date
    hours: tuple[HourForecast, ...]

    @property
    def kwh(self) -> float | None:
        return _sum([h.kwh for h in self.hours]) if self.hours else None

    @property
    def p10(self) -> float | None:
        return _sum([h.p10 for h in self.hours]) if self.hours else None

    @property
    def p90(self) -> float | None:
        return _sum([h.p90 for h in self.hours]) if self.hours else None


def _round(value: float) -> float:
    return round(float(value), DIGITS) + 0.0  # + 0.0: never -0.0


def _sum(values: Sequence[float | None]) -> float | None:
    """The sum of the rounded values as a subscriber adding them up gets it; None if any is unknown."""
    if any(v is None for v in values):
        return None
    return _round(sum(_round(v) for v in values if v is not None))


def day_summaries(
    hours: Iterable[HourForecast], today: date, tz: ZoneInfo, days: int = len(DAY_SENSORS)
) -> list[DaySummary]:
    """``days`` local days from ``today``, each with its hours of ``hours`` (any order, any extent)."""
    wanted = [today + timedelta(days=i) for i in range(days)]
    # Keyed by the UTC instant: two aware times in one zone compare equal across the autumn's repeated hour.
    by_day: dict[date, dict[datetime, HourForecast]] = {d: {} for d in wanted}
    for hour in hours:
        day = hour.start.astimezone(tz).date()
        if day in by_day:
            by_day[day][hour.start.astimezone(timezone.utc)] = hour
    return [DaySummary(d, tuple(by_day[d][s] for s in sorted(by_day[d]))) for d in wanted]


def detailed_forecast(summary: DaySummary, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Solcast's ``detailedForecast``: ``period_start`` (ISO 8601, local with offset) and kWh per hour."""
    out = []
    for h in summary.hours:
        entry: dict[str, Any] = {
            "period_start": h.start.astimezone(tz).isoformat(timespec="seconds"),
            "pv_estimate": _round(h.kwh),
        }
        if h.p10 is not None:
            entry["pv_estimate10"] = _round(h.p10)
        if h.p90 is not None:
            entry["pv_estimate90"] = _round(h.p90)
        out.append(entry)
    return out


def day_state(summary: DaySummary, tz: ZoneInfo) -> dict[str, Any]:
    """The retained JSON of a day sensor: ``estimate`` (its state), the day at P10/P90, and the hours."""
    state: dict[str, Any] = {"estimate": summary.kwh}
    if summary.p10 is not None and summary.p90 is not None:
        state["estimate10"] = summary.p10
        state["estimate90"] = summary.p90
    state["date"] = summary.day.isoformat()
    state["dayname"] = summary.day.strftime("%A")
    state["hours"] = len(summary.hours)
    state["detailedForecast"] = detailed_forecast(summary, tz)
    return state


@dataclass(frozen=True)
class Message:
    """One MQTT publication: topic, payload (UTF-8 JSON), retained."""

    topic: str
    payload: bytes
    retain: bool = True


class PayloadTooLarge(ValueError):
    """A message over MAX_PAYLOAD_BYTES: a bug of ours (the hours of a day are bounded), never sent."""


def message(topic: str, document: Any) -> Message:
    payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"{topic}: {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES} allowed")
    return Message(topic, payload)


@dataclass(frozen=True)
class Problem:
    """What ``pv_report.py --status`` concluded: its exit code and, when not 0, why (one line)."""

    exit_code: int
    reason: str = ""

    @property
    def on(self) -> bool:
        return self.exit_code != 0


@dataclass(frozen=True)
class LastHour:
    """The newest ``pvhistory`` row: its hour start (aware) and ``kwh_pv`` (None: NULL)."""

    start: datetime
    kwh: float | None


def slug(prefix: str) -> str:
    """A topic prefix as an id part: ``home/power`` -> ``home_power``."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", prefix).strip("_").lower() or DEVICE_NAME


@dataclass(frozen=True)
class Entity:
    component: str  # sensor, binary_sensor
    key: str  # pv_forecast_today, ..., problem
    name: str
    config: dict[str, Any]


def entities() -> list[Entity]:
    energy = {"unit_of_measurement": "kWh", "device_class": "energy"}
    out = [
        Entity(
            "sensor",
            key,
            name,
            {**energy, "value_template": "{{ value_json.estimate }}", "icon": "mdi:solar-power"},
        )
        for key, name in zip(DAY_SENSORS, ("PV forecast today", "PV forecast tomorrow", "PV forecast d3"), strict=True)
    ]
    out.append(
        Entity(
            "sensor",
            "pv_energy_last_hour",
            "PV energy last hour",
            {**energy, "value_template": "{{ value_json.kwh }}", "icon": "mdi:solar-power"},
        )
    )
    out.append(
        Entity(
            "binary_sensor",
            "problem",
            "Problem",
            {
                "device_class": "problem",
                "value_template": "{{ value_json.problem }}",
                "payload_on": ON,
                "payload_off": OFF,
                "expire_after": PROBLEM_EXPIRE_S,
            },
        )
    )
    return out


def state_topic(prefix: str, key: str) -> str:
    return f"{prefix}/{key}"


def discovery_messages(prefix: str, discovery_prefix: str, version: str | None = None) -> list[Message]:
    """Home Assistant MQTT discovery: one config per entity, all on one device "homepower". Each state
    topic carries JSON: the value template picks the state, the whole document becomes the attributes."""
    node = slug(prefix)
    device: dict[str, Any] = {
        "identifiers": [node],
        "name": DEVICE_NAME,
        "manufacturer": "homepower",
        "model": "calibrated PV forecast",
    }
    if version:
        device["sw_version"] = version
    out = []
    for entity in entities():
        topic = state_topic(prefix, entity.key)
        config = {
            "name": entity.name,
            "unique_id": f"{node}_{entity.key}",
            "default_entity_id": f"{entity.component}.{node}_{entity.key}",
            "state_topic": topic,
            "json_attributes_topic": topic,
            **entity.config,
            "device": device,
            "origin": {"name": "homepower"},
        }
        out.append(message(f"{discovery_prefix}/{entity.component}/{node}/{entity.key}/config", config))
    return out


def day_messages(prefix: str, summaries: Sequence[DaySummary], tz: ZoneInfo) -> list[Message]:
    """The day sensors' retained states, in DAY_SENSORS order."""
    return [
        message(state_topic(prefix, key), day_state(summary, tz))
        for key, summary in zip(DAY_SENSORS, summaries, strict=True)
    ]


def last_hour_message(prefix: str, tz: ZoneInfo, last_hour: LastHour | None) -> Message:
    """The retained state of the last hour's energy (the newest pvhistory row)."""
    start = None if last_hour is None else last_hour.start.astimezone(tz).isoformat(timespec="seconds")
    kwh = None if last_hour is None or last_hour.kwh is None else _round(last_hour.kwh)
    return message(state_topic(prefix, "pv_energy_last_hour"), {"kwh": kwh, "hour_start": start})


def problem_message(prefix: str, tz: ZoneInfo, problem: Problem, checked: datetime) -> Message:
    """The retained state of the problem sensor: ON when ``pv_report.py --status`` would exit non-zero."""
    return message(
        state_topic(prefix, "problem"),
        {
            "problem": ON if problem.on else OFF,
            "exit_code": problem.exit_code,
            "reason": problem.reason,
            "checked": checked.astimezone(tz).isoformat(timespec="seconds"),
        },
    )


def health_messages(
    prefix: str, tz: ZoneInfo, last_hour: LastHour | None, problem: Problem, checked: datetime
) -> list[Message]:
    """The retained states of the last hour's energy and of the problem sensor."""
    return [last_hour_message(prefix, tz, last_hour), problem_message(prefix, tz, problem, checked)]


def state_messages(
    prefix: str,
    summaries: Sequence[DaySummary],
    tz: ZoneInfo,
    last_hour: LastHour | None,
    problem: Problem,
    checked: datetime,
) -> list[Message]:
    """Every retained state: the day sensors, the last hour's energy, the problem."""
    return day_messages(prefix, summaries, tz) + health_messages(prefix, tz, last_hour, problem, checked)
