"""Fake PV forecast services on 127.0.0.1, shaped like the real ones as their documentation and public
clients describe them (doc.forecast.solar; the ``forecast_solar`` library and its fixtures; Solcast's
documentation, the ``ha-solcast-solar`` integration and its simulator). One server answers both; point
``FORECAST_SOLAR_URL`` and ``SOLCAST_URL`` at ``url``. Answers come in any ``Manner`` (``manner``).

Forecast.Solar, ``GET [/{key}]/estimate/{lat}/{lon}/{dec}/{az}/{kwp}``:
- ``az`` in its own convention (-180..180, 0 = south, -90 = east); ``dec`` 0..90; a value out of range
  answers 422, a path of another shape 404 (an HTML "page not found", as the real server), a key not in
  ``keys`` 401. Without a key: the public plan.
- The estimate of ``days`` local days from ``today`` (the site's zone ``tz``): ``watt_hours_period`` keyed
  by the END of each period, local time: the sunrise key (off the hour, 0 Wh), every full hour, the sunset
  key (off the hour). ``?time=iso8601`` gives keys with their offset, ``utc`` in UTC, none the bare local
  form ``YYYY-MM-DD HH:MM:SS`` (the autumn hour's keys then come twice, as PHP writes them).
  ``?horizon=`` (comma-separated degrees) is recorded and cuts the sun while it is below.
- ``message.ratelimit`` ``{zone, period, limit, remaining}`` and ``X-Ratelimit-*`` headers; past ``limit``
  calls an address, 429 with ``retry-at`` in the block.
- ``fs_mode``: ``html`` (a 200 HTML page), ``empty`` (``watt_hours_period`` ``[]``, as PHP encodes an
  empty map), ``dark`` (every value 0: a day without sun), ``no_result`` (``result`` null).

Solcast, ``GET /rooftop_sites/{site}/forecasts?format=json&hours=N`` with ``Authorization: Bearer KEY``:
- a missing key 401, a key other than ``solcast_key`` 403, a site not in ``sites`` 404, each with
  ``{"response_status": {"error_code", "message"}}``; past ``daily_limit`` calls of a UTC day, 429
  ``TooManyRequests``; ``sc_mode`` ``busy`` answers 429 with an empty body (the service too busy).
- ``{"forecasts": [...]}``: half-hours from the next half-hour after ``now`` for ``hours`` hours,
  ``period_end`` in UTC with seven decimals, ``period`` ``PT30M``, ``pv_estimate``/``10``/``90`` the mean kW.
- ``sc_mode``: ``html``, ``empty`` (an empty list), ``no_list`` (no ``forecasts``), ``huge:<body>`` (that body).
"""

from __future__ import annotations

import json
import math
import threading
from datetime import date, datetime, time, timedelta, timezone
from http.server import ThreadingHTTPServer
from typing import Sequence
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.loopback import LoopbackServer
from tests.fakes.manners import Manner, MannerMixin

NOT_FOUND_PAGE = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Page not found</body></html>"


def sun_elevation(moment: datetime, lat: float, lon: float) -> float:
    """Degrees, a textbook approximation (declination and hour angle): enough for a fake's day."""
    utc = moment.astimezone(timezone.utc)
    day = utc.timetuple().tm_yday
    decl = math.radians(-23.44) * math.cos(2 * math.pi * (day + 10) / 365)
    solar_h = utc.hour + utc.minute / 60 + utc.second / 3600 + lon / 15
    hour_angle = math.radians(15 * (solar_h - 12))
    phi = math.radians(lat)
    sin_el = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_el))))


def sun_azimuth(moment: datetime, lat: float, lon: float) -> float:
    """Degrees from north, the same approximation (east in the morning, west in the afternoon)."""
    utc = moment.astimezone(timezone.utc)
    solar_h = utc.hour + utc.minute / 60 + lon / 15
    return (180.0 + 15.0 * (solar_h - 12)) % 360.0


class _Handler(MannerMixin):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        fake = self.server.fake
        if self.intercepted():
            return
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        fake.requests.append((parts.path, query, dict(self.headers.items()), self.client_address[0]))
        segments = [s for s in parts.path.split("/") if s]
        if segments[:1] == ["rooftop_sites"]:
            return self._solcast(segments, query)
        return self._forecast_solar(segments, query)

    # -- Forecast.Solar ---------------------------------------------------------------------------------
    def _fs_json(self, status: int, document: dict, headers: Sequence[tuple[str, object]]) -> None:
        self.respond(status, json.dumps(document), headers=headers)

    def _forecast_solar(self, segments: list[str], query: dict[str, str]) -> None:
        fake = self.server.fake
        key = None
        if len(segments) == 7 and segments[1] == "estimate":
            key, segments = segments[0], segments[1:]
        if len(segments) != 6 or segments[0] != "estimate":
            return self.respond(404, NOT_FOUND_PAGE, "text/html")
        if key is not None and key not in fake.keys:
            return self._fs_json(
                401, {"result": None, "message": {"code": 401, "type": "error", "text": "Invalid API key"}}, []
            )
        try:
            lat, lon, dec, az, kwp = (float(s) for s in segments[1:])
        except ValueError:
            return self.respond(404, NOT_FOUND_PAGE, "text/html")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= dec <= 90 and -180 <= az <= 180 and kwp > 0):
            text = "Invalid plane: declination 0..90, azimuth -180..180, kwp > 0"
            return self._fs_json(422, {"result": None, "message": {"code": 422, "type": "error", "text": text}}, [])
        with fake.lock:
            calls = fake.fs_calls.setdefault(self.client_address[0], [])
            now = datetime.now(timezone.utc)
            calls[:] = [t for t in calls if (now - t).total_seconds() < fake.fs_period]
            limit = fake.fs_limit if key is None else fake.fs_key_limit
            if len(calls) >= limit:
                retry = calls[0] + timedelta(seconds=fake.fs_period)
                block = {
                    "zone": "IP ADDRESS",
                    "period": fake.fs_period,
                    "limit": limit,
                    "retry-at": retry.astimezone(fake.tz).isoformat(timespec="seconds"),
                }
                document = {
                    "result": "Rate limit for API calls reached.",
                    "message": {
                        "code": 429,
                        "type": "error",
                        "text": "Rate limit for API calls reached.",
                        "ratelimit": block,
                    },
                }
                headers = [("X-Ratelimit-Limit", limit), ("X-Ratelimit-Period", fake.fs_period)]
                return self._fs_json(429, document, headers)
            calls.append(now)
            remaining = limit - len(calls)
        if fake.fs_mode == "html":
            return self.respond(200, b"<html><body>Maintenance</body></html>", "text/html")
        block = {"zone": "IP ADDRESS", "period": fake.fs_period, "limit": limit, "remaining": remaining}
        headers = [
            ("X-Ratelimit-Limit", limit),
            ("X-Ratelimit-Period", fake.fs_period),
            ("X-Ratelimit-Remaining", remaining),
        ]
        if "horizon" in query:
            fake.horizons.append(query["horizon"])
        horizon = [float(h) for h in query["horizon"].split(",")] if query.get("horizon") else []
        periods = fake.fs_periods(lat, lon, dec, az, kwp, horizon, query.get("time"))
        info = {
            "latitude": lat,
            "longitude": lon,
            "distance": 0,
            "place": "Fake street 1",
            "timezone": fake.tz.key,
            "time": datetime.now(fake.tz).isoformat(timespec="seconds"),
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        message = {"code": 0, "type": "success", "text": "", "pid": "fake", "info": info, "ratelimit": block}
        if fake.fs_mode == "no_result":
            body = json.dumps({"result": None, "message": message})
            return self.respond(200, body, headers=headers)
        if fake.fs_mode == "empty":
            period_text = "[]"
        else:
            period_text = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in periods) + "}"
        body = (
            '{"result": {"watts": {}, "watt_hours_period": ' + period_text + ', "watt_hours": {}, '
            '"watt_hours_day": {}}, "message": ' + json.dumps(message) + "}"
        )
        self.respond(200, body, headers=headers)

    # -- Solcast ----------------------------------------------------------------------------------------
    def _sc_error(self, status: int, code: str, message: str) -> None:
        self.respond(status, json.dumps({"response_status": {"error_code": code, "message": message}}))

    def _solcast(self, segments: list[str], query: dict[str, str]) -> None:
        fake = self.server.fake
        if len(segments) != 3 or segments[2] != "forecasts":
            return self._sc_error(404, "NotFound", "The requested resource could not be found.")
        auth = self.headers.get("Authorization", "")
        key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else query.get("api_key")
        if not key:
            return self._sc_error(401, "KeyRequired", "An API key must be specified.")
        if key != fake.solcast_key:
            return self._sc_error(403, "InvalidKey", "Invalid API key.")
        if fake.sc_mode == "busy":
            return self.respond(429, b"", "text/plain")
        with fake.lock:
            today = datetime.now(timezone.utc).date()
            if fake.sc_day != today:
                fake.sc_day, fake.sc_calls = today, 0
            if fake.sc_calls >= fake.daily_limit:
                return self._sc_error(429, "TooManyRequests", "You have exceeded your free daily limit.")
            fake.sc_calls += 1
        site = segments[1]
        if site not in fake.sites:
            return self._sc_error(404, "SiteNotFound", "The specified site cannot be found.")
        if fake.sc_mode == "html":
            return self.respond(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        if fake.sc_mode and fake.sc_mode.startswith("huge:"):
            return self.respond(200, fake.sc_mode[len("huge:") :])
        if fake.sc_mode == "no_list":
            return self.respond(200, json.dumps({"estimated_actuals": []}))
        hours = int(query.get("hours", "168"))
        items = [] if fake.sc_mode == "empty" else fake.sc_periods(fake.sites[site], hours)
        self.respond(200, json.dumps({"forecasts": items}))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakePVServices


class FakePVServices(LoopbackServer):
    server_class = _Server
    handler_class = _Handler

    def __init__(
        self,
        lat_tz: str = "Europe/Amsterdam",
        today: date | None = None,
        days: int = 2,
        now: datetime | None = None,
        manner: Manner | None = None,
    ) -> None:
        self.tz = ZoneInfo(lat_tz)
        self.today = today
        self.days = days
        self.now = now
        self.manner = manner or Manner()
        self.keys = {"fskey0123456789"}
        self.fs_limit, self.fs_key_limit, self.fs_period = 12, 60, 3600
        self.fs_calls: dict[str, list[datetime]] = {}
        self.fs_mode: str | None = None
        self.horizons: list[str] = []
        self.solcast_key = "sc-secret-key-4567"
        self.sites: dict[str, float] = {"aaaa-1111-bbbb-2222": 3.5, "cccc-3333-dddd-4444": 2.0}  # kW AC
        self.daily_limit = 10
        self.sc_calls = 0
        self.sc_day: date | None = None
        self.sc_mode: str | None = None
        self.requests: list[tuple[str, dict[str, str], dict[str, str], str]] = []
        self.lock = threading.Lock()

    # what the services compute ----------------------------------------------------------------------
    def _power_w(self, moment: datetime, lat: float, lon: float, dec: float, az_south: float, kwp: float,
                 horizon: list[float]) -> float:  # fmt: skip
        elevation = sun_elevation(moment, lat, lon)
        if elevation <= 0:
            return 0.0
        sun_az = sun_azimuth(moment, lat, lon)
        if horizon:
            step = 360.0 / len(horizon)
            if elevation < horizon[int(sun_az // step) % len(horizon)]:
                return 0.0
        facing = (az_south + 180.0) % 360.0  # from north
        tilt = math.radians(dec)
        cos_inc = math.sin(math.radians(elevation)) * math.cos(tilt) + math.cos(math.radians(elevation)) * math.sin(
            tilt
        ) * math.cos(math.radians(sun_az - facing))
        return max(0.0, 0.75 * kwp * 1000.0 * max(cos_inc, 0.1 * math.sin(math.radians(elevation))))

    def _sun_edges(self, day: date, lat: float, lon: float) -> tuple[datetime, datetime] | None:
        """Sunrise and sunset of the local day, to the second (None when the sun stays down)."""
        start = datetime.combine(day, time(0), self.tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), time(0), self.tz).astimezone(timezone.utc)
        up = [start + timedelta(minutes=m) for m in range(int((end - start).total_seconds() // 60))]
        up = [t for t in up if sun_elevation(t, lat, lon) > 0]
        if not up:
            return None
        return up[0] + timedelta(seconds=17), up[-1] + timedelta(seconds=23)

    def fs_periods(self, lat: float, lon: float, dec: float, az: float, kwp: float, horizon: list[float],
                   time_format: str | None) -> list[tuple[str, int]]:  # fmt: skip
        first = self.today or datetime.now(self.tz).date()
        out: list[tuple[str, int]] = []
        for n in range(self.days):
            edges = self._sun_edges(first + timedelta(days=n), lat, lon)
            if edges is None:
                continue
            rise, set_ = edges
            ends = [rise]
            hour = rise.replace(minute=0, second=0) + timedelta(hours=1)
            while hour < set_:
                ends.append(hour)
                hour += timedelta(hours=1)
            ends.append(set_)
            previous = rise
            for end in ends:
                minutes = int((end - previous).total_seconds() // 60)
                wh = (
                    sum(
                        self._power_w(previous + timedelta(minutes=m + 0.5), lat, lon, dec, az, kwp, horizon)
                        for m in range(minutes)
                    )
                    / 60.0
                )
                if self.fs_mode == "dark":
                    wh = 0.0
                out.append((self._key(end, time_format), int(round(wh))))
                previous = end
        return out

    def _key(self, moment: datetime, time_format: str | None) -> str:
        local = moment.astimezone(self.tz)
        if time_format == "iso8601":
            return local.isoformat(timespec="seconds")
        if time_format == "utc":
            return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
        if time_format == "seconds":
            return str(int(moment.timestamp()))
        return local.strftime("%Y-%m-%d %H:%M:%S")

    def sc_periods(self, capacity_kw: float, hours: int) -> list[dict]:
        now = (self.now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        end = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0) + timedelta(minutes=30)
        lat, lon = 51.92, 4.48
        items = []
        for i in range(hours * 2 + 1):  # Solcast sends one half-hour more than an even count
            period_end = end + timedelta(minutes=30 * i)
            middle = period_end - timedelta(minutes=15)
            kw = round(capacity_kw * 0.8 * max(0.0, math.sin(math.radians(sun_elevation(middle, lat, lon)))), 4)
            items.append(
                {
                    "pv_estimate": kw,
                    "pv_estimate10": round(kw * 0.6, 4),
                    "pv_estimate90": round(kw * 1.15, 4),
                    "period_end": period_end.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
                    "period": "PT30M",
                }
            )
        return items
