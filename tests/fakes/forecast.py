"""Fake forecast services on 127.0.0.1 (plain HTTP), shaped like the real ones as their documentation and
public clients describe them. One server answers all three; point the settings at it:

- ``METEOSERVER_URL={url}/api``: ``GET /api/solar.php?locatie=NAME&key=KEY`` (or ``lat``/``long``) answers
  the "solar" JSON: ``plaatsnaam``, ``current``, ``forecast`` rows from the current hour on, every value a
  string. ``dash`` names fields written as ``-`` (Meteoserver's "no value") in every ``dash_every``-th row;
  the first ``no_forecast`` answers lack the ``forecast`` list (Meteoserver does this now and then). A wrong
  key answers 401.
- ``OPEN_METEO_URL={url}``: ``GET /v1/forecast`` (the forecast API): ``latitude``, ``longitude``, ``hourly``
  (known variables only), ``timezone`` (GMT only here), ``timeformat`` (``unixtime`` or ISO), ``past_days``
  0-92, ``forecast_days`` 0-16. The series starts at 00:00 GMT of today minus ``past_days``, as the real
  API does with ``timezone=GMT``; ``start_date``/``end_date`` are refused alongside them.
- ``OPEN_METEO_HISTORY_URL={url}/history``: ``GET /history/v1/forecast`` (the historical forecast API): the
  same parameters plus ``start_date``/``end_date`` (inclusive, GMT days), data from ``history_from`` on.

Open-Meteo's errors are JSON ``{"error": true, "reason": "..."}`` with HTTP 400; the daily quota answers
429 with the same shape (``quota=True``). Radiation is stamped at the END of the hour it averages.

Hostile modes for any path (``hostile``): ``huge`` (a Content-Length far beyond any cap), ``endless`` (a
chunked body that never ends), ``slow_body`` / ``slow_headers`` (one byte per second), ``deep`` (JSON
nested 100,000 deep). ``status`` forces an answer ``(code, body)`` on every path. ``nulls`` makes Open-Meteo
values null at given indexes; ``shuffle`` sends Meteoserver hours out of order and repeated.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .manners import Manner, MannerMixin

HOURLY = {
    "shortwave_radiation",
    "temperature_2m",
    "cloud_cover",
    "cloud_cover_low",
    "cloud_cover_mid",
    "cloud_cover_high",
    "visibility",
    "precipitation",
    "sunshine_duration",
    "direct_radiation",
    "diffuse_radiation",
}
QUOTA_REASON = "Daily API request limit exceeded. Please try again tomorrow."


def _ghi(t: int) -> float:
    """A smooth clear-ish day for the Netherlands: irradiance between 05 and 19 UTC, peak at 12 UTC."""
    hour = (t % 86400) / 3600
    return round(max(0.0, 750.0 * math.sin(math.pi * (hour - 5) / 14)) if 5 < hour < 19 else 0.0, 1)


def _utc_midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


class FakeForecastServices:
    def __init__(self, key: str = "sekrit-meteo-key-123", history_from: date = date(2022, 1, 1)):
        self.key = key
        self.history_from = history_from
        self.requests: list[tuple[str, dict]] = []
        self.dash: tuple[str, ...] = ()
        self.dash_every = 3
        self.no_forecast = 0
        self.quota = False
        self.hostile: str | None = None
        self.status: tuple[int, bytes] | None = None
        self.fail_history_after: int | None = None  # history requests after this many answer 500
        # Open-Meteo: {index: None (every variable null there) or the names null there}
        self.nulls: dict[int, tuple[str, ...] | None] = {}
        self.shuffle = False  # Meteoserver: the first 48 hours in reverse order, two of them repeated last
        self.manner = Manner()  # how it answers: framing, gzip, busy, redirect (tests/fakes/manners.py)
        self._lock = threading.Lock()
        fake = self

        class Handler(MannerMixin):
            protocol_version = "HTTP/1.1"
            server: ThreadingHTTPServer

            def do_GET(self):  # noqa: N802
                if self.intercepted():  # the manner's busy or redirect answer
                    return
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                with fake._lock:
                    fake.requests.append((parts.path, query))
                    count = len(fake.requests)
                try:
                    fake._answer(self, parts.path, query, count)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a cap or a deadline): what hostile modes are for

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.fake = self  # type: ignore[attr-defined]  # where MannerMixin finds the manner
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self, path: str) -> list[dict]:
        return [q for p, q in self.requests if p == path]

    # -- answers ---------------------------------------------------------------------------------------

    def _answer(self, handler, path: str, query: dict, count: int) -> None:
        if self.hostile:
            return self._hostile(handler)
        if self.status:
            return self._send(handler, self.status[0], self.status[1])
        if path == "/api/solar.php":
            return self._meteoserver(handler, query)
        if path in ("/v1/forecast", "/history/v1/forecast"):
            if self.quota:
                return self._json(handler, 429, {"error": True, "reason": QUOTA_REASON})
            history = path.startswith("/history")
            if history and self.fail_history_after is not None:
                if len(self.paths(path)) > self.fail_history_after:
                    return self._send(handler, 500, b"<html>Internal Server Error</html>", "text/html")
            try:
                body = self._open_meteo(query, history)
            except ValueError as exc:
                return self._json(handler, 400, {"error": True, "reason": str(exc)})
            return self._json(handler, 200, body)
        return self._send(handler, 404, b"Not Found", "text/plain")

    def _meteoserver(self, handler, query: dict) -> None:
        if query.get("key") != self.key:
            return self._send(handler, 401, b"Invalid API key", "text/plain")
        place = query.get("locatie") or f"{query.get('lat')},{query.get('long')}"
        with self._lock:
            missing = self.no_forecast > 0
            if missing:
                self.no_forecast -= 1
        head = {"plaatsnaam": [{"plaats": place}], "current": [{"time": str(int(time.time())), "temp": "12"}]}
        if missing:
            return self._json(handler, 200, head)
        start = int(time.time()) // 3600 * 3600
        rows = []
        for i in range(96):
            t = start + 3600 * i
            ghi = (_ghi(t) + _ghi(t + 3600)) / 2
            row = {
                "time": str(t),
                "cet": datetime.fromtimestamp(t, timezone.utc).strftime("%d-%m-%Y %H:%M"),
                "elev": "10.0",
                "az": "180",
                "temp": "12.5",
                "gr": f"{ghi * 0.36:.0f}",
                "gr_w": f"{ghi:.0f}",
                "sd": "30",
                "tc": "40",
                "lc": "20",
                "mc": "10",
                "hc": "5",
                "vis": "20000",
                "prec": "0.0",
            }
            if self.dash and i % self.dash_every == 1 % self.dash_every:  # dash_every 1: every row
                row.update({name: "-" for name in self.dash})
            rows.append(row)
        if self.shuffle:
            rows = rows[:48][::-1] + [dict(rows[5], temp="99.0"), dict(rows[20], temp="99.0")]
        self._json(handler, 200, dict(head, forecast=rows))

    def _open_meteo(self, query: dict, history: bool) -> dict:
        try:
            lat, lon = float(query["latitude"]), float(query["longitude"])
        except (KeyError, ValueError):
            raise ValueError("Parameter 'latitude' and 'longitude' must be numbers") from None
        if not -90 <= lat <= 90:
            raise ValueError(f"Latitude must be in range of -90 to 90°. Given: {lat}.")
        names = [n for n in query.get("hourly", "").split(",") if n]
        for name in names:
            if name not in HOURLY:
                raise ValueError(f"Cannot initialize SurfaceAndPressureVariable from invalid String value {name}.")
        if query.get("timezone", "GMT") not in ("GMT", "UTC"):
            raise ValueError("This fake only speaks timezone=GMT")
        ranged = "start_date" in query or "end_date" in query
        if ranged and ("past_days" in query or "forecast_days" in query):
            raise ValueError("Parameter 'start_date' and 'past_days' or 'forecast_days' are mutually exclusive")
        if ranged:
            try:
                first, last = date.fromisoformat(query["start_date"]), date.fromisoformat(query["end_date"])
            except (KeyError, ValueError):
                raise ValueError("Invalid date format. Make sure to use 'YYYY-MM-DD'") from None
            if last < first:
                raise ValueError("End-date must be larger or equals than start-date")
            limit = date.today() + timedelta(days=16)
            if history and not self.history_from <= first <= limit:
                raise ValueError(f"Parameter 'start_date' is out of allowed range from {self.history_from} to {limit}")
            start, hours = _utc_midnight(first), 24 * ((last - first).days + 1)
        elif history:
            raise ValueError("Parameter 'start_date' and 'end_date' are required")
        else:
            past, days = int(query.get("past_days", 0)), int(query.get("forecast_days", 7))
            if not 0 <= past <= 92:
                raise ValueError("Past days is invalid. Allowed range 0 to 92.")
            if not 0 <= days <= 16:
                raise ValueError("Forecast days is invalid. Allowed range 0 to 16.")
            today = datetime.now(timezone.utc).date()
            start, hours = _utc_midnight(today) - 86400 * past, 24 * (past + days)
        times = [start + 3600 * i for i in range(hours)]
        series: dict[str, list[float | None]] = {
            "shortwave_radiation": [_ghi(t - 1800) for t in times],  # the mean of the hour before t
            "temperature_2m": [round(8 + 6 * math.sin(math.pi * ((t % 86400) / 3600 - 9) / 12), 1) for t in times],
            "cloud_cover": [float((t // 3600) % 100) for t in times],
            "cloud_cover_low": [20.0] * hours,
            "cloud_cover_mid": [None] * hours,
            "cloud_cover_high": [5.0] * hours,
            "visibility": [24140.0] * hours,
            "precipitation": [0.0] * hours,
            "sunshine_duration": [1800.0 if _ghi(t - 1800) > 0 else 0.0 for t in times],
            "direct_radiation": [0.0] * hours,
            "diffuse_radiation": [0.0] * hours,
        }
        for index, nulled in self.nulls.items():
            for name in series if nulled is None else nulled:
                if index < hours:
                    series[name][index] = None
        unix = query.get("timeformat") == "unixtime"
        stamp = times if unix else [datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M") for t in times]
        return {
            "latitude": lat,
            "longitude": lon,
            "generationtime_ms": 0.1,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "timezone_abbreviation": "GMT",
            "elevation": 0.0,
            "hourly_units": {"time": "unixtime" if unix else "iso8601", "shortwave_radiation": "W/m²"},
            "hourly": {"time": stamp, **{name: series[name] for name in names}},
        }

    # -- wire ------------------------------------------------------------------------------------------

    def _json(self, handler, status: int, body: object) -> None:
        self._send(handler, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _send(handler, status: int, body: bytes, ctype: str = "application/json") -> None:
        handler.respond(status, body, ctype)

    def _hostile(self, handler) -> None:
        mode, out = self.hostile, handler.wfile
        if mode == "huge":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(200 * 1024 * 1024))
            handler.end_headers()
            block = b'{"forecast": [' + b" " * 65536
            for _ in range(200 * 16):
                out.write(block)
        elif mode == "endless":
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            out.write(b"e\r\n" + b'{"forecast": [' + b"\r\n")
            chunk = b'{"time": "1"},' * 4096
            while True:
                out.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        elif mode == "slow_headers":
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 600:
                out.write(bytes([byte]))
                out.flush()
                time.sleep(1)
        elif mode == "slow_body":
            body = json.dumps({"forecast": [{"time": "1", "gr_w": "1", "tc": "1", "temp": "1"}] * 40}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            out.flush()
            for byte in body:
                out.write(bytes([byte]))
                out.flush()
                time.sleep(1)
        elif mode == "deep":
            self._send(handler, 200, b"[" * 100_000 + b"]" * 100_000)
        else:
            raise ValueError(f"unknown hostile mode {mode!r}")


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    """``python -m tests.fakes.forecast [--key K] [--dash gr_w,temp] [--no-forecast N] [--quota]
    [--hostile MODE]``: serve until Ctrl-C; prints ``READY <url>``."""
    import argparse

    from tests.fakes import serve_until_interrupted

    parser = argparse.ArgumentParser(prog="python -m tests.fakes.forecast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--key", default="sekrit-meteo-key-123", help="the Meteoserver key it accepts")
    parser.add_argument("--dash", default="", help="fields Meteoserver writes as '-' in every third row")
    parser.add_argument("--no-forecast", type=int, default=0, help="answers without a forecast list first")
    parser.add_argument("--quota", action="store_true", help="Open-Meteo answers 429 (daily limit)")
    parser.add_argument("--hostile", choices=("huge", "endless", "slow_body", "slow_headers", "deep"))
    args = parser.parse_args(argv)
    fake = FakeForecastServices(key=args.key)
    fake.dash = tuple(n for n in args.dash.split(",") if n)
    fake.no_forecast, fake.quota, fake.hostile = args.no_forecast, args.quota, args.hostile
    print(f"READY {fake.url}", flush=True)
    return serve_until_interrupted(fake.close)


if __name__ == "__main__":
    raise SystemExit(main())
