"""``python -m solar3p fetch``: download a forecast file, written atomically in Meteoserver "solar" layout.

Sources (base URLs are settings, so tests point them at a local server):
- ``meteoserver``: ``{METEOSERVER_URL}/solar.php?locatie=NAME&key=KEY`` (or ``lat``/``long``), needs
  METEOSERVER_KEY. Default base ``https://data.meteoserver.nl/api``.
- ``open-meteo``: ``{OPEN_METEO_URL}/v1/forecast`` with hourly shortwave radiation, temperature and cloud
  cover, no key. Default base ``https://api.open-meteo.com``. Converted to the Meteoserver layout.

The download is checked (parsed as a forecast) before it replaces the previous file; a failed or bad
download leaves the last good file in place. The key never appears in a message.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from homepower.errors import AuthError, ConfigError, DataError, HomepowerError, UnreachableError
from homepower.settings import http_url, read_environment
from solar3p.meteo import MeteoFileError, parse_meteo
from solar3p.files import DUTCH, write_forecast

log = logging.getLogger(__name__)

SOURCES = ("meteoserver", "open-meteo")
DEFAULT_URLS = {"METEOSERVER_URL": "https://data.meteoserver.nl/api", "OPEN_METEO_URL": "https://api.open-meteo.com"}
TIMEOUT_S = 30.0
OPEN_METEO_HOURLY = (
    "shortwave_radiation",
    "temperature_2m",
    "cloud_cover",
    "cloud_cover_low",
    "cloud_cover_mid",
    "cloud_cover_high",
    "visibility",
    "precipitation",
    "sunshine_duration",
)


def base_url(name: str, environ=None) -> str:
    """A source's base URL from the environment / .env (METEOSERVER_URL, OPEN_METEO_URL) or its default."""
    return http_url(read_environment(environ=environ), name, DEFAULT_URLS[name])


def meteoserver_query(key: str, location: str | None, lat: float | None, lon: float | None) -> dict:
    if location:
        return {"locatie": location, "key": key}
    return {"lat": f"{lat:.4f}", "long": f"{lon:.4f}", "key": key}


def open_meteo_query(lat: float, lon: float, days: int = 5) -> dict:
    # GMT and unix times: no local-time ambiguity to undo.
    return {
        "latitude": f"{lat:.4f}",
        "longitude": f"{lon:.4f}",
        "hourly": ",".join(OPEN_METEO_HOURLY),
        "timezone": "GMT",
        "timeformat": "unixtime",
        "forecast_days": str(days),
    }


def _fmt(value, digits: int = 1) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def open_meteo_to_meteoserver(document: dict, place: str, latitude: float, longitude: float) -> dict:
    """Open-Meteo hourly JSON -> a Meteoserver "solar" document (every value a string).

    Open-Meteo stamps ``shortwave_radiation`` (and precipitation, sunshine) at the END of the hour it
    averages (the preceding hour); Meteoserver stamps an hour at its start. So the row for the hour
    starting at T takes the radiation stamped T+1h; temperature and clouds, instantaneous, are the mean of
    T and T+1h (the hour's middle)."""
    try:
        hourly = document["hourly"]
        times = [int(t) for t in hourly["time"]]
        series = {name: hourly[name] for name in ("shortwave_radiation", "temperature_2m", "cloud_cover")}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"Open-Meteo answer lacks hourly {exc}: cannot make a forecast file") from None
    optional = {name: hourly.get(name) or [None] * len(times) for name in OPEN_METEO_HOURLY}

    def mid(name, i):
        values = series.get(name) or optional[name]
        known = [v for v in (values[i], values[i + 1]) if v is not None]
        return sum(known) / len(known) if known else None

    import pandas as pd
    import pvlib

    starts = times[:-1]
    sun = pvlib.solarposition.get_solarposition(pd.to_datetime(starts, unit="s", utc=True), latitude, longitude)
    rows = []
    for i, start in enumerate(starts):
        ghi = series["shortwave_radiation"][i + 1]
        if ghi is None:
            continue
        sunshine = optional["sunshine_duration"][i + 1]
        rows.append(
            {
                "time": str(start),
                "cet": datetime.fromtimestamp(start, timezone.utc).astimezone(DUTCH).strftime("%d-%m-%Y %H:%M"),
                "elev": f"{sun['apparent_elevation'].iloc[i]:.1f}",
                "az": f"{sun['azimuth'].iloc[i]:.0f}",
                "temp": _fmt(mid("temperature_2m", i)),
                "gr": f"{float(ghi) * 0.36:.0f}",  # W/m² over an hour -> J/cm²
                "gr_w": f"{float(ghi):.0f}",
                "sd": _fmt(None if sunshine is None else float(sunshine) / 60, 0),  # s -> minutes
                "tc": _fmt(mid("cloud_cover", i), 0),
                "lc": _fmt(mid("cloud_cover_low", i), 0),
                "mc": _fmt(mid("cloud_cover_mid", i), 0),
                "hc": _fmt(mid("cloud_cover_high", i), 0),
                "vis": _fmt(optional["visibility"][i], 0),
                "prec": _fmt(optional["precipitation"][i + 1]),
            }
        )
    return {"plaatsnaam": [{"plaats": place}], "current": [], "forecast": rows}


def download(url: str, params: dict, secret: str | None = None) -> bytes:
    """GET ``url`` with ``params``; maps failures to the contract's errors. ``secret`` is scrubbed."""
    import requests

    shown = url  # the query (with the key) is never shown
    try:
        response = requests.get(url, params=params, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        detail = exc.__class__.__name__
        raise UnreachableError(f"forecast download from {shown} failed ({detail})") from None
    if response.status_code in (401, 403):
        raise AuthError(
            f"forecast service {shown} rejected the request (HTTP {response.status_code}): check METEOSERVER_KEY"
        )
    if response.status_code >= 500:
        raise UnreachableError(f"forecast service {shown} answered HTTP {response.status_code}")
    if response.status_code != 200:
        raise DataError(f"forecast service {shown} answered HTTP {response.status_code}")
    body = response.content
    if secret:
        body = body.replace(secret.encode(), b"***")
    return body


def fetch(
    source: str,
    out: Path,
    location: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    key: str | None = None,
    environ=None,
) -> Path:
    """Download a forecast to ``out`` (atomically); returns ``out``. Nothing is written on any error."""
    try:
        document = _download_document(source, location, lat, lon, key, environ)
    except HomepowerError as err:
        if source in SOURCES:
            err.args = (f"{err}; nothing written, {out} is kept as it was",)
        raise
    write_forecast(out, document)
    log.info("wrote %d forecast hours from %s to %s", len(document["forecast"]), source, out)
    return out


def _download_document(source, location, lat, lon, key, environ) -> dict:
    """A checked Meteoserver document from ``source``; raises the contract's errors."""
    if source == "meteoserver":
        if not key:
            raise ConfigError(
                "METEOSERVER_KEY is not set: get a key at meteoserver.nl, or use --source open-meteo (no key)"
            )
        url = base_url("METEOSERVER_URL", environ) + "/solar.php"
        body = download(url, meteoserver_query(key, location, lat, lon), secret=key)
        try:
            document = json.loads(body)
        except ValueError:
            raise MeteoFileError(url, "answer is not JSON (truncated, or an error page)") from None
        if isinstance(document, dict) and "forecast" not in document:
            # Meteoserver answers errors as JSON without a forecast, e.g. {"error": "…"}.
            raise DataError(f"Meteoserver answered without a forecast: {str(document)[:120]}")
    elif source == "open-meteo":
        url = base_url("OPEN_METEO_URL", environ) + "/v1/forecast"
        body = download(url, open_meteo_query(lat, lon))
        try:
            raw = json.loads(body)
        except ValueError:
            raise MeteoFileError(url, "answer is not JSON (truncated, or an error page)") from None
        if not isinstance(raw, dict):
            raise DataError("Open-Meteo answer is not a JSON object")
        document = open_meteo_to_meteoserver(raw, location or f"{lat:.4f},{lon:.4f}", lat, lon)
    else:
        raise ConfigError(f"unknown forecast source {source!r}: use {' or '.join(SOURCES)}")
    parse_meteo(document, url)  # a bad forecast never replaces a good file
    return document
