"""Generate a plausible forecast file in Meteoserver "solar" layout, from physics (not a download).

Used once to make ``solar3p/data/data.rotterdam`` (a fresh clone needs some forecast to run), and by
tests or demos that want a file for a given day::

    python -m solar3p.sample --start 2025-03-04 --days 5 --out solar3p/data/data.rotterdam

Irradiance: pvlib's Ineichen clear sky averaged over each hour (5-minute steps), dimmed by a smooth
seeded random cloud cover with the Kasten-Czeplak relation GHI = clear × (1 − 0.75 (tc/100)^3.4).
Temperature: a daily sine around a seasonal mean. Sun elevation/azimuth at each hour's start, as
Meteoserver gives them. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from solar3p.files import DUTCH, write_forecast

__all__ = ["generate", "main"]


def generate(
    start: datetime, hours: int, latitude: float, longitude: float, place: str = "Rotterdam", seed: int = 5
) -> dict:
    """A Meteoserver "solar" document for ``hours`` hours from ``start`` (aware datetime)."""
    import numpy as np
    import pandas as pd
    import pvlib

    rng = np.random.default_rng(seed)
    starts = pd.date_range(start, periods=hours, freq="h").tz_convert("UTC")
    fine = pd.date_range(starts[0], periods=hours * 12, freq="5min") + pd.Timedelta(minutes=2.5)
    site = pvlib.location.Location(latitude, longitude)
    clear = site.get_clearsky(fine, model="ineichen")["ghi"].to_numpy().reshape(hours, 12).mean(axis=1)
    # Smooth cloud cover: a random walk through a logistic, so it drifts between clear and overcast.
    walk = np.cumsum(rng.normal(0, 0.6, hours))
    walk = walk - np.convolve(walk, np.ones(25) / 25, mode="same") + rng.normal(0.2, 0.5)
    tc = np.clip(100 / (1 + np.exp(-1.5 * walk)), 0, 100).round()
    ghi = clear * (1 - 0.75 * (tc / 100) ** 3.4)
    sun = site.get_solarposition(starts)
    doy = starts.day_of_year.to_numpy()
    season = 10.5 - 7.5 * np.cos(2 * np.pi * (doy - 20) / 365.25)  # °C, Dutch coast
    local_hour = starts.tz_convert(DUTCH).hour.to_numpy()
    temp = season + 4 * np.sin(2 * np.pi * (local_hour - 9) / 24) - 2 * tc / 100 + rng.normal(0, 0.5, hours)
    rows = []
    for i, t in enumerate(starts):
        up = clear[i] > 0
        low = min(100.0, tc[i] * 0.6 + rng.uniform(0, 20))
        rows.append(
            {
                "time": str(int(t.timestamp())),
                "cet": t.tz_convert(DUTCH).strftime("%d-%m-%Y %H:%M"),
                "elev": f"{90 - sun['zenith'].iloc[i]:.1f}",
                "az": f"{sun['azimuth'].iloc[i]:.0f}",
                "temp": f"{temp[i]:.1f}",
                "gr": f"{ghi[i] * 0.36:.0f}",  # J/cm² over the hour
                "gr_w": f"{ghi[i]:.0f}",
                "sd": f"{60 * (1 - tc[i] / 100):.0f}" if up else "0",
                "tc": f"{tc[i]:.0f}",
                "lc": f"{low:.0f}",
                "mc": f"{tc[i] * 0.5:.0f}",
                "hc": f"{tc[i] * 0.3:.0f}",
                "vis": f"{int(40000 - 300 * tc[i])}",
                "prec": f"{max(0.0, (tc[i] - 85) / 10):.1f}",
            }
        )
    return {"plaatsnaam": [{"plaats": place}], "current": [], "forecast": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solar3p.sample", description=__doc__.split("\n")[0])
    parser.add_argument("--start", required=True, help="first day, YYYY-MM-DD (local midnight, Europe/Amsterdam)")
    parser.add_argument("--days", type=int, default=5, help="number of days (default 5)")
    parser.add_argument("--lat", type=float, default=51.92, help="latitude, degrees north (default 51.92)")
    parser.add_argument("--lon", type=float, default=4.48, help="longitude, degrees east (default 4.48)")
    parser.add_argument("--place", default="Rotterdam", help="place name written in the file")
    parser.add_argument("--seed", type=int, default=5, help="random seed of the cloud cover (default 5)")
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    args = parser.parse_args(argv)
    start = datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=DUTCH)
    write_forecast(args.out, generate(start, 24 * args.days, args.lat, args.lon, args.place, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
