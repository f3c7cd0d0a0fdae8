#!/usr/bin/env python3
"""`make demo` (``python -m demo.demo``): the whole pipeline on a simulated day, no network, no gateway,
no database server.

1. simulate a day of five-minute gateway readings (tests.synth: daylight shaped by the forecast's
   irradiance, jitter, the nightly outage after 23:00) and write them as a --replay file;
2. store them through the REAL poll path: ``get_enphase_hour_measure.py --replay``;
3. build the hours with the REAL ``history_collector.py`` (forecast archive, join and solar3p included);
4. let a newer forecast download replace the forecast file and rerun the day: the rows stay as they were
   (the archive keeps the forecast each hour was joined with, issued the evening before);
5. print the resulting pvhistory rows, and how far they are from what the simulation really produced;
6. report on the day with the REAL ``pv_report.py --out`` (var/demo/report/report.html);
7. simulate three weeks more (var/demo/weeks/), collect them, and backtest calibration over them with the
   REAL ``history_collector.py --calibrate --from --to`` (each day forecast by a fit on the days before it),
   then ``--calibrate`` once on all of them: what it learned, in words.

Everything lands in var/demo/ (SQLite), wiped at the start so the demo can be run again and again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from homepower import schema
from homepower.hourtable import format_table
from homepower.settings import DatabaseConfig, PVSettings, isolated_environ
from homepower.store import Store
from tests import synth

ROOT = Path(__file__).resolve().parent.parent

DEMO_DIR = ROOT / "var" / "demo"
FORECAST = ROOT / "solar3p" / "data" / "data.rotterdam"  # a real Meteoserver file, 2025-03-04..08
DAY = date(2025, 3, 5)
ISSUED = datetime(2025, 3, 4, 17, 0, tzinfo=timezone.utc)  # the forecast's download: the evening before
NEWER = datetime(2025, 3, 6, 6, 0, tzinfo=timezone.utc)  # a later download, once the day is over
COLUMNS = schema.value_columns("pvhistory")
ZONE = "Europe/Amsterdam"
PV = PVSettings()  # the contract's defaults: 12 x 405 Wp, SE, 35 degrees, near Rotterdam


def cloud_from_forecast(path: Path):
    """Share of clear-sky power per moment, from the forecast's hourly irradiance (so the simulated
    production follows the forecast's weather), interpolated between mid-hours."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    points = []
    for row in doc["forecast"]:
        mid = int(row["time"]) + 1800
        sin_el = synth.sun_sin_elevation(mid, PV.latitude, PV.longitude)
        clear = 1000.0 * max(sin_el, 0.0) ** 1.2
        share = float(row["gr_w"]) / clear if clear > 50 else 0.6
        points.append((mid, min(1.0, max(0.1, share))))
    points.sort()

    def cloud_at(t: float) -> float:
        for (t0, c0), (t1, c1) in zip(points, points[1:], strict=False):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0)
        return points[0][1] if t < points[0][0] else points[-1][1]

    return cloud_at


def stamped(source: Path, out: Path, issued: datetime, scale: float = 1.0) -> None:
    """``source`` written to ``out`` as ``python -m solar3p fetch`` would have stamped it at ``issued``
    (``scale``: another forecast's irradiance, for the newer download)."""
    doc = json.loads(source.read_text(encoding="utf-8"))
    doc["issued"] = str(int(issued.timestamp()))
    for row in doc["forecast"]:
        row["gr_w"] = f"{float(row['gr_w']) * scale:.1f}"
    out.write_text(json.dumps(doc), encoding="utf-8")


def run(step: str, args: list[str], env: dict) -> None:
    print(f"$ {' '.join(args)}")
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    for line in (done.stdout + done.stderr).strip().splitlines():
        print(f"  {line}")
    if done.returncode != 0:
        sys.exit(f"demo: {step} failed with exit {done.returncode}")


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    forecast = FORECAST
    peak = PV.panels * PV.panel_wp * 0.85
    if forecast.is_file():
        day = synth.generate(DAY, 1, ZONE, seed=2025, peak_w=peak, cloud_at=cloud_from_forecast(forecast))
    else:  # a clone without the sample forecast: simulate the weather too
        day = synth.generate(DAY, 1, ZONE, seed=2025, peak_w=peak)
        forecast = DEMO_DIR / "data.simulated"
        day.write_meteo(forecast)
    # METEO_FILE as `python -m solar3p fetch` leaves it: the sample, stamped as downloaded the evening before
    meteo_file = DEMO_DIR / "forecast.json"
    stamped(forecast, meteo_file, ISSUED)
    source_name = f"{forecast.relative_to(ROOT)}, issued {ISSUED:%Y-%m-%d %H:%M} UTC"
    replay = DEMO_DIR / "replay.jsonl"
    day.write_replay(replay)
    print(f"simulated {len(day.samples)} gateway readings for {DAY} ({ZONE}) -> {replay.relative_to(ROOT)}")

    env = isolated_environ()  # neither the owner's .env nor their shell's settings change the demo
    db_file = DEMO_DIR / "homepower.db"
    env.update(
        {
            "STATE_DIR": str(DEMO_DIR),
            "DATABASE_URL": f"sqlite:///{db_file}",
            "SITE_TIMEZONE": ZONE,
            "METEO_FILE": str(meteo_file),
            "LOG_LEVEL": "WARNING",
            "ENVOY_HOST": "127.0.0.1",
        }
    )
    run("the poll path", ["get_enphase_hour_measure.py", "--replay", str(replay)], env)
    nxt = date.fromordinal(DAY.toordinal() + 1)
    collect = ["history_collector.py", "--from", DAY.isoformat(), "--to", nxt.isoformat()]
    run("the collector", collect, env)
    config = DatabaseConfig(kind="sqlite", path=db_file)
    with Store.connect(config) as store:
        rows = store.fetch("pvhistory", COLUMNS)

    print(
        f"\na newer download replaces {meteo_file.relative_to(ROOT)} "
        f"(issued {NEWER:%Y-%m-%d %H:%M} UTC, other numbers):"
    )
    stamped(forecast, meteo_file, NEWER, scale=0.5)
    run("the rerun", collect, env)
    with Store.connect(config) as store:
        again = store.fetch("pvhistory", COLUMNS)
        archived = store.forecast_count()
    same = sum(a == b for a, b in zip(rows, again, strict=True))
    print(
        f"  rerun of the day: {same} of {len(rows)} rows unchanged; the archive holds {archived[0]} forecast rows "
        f"from {archived[1]} downloads, and each hour keeps the one issued before it began"
    )
    print(f"\npvhistory ({db_file.relative_to(ROOT)}), one row per local hour; forecast from {source_name}:\n")
    print(format_table(rows), end="")
    measured = sum(r["kwh_pv"] or 0.0 for r in rows)
    predicted = sum(r["kwh_s3p"] or 0.0 for r in rows)
    errors = [abs(r["kwh_pv"] - day.truth[r["ts_utc"]].kwh_pv) * 1000 for r in rows if r["kwh_pv"] is not None]
    print(
        f"\nday total: measured {measured:.2f} kWh, solar3p forecast {predicted:.2f} kWh; "
        f"largest hourly difference from the simulated truth: {max(errors):.2f} Wh "
        f"(interpolation between 5-minute readings)"
    )
    report_dir = DEMO_DIR / "report"
    print()
    run(
        "the report",
        [
            "pv_report.py",
            "--from",
            DAY.isoformat(),
            "--to",
            nxt.isoformat(),
            "--out",
            str(report_dir.relative_to(ROOT)),
        ],
        env,
    )
    print(f"open {(report_dir / 'report.html').relative_to(ROOT)} in a browser: the day's charts (it works offline)")
    backtest_weeks(env)
    print(f"done at {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; run `make demo` again to repeat")
    print(NEXT, end="")
    return 0


WEEKS = (date(2025, 5, 1), 21)  # simulated weeks for the calibration backtest


LEVEL = 0.9  # the simulated roof gives this share of what solar3p's physics says (soiling, ageing)


def roof_clear_sky(first: date, days: int):
    """``clear_sky`` for tests.synth: (GHI W/m², AC W) under a clear sky at any moment of the weeks, from
    pvlib's clear-sky model and solar3p's chain for PV's roof."""
    import numpy as np
    import pandas as pd
    import pvlib

    from solar3p import calibrate as C

    t0 = int(datetime.combine(first, datetime.min.time(), timezone.utc).timestamp()) - 2 * 86400
    moments = np.arange(t0, t0 + (days + 4) * 86400, 900, dtype="int64")
    base = C.features(
        moments - 1800, np.full(moments.size, 1000.0), np.full(moments.size, 15.0), PV.latitude, PV.longitude
    )
    ghi = np.asarray(pvlib.clearsky.haurwitz(pd.Series(np.clip(base.zenith, 0, 90)))["ghi"], dtype=float)
    ghi = np.where(base.sunlit > 0, ghi, 0.0)
    clear = C.features(moments - 1800, ghi, np.full(moments.size, 15.0), PV.latitude, PV.longitude)
    roof = LEVEL * C.power(clear, PV.azimuth, PV.tilt, PV.rating_w, PV.losses_pct)

    def at(t: float) -> tuple[float, float]:
        return float(np.interp(t, moments, ghi)), float(np.interp(t, moments, roof))

    return at


def backtest_weeks(env: dict) -> None:
    """Step 7: three simulated weeks in their own database, collected, then calibration backtested."""
    first, days = WEEKS
    weeks_dir = DEMO_DIR / "weeks"
    weeks_dir.mkdir(parents=True, exist_ok=True)
    # The weeks' production comes from solar3p's own physics for the roof of PV (12 x 405 Wp, SE, 35 deg)
    # at a level of 0.9 under a clear sky dimmed by clouds, so the calibration finds a roof like a real one.
    syn = synth.generate(first, days, ZONE, seed=7, clear_sky=roof_clear_sky(first, days))
    meteo = weeks_dir / "forecast.json"
    doc = syn.meteoserver()
    doc["issued"] = str(int(datetime(2025, 4, 30, 17, tzinfo=timezone.utc).timestamp()))
    meteo.write_text(json.dumps(doc), encoding="utf-8")
    db_file = weeks_dir / "homepower.db"
    with Store.connect(DatabaseConfig(kind="sqlite", path=db_file)) as store:
        store.upsert("enphase_production", syn.rows())
    env = dict(env, STATE_DIR=str(weeks_dir), DATABASE_URL=f"sqlite:///{db_file}", METEO_FILE=str(meteo))
    end = date.fromordinal(first.toordinal() + days)
    print(
        f"\ncalibration: {days} more simulated days ({first} to {end}, {len(syn.samples)} readings) -> "
        f"{db_file.relative_to(ROOT)}"
    )
    run("the weeks' collector", ["history_collector.py", "--from", first.isoformat(), "--to", end.isoformat()], env)
    start = date.fromordinal(first.toordinal() + 3)  # the first day with 3 days of history before it
    run(
        "the backtest",
        ["history_collector.py", "--calibrate", "--from", start.isoformat(), "--to", end.isoformat()],
        env,
    )
    run("the calibration", ["history_collector.py", "--calibrate"], env)


NEXT = """
Next, for your own installation (README: "Set up"):
  1. cp .env.example .env   and set ENVOY_HOST (the gateway's address), ENVOY_USER and ENVOY_PASSWORD
     (your Enlighten account) or ENVOY_TOKEN, and PV_* (your panels, orientation, site)
  2. .venv/bin/python get_enphase_hour_measure.py --dry-run   reads the gateway once, stores nothing
  3. .venv/bin/python -m solar3p fetch                        the first forecast, into var/forecast.json
  4. crontab -e   with the lines of crontab.example (or the systemd units in contrib/systemd/)
"""


if __name__ == "__main__":
    sys.exit(main())
