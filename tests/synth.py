"""Synthetic gateway histories with their known per-hour truth, for tests, the demo and the benchmark.

A seeded generator (stdlib only): a daylight power curve (sun elevation at the site times a smooth,
random cloud factor), piecewise linear between knots every 15 minutes so the true energy of any
interval is exact; five-minute samples with jitter (whole seconds, as stored); the nightly outage just
after 23:00; optional long gap, 32-bit counter wrap, counter reset, night-time metering noise (an eim
meter drifting down by the inverters' standby draw), and whichever days are asked for, DST days
included. It emits rows for ``enphase_production`` and JSON lines in the ``--replay`` format, plus a
Meteoserver-layout forecast file for the same hours.

``truth[ts_utc hour start]`` says what a correct collector must find: the energy actually produced
(kWh) and exported, or None where it cannot be known (an hour with a reset), and the flags it must raise.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from homepower.hours import EPOCH, LONG_GAP, LONG_GAP_S, RESET, UTC, WRAP, WRAP_WH, Hour, epoch_s, to_utc, utc_hours

KNOT_S = 900  # the true power curve is linear between knots this far apart (s)


@dataclass(frozen=True)
class HourTruth:
    kwh_pv: float | None  # energy produced in the hour; None: unknowable (the counter was reset)
    kwh_return: float | None  # energy exported in the hour; None without a meter
    flags: frozenset = frozenset()  # flags the collector must raise for the hour


@dataclass
class Synthetic:
    tz: ZoneInfo
    hours: list[Hour]
    samples: list[dict]  # enphase_production rows, oldest first
    truth: dict[datetime, HourTruth]
    source: str
    meteo_rows: list[dict] = field(default_factory=list)  # Meteoserver "forecast" entries

    def rows(self) -> list[dict]:
        """Rows for ``store.upsert("enphase_production", rows)``."""
        return self.samples

    def replay_lines(self) -> list[str]:
        """The samples as ``--replay`` JSON lines: ``{"ts": ISO with offset, "body": /production.json}``
        (plus ``whExportedLifetime`` where there is a grid meter)."""
        lines = []
        for s in self.samples:
            line = {"ts": _iso_local(s["ts_utc"], self.tz), "body": production_json(s)}
            if s.get("whExportedLifetime") is not None:
                # The poller's own spool lines carry the grid meter's export beside the body this way.
                line["whExportedLifetime"] = s["whExportedLifetime"]
            lines.append(json.dumps(line))
        return lines

    def write_replay(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(self.replay_lines()) + "\n")

    def meteoserver(self, place: str = "Rotterdam") -> dict:
        """A forecast document in the Meteoserver "solar" layout (every value a string) for the hours."""
        return {
            "plaatsnaam": [{"plaats": place}],
            "current": [self.meteo_rows[0]] if self.meteo_rows else [],
            "forecast": self.meteo_rows,
        }

    def write_meteo(self, path, place: str = "Rotterdam") -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.meteoserver(place), fh)


def _iso_local(ts_utc: datetime, tz: ZoneInfo) -> str:
    return ts_utc.replace(tzinfo=UTC).astimezone(tz).isoformat()


def production_json(sample: dict) -> dict:
    """A ``/production.json`` body (firmware 7.x shape) for one sample: the eim entry active for an
    ``eim`` sample, the inverters entry carrying the lifetime otherwise."""
    unix = int(epoch_s(sample["ts_utc"]))
    watts = sample.get("wattsNow") or 0.0
    lifetime = sample["wattHoursLifetime"]
    eim = sample["source"] == "eim"
    body = {
        "production": [
            {
                "type": "inverters",
                "activeCount": 12,
                "readingTime": unix,
                "wNow": round(watts),
                "whLifetime": 0 if eim else lifetime,
            },
            {
                "type": "eim",
                "activeCount": 1 if eim else 0,
                "measurementType": "production",
                "readingTime": unix,
                "wNow": watts,
                "whLifetime": lifetime if eim else 0.0,
                "whToday": sample.get("wattHoursToday") or 0.0,
                "whLastSevenDays": 0.0,
            },
        ]
    }
    return body


def sun_sin_elevation(t_s: float, lat: float, lon: float) -> float:
    """Sine of the sun's elevation (a textbook approximation; good enough for a daylight shape)."""
    dt = EPOCH + timedelta(seconds=t_s)
    doy = dt.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    solar_hours = dt.hour + dt.minute / 60 + dt.second / 3600 + lon / 15.0
    hour_angle = math.radians(15.0 * (solar_hours - 12.0))
    phi = math.radians(lat)
    return math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)


def _pos_integral(a: float, b: float, t0: float, t1: float) -> float:
    """Integral over [t0, t1] of max(0, a + b*t)."""
    if b == 0:
        return max(0.0, a) * (t1 - t0)
    root = -a / b
    lo, hi = (max(t0, root), t1) if b > 0 else (t0, min(t1, root))
    if hi <= lo:
        return 0.0
    return a * (hi - lo) + b * (hi * hi - lo * lo) / 2.0


class _Curve:
    """True power (W) linear between knots; exact cumulative energy (Wh) produced and exported."""

    def __init__(
        self,
        t0: float,
        t1: float,
        rng: random.Random,
        peak_w: float,
        lat: float,
        lon: float,
        consumption_w: float,
        cloud_at=None,
        clear_sky=None,
    ):
        self.t0 = t0
        n = int(math.ceil((t1 - t0) / KNOT_S)) + 1
        cloud, self.p, self.cloud = 0.8, [], []
        self.ghi: list[float] = []  # with ``clear_sky``: the weather's GHI (W/m²) at each knot
        for k in range(n):
            cloud = min(1.0, max(0.15, cloud + rng.gauss(0.0, 0.08)))  # a slow random walk: smooth weather
            if cloud_at is not None:
                cloud = min(1.0, max(0.0, cloud_at(t0 + k * KNOT_S)))
            if clear_sky is not None:  # a real roof's clear-sky output, dimmed by the cloud
                ghi, roof_w = clear_sky(t0 + k * KNOT_S)
                self.p.append(cloud * roof_w)
                self.ghi.append(cloud * ghi)
            else:
                sin_el = sun_sin_elevation(t0 + k * KNOT_S, lat, lon)
                self.p.append(peak_w * cloud * max(0.0, sin_el) ** 1.2)
            self.cloud.append(cloud)
        self.c = consumption_w
        self.e, self.x, self.d = [0.0], [0.0], [0.0]
        for k in range(n - 1):
            p0, p1 = self.p[k], self.p[k + 1]
            self.e.append(self.e[-1] + (p0 + p1) / 2 * KNOT_S / 3600.0)
            self.x.append(self.x[-1] + self._export(k, KNOT_S))
            self.d.append(self.d[-1] + (KNOT_S if self._dark(k) else 0.0))

    def _export(self, k: int, tau: float) -> float:
        p0, p1 = self.p[k], self.p[k + 1]
        return _pos_integral(p0 - self.c, (p1 - p0) / KNOT_S, 0.0, tau) / 3600.0

    def _at(self, t: float) -> tuple[int, float]:
        k = min(int((t - self.t0) // KNOT_S), len(self.p) - 2)
        return k, t - self.t0 - k * KNOT_S

    def _dark(self, k: int) -> bool:
        return self.p[k] == 0.0 and self.p[k + 1] == 0.0

    def dark_s(self, t: float) -> float:
        """Seconds of darkness (no production at all) from t0 to t: when the standby draw shows."""
        k, tau = self._at(t)
        return self.d[k] + (tau if self._dark(k) else 0.0)

    def power(self, t: float) -> float:
        k, tau = self._at(t)
        return self.p[k] + (self.p[k + 1] - self.p[k]) * tau / KNOT_S

    def energy(self, t: float) -> float:
        """Wh produced from t0 to t."""
        k, tau = self._at(t)
        p0, p1 = self.p[k], self.p[k + 1]
        return self.e[k] + (p0 * tau + (p1 - p0) * tau * tau / (2 * KNOT_S)) / 3600.0

    def exported(self, t: float) -> float:
        k, tau = self._at(t)
        return self.x[k] + self._export(k, tau)


def generate(
    start: date,
    days: int = 1,
    tz: str | ZoneInfo = "Europe/Amsterdam",
    seed: int = 1,
    *,
    step_s: int = 300,
    jitter_s: int = 30,
    peak_w: float = 4500.0,
    source: str = "eim",
    start_wh: float = 5_000_000.0,
    meter: bool = True,
    consumption_w: float = 400.0,
    outage: bool = True,
    noise: bool = True,
    standby_w: float = 1.5,
    gap: tuple[datetime, float] | None = None,
    wrap_at: datetime | None = None,
    reset_at: datetime | None = None,
    reset_to_wh: float = 40_000.0,
    lat: float = 51.92,
    lon: float = 4.48,
    cloud_at=None,
    clear_sky=None,
) -> Synthetic:
    """A history of ``days`` local days from ``start``, with its truth.

    ``gap``: (local start, hours) with no samples. ``wrap_at``: local time the 32-bit lifetime wraps
    (the counter is started so that it does). ``reset_at``: local time the counter restarts at
    ``reset_to_wh``. ``noise``: an eim counter drifts down by ``standby_w`` at night.
    ``outage``: no samples from 23:00:30 to 23:12 local, every day. ``cloud_at(unix s) -> 0..1``: the
    share of clear-sky power (default: a seeded random walk). ``clear_sky(unix s) -> (GHI W/m², roof W)``:
    a real roof's clear-sky output and the sky's irradiance (default: a horizontal textbook shape, which
    a calibration reads as a flat roof)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    rng = random.Random(seed)
    first = to_utc(datetime.combine(start, datetime.min.time()), zone)
    last = to_utc(datetime.combine(start + timedelta(days=days), datetime.min.time()), zone)
    t_first, t_last = epoch_s(first), epoch_s(last)
    curve = _Curve(t_first - 2 * 3600, t_last + 2 * 3600, rng, peak_w, lat, lon, consumption_w, cloud_at, clear_sky)

    def local_s(local: datetime) -> float:
        return epoch_s(to_utc(local, zone))

    gap_span = None
    if gap is not None:
        g0 = local_s(gap[0])
        gap_span = (g0, g0 + gap[1] * 3600.0)
    t_reset = local_s(reset_at) if reset_at is not None else None
    offset = start_wh
    if wrap_at is not None:  # start the counter so it reaches 2^32 watt-seconds at wrap_at
        offset = WRAP_WH - curve.energy(local_s(wrap_at)) - 0.0005
    samples: list[dict] = []
    times: list[float] = []
    t = t_first - 3600.0
    while t <= t_last + 3600.0:
        ts = t + rng.randint(-jitter_s, jitter_s) if jitter_s else t
        t += step_s
        when = EPOCH + timedelta(seconds=ts)
        local = when.replace(tzinfo=UTC).astimezone(zone)
        if outage and local.hour == 23 and (local.minute, local.second) >= (0, 30) and local.minute < 12:
            continue
        if gap_span and gap_span[0] <= ts < gap_span[1]:
            continue
        standby = standby_w * curve.dark_s(ts) / 3600.0 if noise and source == "eim" else 0.0
        produced = curve.energy(ts)
        raw = offset + produced - standby
        if t_reset is not None and ts >= t_reset:
            raw = reset_to_wh + produced - curve.energy(t_reset) - standby
        if wrap_at is not None:
            raw = raw % WRAP_WH
        local_midnight = to_utc(datetime(local.year, local.month, local.day), zone)
        samples.append(
            {
                "ts_utc": when,
                "year": local.year,
                "month": local.month,
                "day": local.day,
                "hour": local.hour,
                "minute": local.minute,
                "wattHoursToday": round(produced - curve.energy(epoch_s(local_midnight)), 3),
                "wattHoursSevenDays": None,
                "wattHoursLifetime": round(raw, 3),
                "wattsNow": round(curve.power(ts), 3),
                "whExportedLifetime": round(2_000_000.0 + curve.exported(ts), 3) if meter else None,
                "source": source,
            }
        )
        times.append(ts)

    hours = utc_hours(first, last, zone)
    truth: dict[datetime, HourTruth] = {}
    for hour in hours:
        a, b = hour.start_s, hour.start_s + 3600.0
        flags = set()
        kwh_pv: float | None = (curve.energy(b) - curve.energy(a)) / 1000.0
        if t_reset is not None and _straddles(times, a, b, t_reset):
            kwh_pv, flags = None, {RESET}
        if wrap_at is not None and _straddles(times, a, b, local_s(wrap_at)):
            flags.add(WRAP)
        if any(_span(times, x) > LONG_GAP_S for x in (a, b)):
            flags.add(LONG_GAP)
        kwh_return = (curve.exported(b) - curve.exported(a)) / 1000.0 if meter else None
        truth[hour.start] = HourTruth(kwh_pv, kwh_return, frozenset(flags))

    meteo_rows = [_meteo_row(curve, hr, rng, peak_w, lat, lon) for hr in hours]
    return Synthetic(zone, hours, samples, truth, source, meteo_rows)


def _span(times: list[float], t: float) -> float:
    """Distance between the samples around ``t`` (0 when one is at ``t``)."""
    k = bisect_right(times, t)
    if k == 0 or k == len(times):
        return math.inf
    return 0.0 if times[k - 1] == t else times[k] - times[k - 1]


def _straddles(times: list[float], a: float, b: float, event: float) -> bool:
    """Whether ``event`` falls between the start boundary's left sample and the end boundary's right
    one (the samples a collector walks for the hour [a, b))."""
    k_a, k_b = bisect_right(times, a), bisect_right(times, b)
    if k_a == 0 or k_b == len(times) and times[-1] != b:
        return False
    lo = times[k_a - 1]
    hi = times[k_b - 1] if times[k_b - 1] == b else times[k_b]
    return lo < event <= hi


def _meteo_row(curve: _Curve, hour: Hour, rng: random.Random, peak_w: float, lat: float, lon: float) -> dict:
    a = hour.start_s
    mean_w = (curve.energy(a + 3600.0) - curve.energy(a)) / 1.0  # Wh over an hour = mean W
    k, _ = curve._at(a + 1800.0)
    sin_el = sun_sin_elevation(a, lat, lon)
    # Meteoserver is Dutch: its "cet" column is Dutch clock time wherever the site is.
    dutch = hour.start.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    gr_w = max(0.0, mean_w / peak_w * 1000.0 / 0.85) if mean_w > 0 else 0.0
    if curve.ghi:  # the sky's own irradiance, mean of the hour's knots
        first = curve._at(a)[0]
        knots = curve.ghi[first : first + int(3600 / KNOT_S) + 1]
        gr_w = sum(knots) / len(knots)
    temp = 12.0 + 6.0 * math.sin(2 * math.pi * ((a / 3600.0) % 24 - 9) / 24) + rng.uniform(-1, 1)
    return {
        "time": str(hour.unix),
        "cet": dutch.strftime("%d-%m-%Y %H:%M"),
        "elev": f"{math.degrees(math.asin(max(-1.0, min(1.0, sin_el)))):.1f}",
        "az": "180",
        "temp": f"{temp:.1f}",
        "gr": str(round(gr_w * 0.36)),
        "gr_w": str(round(gr_w)),
        "sd": "0",
        "tc": str(round((1.0 - curve.cloud[k]) * 100)),
        "lc": "0",
        "mc": "0",
        "hc": "0",
        "vis": "20000",
        "prec": "0",
    }
