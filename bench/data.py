"""Seeded synthetic data for the bench, made on the fly and never committed.

A year of five-minute gateway samples (a daylight curve under passing clouds, a lifetime counter,
jittered sample times, the gateway's nightly outage just after 23:00) as replay JSON lines, and a
Meteoserver "solar" forecast file over the same hours. homepower.synth (the collector's generator)
is used for the samples when it offers replay lines; this module is the fallback and the forecast maker.
"""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

UTC = timezone.utc
STEP = timedelta(minutes=5)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def sun_elevation(when: datetime, lat: float, lon: float) -> tuple[float, float]:
    """Approximate sun (elevation, azimuth from north) in degrees at UTC ``when`` (good to ~1 degree:
    enough for a synthetic daylight curve; the model itself uses pvlib)."""
    day = when.timetuple().tm_yday
    hours = when.hour + when.minute / 60 + when.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
            - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma))
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                       - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    solar_minutes = hours * 60 + eqtime + 4 * lon
    ha = math.radians(solar_minutes / 4 - 180)
    phi = math.radians(lat)
    cos_zen = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zen = math.acos(max(-1.0, min(1.0, cos_zen)))
    elev = 90 - math.degrees(zen)
    sin_zen = math.sin(zen) or 1e-9
    cos_az = (math.sin(decl) - math.sin(phi) * cos_zen) / (math.cos(phi) * sin_zen)
    az = math.degrees(math.acos(max(-1.0, min(1.0, cos_az))))
    if ha > 0:
        az = 360 - az
    return elev, az


def clear_ghi(elev_deg: float) -> float:
    """A simple clear-sky global horizontal irradiance, W/m2 (Haurwitz)."""
    if elev_deg <= 0:
        return 0.0
    cz = math.sin(math.radians(elev_deg))
    return 1098.0 * cz * math.exp(-0.057 / cz)


class Weather:
    """Cloud cover as a seeded random walk, one value per hour (UTC hour start -> 0..1 clear fraction)."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.cover: dict[datetime, float] = {}
        self.level = 0.5

    def cloud(self, hour: datetime) -> float:
        if hour not in self.cover:
            self.level = min(1.0, max(0.0, self.level + self.rng.gauss(0, 0.15)))
            self.cover[hour] = self.level
        return self.cover[hour]


def year_samples(year: int = 2024, tz: ZoneInfo = AMSTERDAM, seed: int = 2024,
                 lat: float = 51.92, lon: float = 4.48, wp: float = 12 * 405.0,
                 weather: Weather | None = None):
    """Yield (aware local datetime, body of /api/v1/production) every five minutes of local ``year``."""
    rng = random.Random(seed)
    weather = weather or Weather(seed)
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    lifetime = 3_000_000.0  # Wh
    today = 0.0
    day_energy: list[float] = [0.0] * 7
    current_day = None
    t = start
    while t < end:
        local = t.astimezone(tz)
        hour = t.replace(minute=0, second=0, microsecond=0)
        elev, _ = sun_elevation(t, lat, lon)
        clear = 1.0 - 0.75 * weather.cloud(hour)
        watts = max(0.0, wp * 0.85 * clear_ghi(elev) / 1000 * clear * rng.uniform(0.95, 1.05))
        energy = watts * STEP.total_seconds() / 3600
        if local.date() != current_day:
            current_day = local.date()
            day_energy = [0.0] + day_energy[:6]
            today = 0.0
        lifetime += energy
        today += energy
        day_energy[0] = today
        # The gateway does not answer for a few minutes after 23:00 local, every day.
        outage = local.hour == 23 and 5 <= local.minute < 20
        if not outage:
            jitter = timedelta(seconds=rng.randint(0, 40))
            body = {"wattHoursToday": round(today), "wattHoursSevenDays": round(sum(day_energy)),
                    "wattHoursLifetime": round(lifetime), "wattsNow": round(watts)}
            yield (t + jitter).astimezone(tz), body
        t += STEP


def write_replay(path: Path, samples) -> int:
    """Write replay JSON lines (``{"ts": ISO 8601 with offset, "body": …}``); returns the count."""
    n = 0
    with path.open("w") as out:
        for when, body in samples:
            out.write(json.dumps({"ts": when.isoformat(), "body": body}, separators=(",", ":")) + "\n")
            n += 1
    return n


def write_meteo(path: Path, start_utc: datetime, hours: int, seed: int = 2024, lat: float = 51.92,
                lon: float = 4.48, place: str = "Bench", weather: Weather | None = None) -> int:
    """A Meteoserver "solar" file of ``hours`` rows from ``start_utc`` (every value a string)."""
    weather = weather or Weather(seed)
    rng = random.Random(seed + 1)
    cet = AMSTERDAM  # Meteoserver's "cet" column is Dutch local time
    rows = []
    for i in range(hours):
        t = start_utc + timedelta(hours=i)
        elev, az = sun_elevation(t, lat, lon)
        # The hour's mean irradiance: the clear sky at a few points in the hour under its clouds.
        mean_clear = sum(clear_ghi(sun_elevation(t + timedelta(minutes=m), lat, lon)[0])
                         for m in (5, 15, 25, 35, 45, 55)) / 6
        cloud = weather.cloud(t)
        gr_w = mean_clear * (1.0 - 0.75 * cloud)
        temp = 10 + 8 * math.sin(2 * math.pi * (t.timetuple().tm_yday - 110) / 365) + rng.gauss(0, 1.5)
        rows.append({"time": str(int(t.timestamp())), "cet": t.astimezone(cet).strftime("%d-%m-%Y %H:%M"),
                     "elev": f"{elev:.1f}", "az": f"{az:.0f}", "temp": f"{temp:.1f}",
                     "gr": str(round(gr_w * 0.36)), "gr_w": str(round(gr_w)), "sd": "0",
                     "tc": str(round(cloud * 100)), "lc": "0", "mc": "0", "hc": "0", "vis": "10000",
                     "prec": "0"})
    path.write_text(json.dumps({"plaatsnaam": [{"plaats": place}], "current": [], "forecast": rows}))
    return hours
