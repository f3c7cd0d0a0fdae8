"""The PV services beside solar3p (``make bench``; ``python -m bench.services`` alone): ``pv_report.py`` over a
quarter of ``pvhistory`` and of the services' archived forecasts as cron would have fetched them:
Forecast.Solar every hour (each download 46 hours ahead, night hours 0), Solcast five times a day (168 hours
each): ~180,000 ``pv_forecast`` rows (a year is ~710,000; storing them would take the bench's whole budget).
Figures: the report's wall time and peak memory (SQLite).
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from bench import proc
from bench.stats import Row, at_most, fmt_spread, na, summarize

FS_AHEAD_H = 46
SC_HOURS = 168
SC_RUNS_UTC = (4, 7, 10, 13, 16)  # 05-17 local every 3 hours, in UTC (winter)


def _clear(ts: datetime) -> float:
    hour = ts.hour + 1  # local, roughly
    return max(0.0, math.sin(math.pi * (hour - 6) / 14)) * 2.5


DAYS = 91  # a quarter: 2024-01-01 to 2024-04-01


def pv_forecast_rows(year: int, days: int = DAYS) -> Iterator[dict]:
    rnd = random.Random(year)
    start = datetime(year, 1, 1)
    end = start + timedelta(days=days)
    issued = start
    while issued < end:
        base = issued.replace(minute=0) + timedelta(hours=1)
        for k in range(FS_AHEAD_H):
            ts = base + timedelta(hours=k)
            yield {
                "ts_utc": ts,
                "issued_utc": issued + timedelta(minutes=52),
                "provider": "forecast.solar",
                "kwh": round(_clear(ts) * rnd.uniform(0.5, 1.3), 4),
                "kwh_p10": None,
                "kwh_p90": None,
            }
        if issued.hour in SC_RUNS_UTC:
            for k in range(SC_HOURS):
                ts = base + timedelta(hours=k)
                kwh = round(_clear(ts) * rnd.uniform(0.6, 1.2), 4)
                yield {
                    "ts_utc": ts,
                    "issued_utc": issued + timedelta(minutes=55),
                    "provider": "solcast",
                    "kwh": kwh,
                    "kwh_p10": round(kwh * 0.6, 4),
                    "kwh_p90": round(kwh * 1.2, 4),
                }
        issued += timedelta(hours=1)


def bench_services(ctx) -> list[Row]:  # noqa: ANN001  (bench.bench.Context: importing it here would loop)
    from bench.bench import REPORT, TZ, YEAR, report_year_rows, say
    from homepower.settings import DatabaseConfig
    from homepower.store import Store

    what = "pv_report.py --format json, a quarter with Forecast.Solar hourly and Solcast 5x a day, sqlite"
    cfg = DatabaseConfig(kind="sqlite", path=ctx.work / "services.db")
    say("services: a quarter of pvhistory and of the services' forecasts")
    with Store.connect(cfg, TZ) as store:
        store.upsert("pvhistory", report_year_rows(ctx))
        archived = store.store_forecasts(pv_forecast_rows(YEAR), table="pv_forecast")
    end = (datetime(YEAR, 1, 1) + timedelta(days=DAYS)).date()
    period = ["--from", f"{YEAR}-01-01", "--to", end.isoformat(), "--format", "json"]
    env = ctx.env(DATABASE_URL=cfg.url())
    try:
        runs = [proc.run([sys.executable, str(REPORT), *period], env=env, timeout=ctx.limit(120)) for _ in range(3)]
    except proc.Failed as exc:
        return [na(what, str(exc), "<= 5 s"), na("  its peak memory", str(exc))]
    s = summarize([r.wall_s for r in runs])
    peak = max(r.maxrss_kib for r in runs) / 1024
    return [
        at_most(f"{what} ({archived:,} pv_forecast rows)", s.median, 5.0, fmt_spread(s)),
        Row("  its peak memory (whole process)", f"{peak:.0f} MiB", ""),
    ]


def main() -> int:
    from bench.bench import Context, WORK
    from bench.stats import render

    import time

    with tempfile.TemporaryDirectory(dir=WORK if WORK.exists() else None) as tmp:
        ctx = Context(started=time.perf_counter(), runs=7, work=Path(tmp))
        print(render(bench_services(ctx)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
