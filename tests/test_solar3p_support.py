"""Helpers for the solar3p tests (no tests here): forecast documents in Meteoserver "solar" shape."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pvlib

ROTTERDAM = (51.92, 4.48)


def clear_hours(
    day: str, latitude: float = ROTTERDAM[0], longitude: float = ROTTERDAM[1], temp: float = 15.0
) -> list[dict]:
    """24 forecast rows (UTC day) with clear-sky hourly mean GHI (Ineichen, 5-minute average)."""
    starts = pd.date_range(f"{day} 00:00", periods=24, freq="h", tz="UTC")
    fine = pd.date_range(starts[0], periods=24 * 12, freq="5min") + pd.Timedelta(minutes=2.5)
    ghi = pvlib.location.Location(latitude, longitude).get_clearsky(fine)["ghi"].to_numpy()
    ghi = ghi.reshape(24, 12).mean(axis=1)
    return [row(int(t.timestamp()), g, temp=temp) for t, g in zip(starts, ghi, strict=True)]


def row(time: int, gr_w: float, temp: float = 10.0, tc: float = 0.0) -> dict:
    cet = datetime.fromtimestamp(time, timezone.utc).strftime("%d-%m-%Y %H:%M")
    return {
        "time": str(time),
        "cet": cet,
        "elev": "0",
        "az": "0",
        "temp": f"{temp:.1f}",
        "gr": f"{gr_w * 0.36:.0f}",
        "gr_w": f"{gr_w:.1f}",
        "sd": "0",
        "tc": f"{tc:.0f}",
        "lc": "0",
        "mc": "0",
        "hc": "0",
        "vis": "20000",
        "prec": "0",
    }


def document(rows: list[dict], place: str = "Rotterdam") -> dict:
    return {"plaatsnaam": [{"plaats": place}], "current": [], "forecast": rows}


def write(path, rows: list[dict]) -> str:
    path.write_text(json.dumps(document(rows)))
    return str(path)


def unix(text: str) -> int:
    return int(pd.Timestamp(text).timestamp())


def as_rows(rows: list[dict]):
    from solar3p.meteo import parse_meteo

    return parse_meteo(document(rows))


def peak_hour(kwh: dict[int, float]) -> int:
    times = sorted(kwh)
    return times[int(np.argmax([kwh[t] for t in times]))]
