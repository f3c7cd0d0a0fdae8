"""A roof of micro-inverters as an IQ Gateway sees it, for the fake gateway's per-panel endpoints and the
synthetic panel record of the tests and the bench.

What real gateways do (the recorded fixtures, Home Assistant core #124493, pyenphase):
- each micro-inverter reports every 5 to 15 minutes (its own period and phase); between reports
  ``/api/v1/production/inverters`` shows the same entry, and ``lastReportWatts`` is the mean power of the
  interval the report closes (device_data shows it: joulesProduced / duration);
- a micro-inverter that dies keeps its last entry forever: its ``lastReportDate`` ages;
- at night the inverters sleep: no reports until the sun is up again;
- ``/ivp/pdm/device_data`` lists the meters (``eim``) and other devices beside the ``pcu``s, gives
  ``deviceCount``/``deviceDataLimit`` as strings, and lists no more devices than its limit.

The sun is a textbook approximation (declination, hour angle; no equation of time): enough for planes to
behave differently through the day, which is all the panel health needs.
"""

from __future__ import annotations

import json
import math
import random
import time

import numpy as np
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterator

DEG = math.pi / 180


@dataclass
class Panel:
    serial: str
    azimuth: float = 180.0  # degrees from north
    tilt: float = 35.0
    wp: float = 400.0
    factor: float = 1.0  # 1 healthy; 0.75 a soiled or failing panel
    dies_at: float | None = None  # unix time its micro-inverter stops reporting
    period_s: int = 300  # how often it reports (300..900)
    phase_s: int = 0


def sun_arrays(t: np.ndarray, lat: float, lon: float) -> tuple[np.ndarray, np.ndarray]:
    """(elevation, azimuth from north), degrees, at the unix times ``t``."""
    days = np.floor(t / 86400.0)
    n = (days - np.floor((days + 0.5) / 365.25) * 365.25) % 365.25  # day of year, near enough
    decl = 23.44 * np.sin(2 * np.pi * (n - 80) / 365) * DEG
    solar_h = (t % 86400.0) / 3600.0 + lon / 15
    hour_angle = (solar_h - 12) * 15 * DEG
    phi = lat * DEG
    sin_el = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    el = np.arcsin(np.clip(sin_el, -1.0, 1.0))
    az = np.arctan2(np.sin(hour_angle), np.cos(hour_angle) * np.sin(phi) - np.tan(decl) * np.cos(phi))
    return el / DEG, (az / DEG + 180) % 360


def sun(t: float, lat: float, lon: float) -> tuple[float, float]:
    el, az = sun_arrays(np.array([t], dtype=float), lat, lon)
    return float(el[0]), float(az[0])


def power_arrays(t: np.ndarray, panel: Panel, lat: float, lon: float, clearness: np.ndarray) -> np.ndarray:
    """Watts of ``panel`` at the unix times ``t`` under skies of ``clearness`` (1 clear, 0 overcast)."""
    el, az = sun_arrays(t, lat, lon)
    sin_el = np.sin(np.maximum(el, 0.0) * DEG)
    beam = 1000.0 * 0.7 ** ((1 / np.maximum(sin_el, 0.05)) ** 0.678) * clearness
    tilt = panel.tilt * DEG
    cos_inc = sin_el * np.cos(tilt) + np.cos(el * DEG) * np.sin(tilt) * np.cos((az - panel.azimuth) * DEG)
    diffuse = (60.0 + 140.0 * (1 - clearness)) * sin_el * (1 + np.cos(tilt)) / 2
    poa = beam * np.maximum(cos_inc, 0.0) + diffuse
    watts = np.clip(panel.wp * poa / 1000.0 * 0.9, 0.0, panel.wp) * panel.factor
    return np.where(el > 0, watts, 0.0)


def plane_power(t: float, panel: Panel, lat: float, lon: float, clearness: float = 1.0) -> float:
    """Watts of ``panel`` at ``t`` under a sky of ``clearness`` (1 clear, 0 overcast)."""
    return float(power_arrays(np.array([t], dtype=float), panel, lat, lon, np.array([clearness]))[0])


@dataclass
class Roof:
    panels: list[Panel]
    lat: float = 51.92
    lon: float = 4.48
    clock: Callable[[], float] = time.time
    weather: Callable[[date], float] = lambda day: 1.0  # clearness of a UTC day
    device_limit: int = 50
    others: int = 2  # devices other than pcu in device_data (the production and consumption meters)
    envoy_serial: str = "122446001637"

    @classmethod
    def planes(
        cls, spec: list[tuple[int, float, float]], seed: int = 1, serial_base: int = 482200000000, **kwargs
    ) -> "Roof":
        """A roof from (panels, azimuth, tilt) per plane; each inverter with its own period (5-15 min)."""
        rng = random.Random(seed)
        panels: list[Panel] = []
        for count, azimuth, tilt in spec:
            for _ in range(count):
                period = rng.choice((300, 300, 300, 600, 900))
                panels.append(
                    Panel(
                        str(serial_base + len(panels) + 1),
                        azimuth,
                        tilt,
                        period_s=period,
                        phase_s=rng.randrange(period),
                    )
                )
        return cls(panels, **kwargs)

    def panel(self, serial: str) -> Panel:
        return next(p for p in self.panels if p.serial == serial)

    def watts(self, panel: Panel, end: float) -> float:
        """The mean power of the interval ending at ``end`` (its middle, as the gateway's mean)."""
        mid = end - panel.period_s / 2
        day = datetime.fromtimestamp(mid, timezone.utc).date()
        return plane_power(mid, panel, self.lat, self.lon, self.weather(day))

    def reports(self, panel: Panel, start: float, end: float) -> Iterator[tuple[float, float]]:
        """Every (report time, W) of ``panel`` in [start, end): none at night (the inverters sleep), none
        after it died."""
        times, watts = self.report_arrays(panel, start, end)
        return zip(times.tolist(), watts.tolist(), strict=True)

    def report_arrays(self, panel: Panel, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        first = math.ceil((start - panel.phase_s) / panel.period_s) * panel.period_s + panel.phase_s
        stop = end if panel.dies_at is None else min(end, panel.dies_at)
        t = np.arange(first, stop, panel.period_s, dtype=float)
        lit = (sun_arrays(t - panel.period_s, self.lat, self.lon)[0] > 0) | (sun_arrays(t, self.lat, self.lon)[0] > 0)
        t = t[lit]
        mid = t - panel.period_s / 2
        days, which = np.unique(np.floor(mid / 86400), return_inverse=True)
        skies = [self.weather(datetime.fromtimestamp(d * 86400, timezone.utc).date()) for d in days.tolist()]
        clear = np.array(skies, dtype=float)[which] if len(t) else np.zeros(0)
        return t, power_arrays(mid, panel, self.lat, self.lon, clear)

    def last_report(self, panel: Panel, now: float) -> tuple[float, float] | None:
        """The newest report at ``now`` (up to two days back), or None."""
        t = math.floor((now - panel.phase_s) / panel.period_s) * panel.period_s + panel.phase_s
        if panel.dies_at is not None and t >= panel.dies_at:
            t = (
                math.ceil((panel.dies_at - panel.phase_s) / panel.period_s) * panel.period_s
                + panel.phase_s
                - panel.period_s
            )
        while t > now - 2 * 86400:  # back through the night, when the inverters sleep
            if sun(t - panel.period_s, self.lat, self.lon)[0] > 0 or sun(t, self.lat, self.lon)[0] > 0:
                return t, self.watts(panel, t)
            t -= panel.period_s
        return None

    # -- the gateway's answers -------------------------------------------------------------------
    def inverters_body(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        entries = []
        for panel in self.panels:
            last = self.last_report(panel, now)
            when, watts = (last[0], last[1]) if last else (0, 0.0)
            entries.append(
                {
                    "serialNumber": panel.serial,
                    "lastReportDate": int(when),
                    "devType": 1,
                    "lastReportWatts": round(watts),
                    "maxReportWatts": round(panel.wp * panel.factor * 0.9),
                }
            )
        return json.dumps(entries, indent=2)

    def device_data_body(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        devices: dict[str, object] = {}
        eid = 553648384
        for panel in self.panels:
            last = self.last_report(panel, now)
            reading = {}
            if last is not None:
                reading = {
                    "eid": eid + 17,
                    "interval_type": 0,
                    "endDate": int(last[0]),
                    "duration": panel.period_s,
                    "joulesProduced": round(last[1] * panel.period_s),
                    "acVoltageINmV": 236000,
                    "channelTemp": 30,
                }
            devices[str(eid)] = {
                "devName": "pcu",
                "sn": panel.serial,
                "active": True,
                "modGone": False,
                "channels": [
                    {
                        "chanEid": eid + 17,
                        "created": int(last[0]) if last else 0,
                        "watts": {"now": round(last[1]) if last else 0, "nowUsed": 0, "max": round(panel.wp * 0.9)},
                        "lastReading": reading,
                    }
                ],
            }
            eid += 256
        for k in range(self.others):
            devices[str(600000000 + 256 * k)] = {
                "devName": "eim",
                "sn": f"{self.envoy_serial}EIM{k + 1}",
                "active": True,
                "modGone": True,
                "channels": [
                    {
                        "chanEid": 1778385169 + 256 * k,
                        "lastReading": {"endDate": int(now) // 900 * 900, "duration": 900, "joulesProduced": 4_000_000},
                    }
                ],
            }
        listed = dict(list(devices.items())[: self.device_limit])
        listed["deviceCount"] = str(len(listed))
        listed["deviceDataLimit"] = str(self.device_limit)
        return json.dumps(listed)


def daily_weather(seed: int, sunny_share: float = 0.6) -> Callable[[date], float]:
    """A seeded clearness per day: sunny days near 1, the others 0.1-0.6."""

    def clearness(day: date) -> float:
        rng = random.Random(seed * 100003 + day.toordinal())
        return 0.9 + 0.1 * rng.random() if rng.random() < sunny_share else 0.1 + 0.5 * rng.random()

    return clearness


def utc_ts(day: date, hour: float = 0.0) -> float:
    return datetime.combine(day, datetime.min.time(), timezone.utc).timestamp() + hour * 3600


def day_range(first: date, days: int) -> Iterator[date]:
    for k in range(days):
        yield first + timedelta(days=k)
