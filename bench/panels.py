"""`make bench`, the panels' part (issue 23): a year of a 30-panel roof's per-panel record in the report and
in --status, on the report part's SQLite file (its year of pvhistory), and what the polls stored.

The record comes from the fake roof (tests/fakes/roof.py, tests/panel_synth.py): two planes of 15, each
micro-inverter reporting every 5 to 15 minutes through the daylight of 2024, one panel 20 % weak, one dead
for the last three days. The report is timed with and without it on the same file.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from bench import proc
from bench.stats import Row, at_most, fmt_spread, na, summarize

ARRAYS = "15x400@E/30;15x400@W/30"


def roof() -> Any:
    from tests.fakes.roof import Roof, daily_weather

    r = Roof.planes([(15, 90, 30), (15, 270, 30)], weather=daily_weather(2024), seed=2024)
    r.panels[4].factor = 0.8
    r.panels[20].dies_at = datetime(2024, 12, 29, 10, tzinfo=timezone.utc).timestamp()
    return r


def bench_panels(ctx: Any, year: int, report: Path, tz: Any) -> list[Row]:
    from homepower.settings import DatabaseConfig
    from homepower.store import Store
    from tests.panel_synth import store_record

    rows: list[Row] = []
    db = ctx.work / "report.db"
    if not db.exists():
        return [na("panels: a year of a 30-panel roof in the report", "the report part made no SQLite file")]
    period = ["--from", f"{year}-01-01", "--to", f"{year + 1}-01-01"]
    env = ctx.env(DATABASE_URL=f"sqlite:///{db}", PV_ARRAYS=ARRAYS)

    def timed(what: str, args: list[str], goal: float | None, runs: int = 3) -> None:
        try:
            walls = [
                proc.run([sys.executable, str(report), *args], env=env, timeout=ctx.limit(90)).wall_s
                for _ in range(runs)
            ]
        except proc.Failed as exc:
            rows.append(na(what, str(exc), f"<= {goal:g} s" if goal else ""))
            return
        s = summarize(walls)
        rows.append(at_most(what, s.median, goal, fmt_spread(s)) if goal else Row(what, fmt_spread(s)))

    timed("pv_report.py --format json, a year, SQLite, no panel record", [*period, "--format", "json"], None)
    r = roof()
    t0 = time.perf_counter()
    with Store.connect(DatabaseConfig(kind="sqlite", path=db), tz) as store:
        count = store_record(store, r, date(year, 1, 1), 366)
    made = time.perf_counter() - t0
    ctx.notes.append(
        f"panels: {count:,} inverter_reading rows for a year of 30 panels ({count / 366 / 30:.0f} a panel a day, one a "
        f"report), made and stored in {made:.0f} s (tests/panel_synth.py; not timed)"
    )
    timed(
        "  the first report with them: sums the year's settled hours up into inverter_hour (once)",
        [*period, "--format", "json"],
        None,
        runs=1,
    )
    timed(f"  the same with a year of 30 panels ({count:,} reports)", [*period, "--format", "json"], 10.0)
    timed(
        "pv_report.py --out, a year, with the 30 panels (panels.png)",
        [*period, "--out", str(ctx.work / "report-panels")],
        10.0,
    )
    status = [str(report), "--status", "--now", f"{year + 1}-01-01T00:00:00"]
    try:
        walls = []
        found = ""
        for _ in range(3):
            done = proc.run([sys.executable, *status], env=env, timeout=ctx.limit(60), check=False)
            walls.append(done.wall_s)
            found = done.stderr
        s = summarize(walls)
        rows.append(at_most("pv_report.py --status with the 30 panels' record", s.median, 2.0, fmt_spread(s)))
        weak, dead = r.panels[4].serial, r.panels[20].serial
        ok = f"panel {weak} " in found and f"panel {dead} silent" in found
        rows.append(Row("  --status names the weak and the dead panel (exit 69)", "yes" if ok else "NO", "yes", ok))
    except proc.Failed as exc:
        rows.append(na("pv_report.py --status with the 30 panels' record", str(exc), "<= 2 s"))
    try:
        out = proc.run([sys.executable, str(report), *period, "--format", "json"], env=env, timeout=ctx.limit(60))
        panels = json.loads(out.stdout)["panels"]
        groups = ", ".join(f"{k} {len(v)}" for k, v in panels["groups"].items())
        low = [(x["serial"], round(x["ratio"], 3)) for x in panels["low"]]
        ctx.notes.append(f"panels: the year's report finds groups {groups}, silent {panels['silent']}, low {low}")
    except (proc.Failed, ValueError, KeyError) as exc:
        ctx.notes.append(f"panels: the report's panels block could not be read ({exc})")
    return rows
