"""pv_report.py's use case: which days, the rows, the metrics, the summary (table or JSON), the charts.

The arithmetic is in ``homepower.metrics`` (pure); the charts and the HTML in ``homepower.charts``
(matplotlib, loaded only for ``--out``). The store does the SQL.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO
from zoneinfo import ZoneInfo

from homepower import metrics as M
from homepower import panel_health
from homepower.errors import ConfigError, DataError, UsageError
from homepower.hours import to_utc
from homepower.settings import PVSettings
from solar3p.environment import command

if TYPE_CHECKING:
    from homepower.store import Store
    from homepower.store.forecasts import PvForecast

DEFAULT_DAYS = 30
# Rows read before the period: persistence needs the hour 24 h earlier and the previous local day.
LOOK_BACK = timedelta(days=2)
LOOK_AHEAD = timedelta(days=1)  # local dates vs UTC: read a margin, keep rows by their local date
READ_CHUNK = timedelta(days=31)
NAMES = {"kwh_s3p": "solar3p", "kwh_fc": "calibrated", "forecast.solar": "Forecast.Solar", "solcast": "Solcast"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    end_text: str  # --to as given

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def parse_date(text: str, option: str) -> date:
    if not _DATE_RE.match(text.strip()):
        raise UsageError(f"{option} {text!r} is not a local date of the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(f"{option} {text!r} is not a valid date: {exc}") from None


def period(start_text: str | None, end_text: str | None, today: date) -> Period:
    """[A, B) from --from/--to; by default the last 30 complete local days (B = today). ``--from`` today
    alone is today so far (day one's report)."""
    end = parse_date(end_text, "--to") if end_text else today
    start = parse_date(start_text, "--from") if start_text else end - timedelta(days=DEFAULT_DAYS)
    if start_text and not end_text and start == today:
        end = today + timedelta(days=1)
        return Period(start, end, end.isoformat())
    if not start < end:
        raise UsageError(f"--from {start} is not before --to {end}: the period is [from, to), to exclusive")
    return Period(start, end, end_text.strip() if end_text else end.isoformat())


def local_today(now_utc: datetime, tz: ZoneInfo) -> date:
    return now_utc.replace(tzinfo=timezone.utc).astimezone(tz).date()


def read_rows(store: Store, span: Period, tz: ZoneInfo) -> list[M.HourRow]:
    """The period's rows and the two days before it (for persistence)."""
    start = to_utc(datetime.combine(span.start, datetime.min.time()), tz) - LOOK_BACK
    end = to_utc(datetime.combine(span.end, datetime.min.time()), tz) + LOOK_AHEAD
    rows: list[M.HourRow] = []
    while start < end:  # a month per query: the store's rows never exceed a month of hours
        stop = min(start + READ_CHUNK, end)
        try:
            rows.extend(store.report_rows(start, stop))
        except (ValueError, TypeError) as exc:  # a row written by hand with text where a number belongs
            raise DataError(
                f"pvhistory between {start:%Y-%m-%d %H:%M} and {stop:%Y-%m-%d %H:%M} UTC holds a value that is "
                f"not a number or time ({exc}); correct or delete that row"
            ) from exc
        start = stop
    return rows


class NoCountingHour(DataError):
    """No hour of the period counts for either forecast (65)."""


def read_services(store: Store, rows: list[M.HourRow], min_lead_h: float) -> tuple[list[M.HourRow], dict]:
    """The PV services' archived forecasts of the rows' hours: each row with its ``services`` by the join
    rule (FORECAST_MIN_LEAD_H, no late fallback), and {bucket: {provider: {hour: kWh}}} for the ranking.
    Read a month at a time and reduced at once to those picks, so a year of hourly downloads never sits in
    memory."""
    from homepower.forecast_join import service_picks

    by_lead: dict[str, dict[str, dict[datetime, float]]] = {}
    if not rows:
        return rows, by_lead
    joined: dict[datetime, dict[str, M.ServiceForecast]] = {}
    start, end = min(r.ts_utc for r in rows), max(r.ts_utc for r in rows) + timedelta(hours=1)
    while start < end:
        stop = min(start + READ_CHUNK, end)
        issues: dict[tuple[str, datetime], list[tuple[datetime, PvForecast]]] = {}
        for f in store.read_pv_forecasts(start, stop):
            issues.setdefault((f.provider, f.ts_utc), []).append((f.issued_utc, f))
        for (provider, ts), items in issues.items():
            picks = service_picks(items, ts, min_lead_h, M.LEAD_BUCKETS)
            if picks.joined is not None:
                f = picks.joined[0]
                joined.setdefault(ts, {})[provider] = M.ServiceForecast(f.kwh, f.issued_utc, f.kwh_p10, f.kwh_p90)
            for bucket, (f, _) in picks.by_bucket.items():
                by_lead.setdefault(bucket, {}).setdefault(provider, {})[ts] = f.kwh
        start = stop
    rows = [replace(r, services=joined[r.ts_utc]) if r.ts_utc in joined else r for r in rows]
    return rows, by_lead


def build(rows: list[M.HourRow], span: Period, by_lead: dict | None = None) -> M.Report:
    """The report, or NoCountingHour (65) when no hour of the period counts for any forecast."""
    result = M.report(rows, span.start, span.end, span.end_text, by_lead)
    if result.empty:
        in_period = sum(span.start <= r.local_date < span.end for r in rows)
        raise NoCountingHour(
            f"no counting hour from {span.start} to {span.end_text} (exclusive): {in_period} pvhistory row(s) "
            f"in the period, none with kwh_pv and a forecast (kwh_s3p or kwh_fc) known, unflagged and not both 0"
        )
    return result


def where_the_hours_are(store: Store, span: Period, tz: ZoneInfo) -> str | None:
    """For a period without counting hours: the local days pvhistory has kwh_pv for, and the command that
    reports on them (day one: the first day is today, not yet among the default's complete days)."""
    first, last = store.measured_span()
    if first is None or last is None:
        return (
            f"pvhistory has no hour with kwh_pv yet: {command('history_collector.py')} builds each hour from the "
            "readings (cron runs it at minute 3), from the first whole hour after the first poll"
        )
    day = [moment.replace(tzinfo=timezone.utc).astimezone(tz).date() for moment in (first, last)]
    if span.start <= day[0] and day[1] < span.end:
        return None  # the hours are in the period: what they lack (a forecast, a clean flag) is said above
    return (
        f"pvhistory has kwh_pv from {day[0]} to {day[1]} (local): "
        f"{command('pv_report.py')} --from {day[0]} --to {day[1] + timedelta(days=1)}"
    )


# -- progress ---------------------------------------------------------------------------------------
class Progress:
    """Steps on stderr, but only once the run has lasted ``after`` seconds (a quick report stays quiet)."""

    def __init__(self, stream: TextIO | None = None, after: float = 1.0):
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.current = ""
        self.loud = False
        self.lock = threading.Lock()
        self.timer = threading.Timer(after, self._wake)
        self.timer.daemon = True
        self.timer.start()
        self.after = after

    def _wake(self) -> None:
        with self.lock:
            self.loud = True
            if self.current:
                self._print(self.current)

    def _print(self, text: str) -> None:
        print(f"pv_report: {text} ({time.monotonic() - self.started:.1f} s)", file=self.stream, flush=True)

    def step(self, text: str) -> None:
        with self.lock:
            self.current = text
            if self.loud:
                self._print(text)

    def done(self) -> None:
        self.timer.cancel()


# -- the terminal summary ---------------------------------------------------------------------------
def _f(value: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def like_for_like(rows: list[M.HourRow], span: Period, result: M.Report) -> M.Report | None:
    """``result`` with solar3p's two forecasts (kwh_s3p, kwh_fc) judged on the same hours, those both
    count (the PV services keep their own hours: the ranking compares everyone per lead time), or None
    unless both have counting hours."""
    names = [name for name in M.FORECASTS if result.judged.get(name) is not None]
    if len(names) < 2:
        return None
    same = M.report(M.same_hours(rows, span.start, span.end, names), span.start, span.end, span.end_text)
    return replace(result, judged={**result.judged, **{n: same.judged[n] for n in names}})


def same_hours_note(result: M.Report, same: M.Report | None) -> str | None:
    """One line saying on which hours solar3p's forecasts are compared."""
    if same is None:
        return None
    own = ", ".join(f"{NAMES[n]} {j.hours} h" for n in M.FORECASTS if (j := result.judged.get(n)) is not None)
    common = same.judged.get(M.FORECASTS[0])
    if common is None:
        return f"no hour counts for both solar3p forecasts: each is judged on its own hours ({own}), not like for like"
    return (
        f"solar3p's forecasts judged on the same {common.hours} hours ({common.days} "
        f"day{'s' if common.days != 1 else ''}), those both count; on its own counting hours: {own}"
    )


def format_summary(result: M.Report, span: Period, tz_name: str, same: M.Report | None = None) -> str:
    """The summary a person reads in ten seconds: with ``same`` (``like_for_like``), solar3p's forecasts
    are compared on the same hours, and it says so."""
    note = same_hours_note(result, same)
    if same is not None and same.judged.get(M.FORECASTS[0]) is not None:
        result = same
    # the PV services only once they have something to show (most owners have none)
    judged = [(name, j) for name, j in result.judged.items() if j is not None or name in M.FORECASTS]
    label = [f"{NAMES[n]} ({n})" for n, _ in judged]
    width = max(len(s) for s in label) + 2

    def line(title: str, cells: list[str]) -> str:
        return f"  {title:<30}" + "".join(c.rjust(width) for c in cells)

    last = span.end - timedelta(days=1)
    days = f"{span.days} local day" + ("s" if span.days != 1 else "")
    out = [f"PV report {span.start} .. {last} ({days}, {tz_name})"]
    if note:
        out.append(f"  {note}")
    out.append(line("", label))

    def cells(fn: Callable[[M.Judgement], str]) -> list[str]:
        return [fn(j) if j is not None else "no counting hour" for _, j in judged]

    def energy(j: M.Judgement) -> str:
        pct = 100.0 * (j.forecast_kwh - j.measured_kwh) / j.measured_kwh if j.measured_kwh else None
        return f"{j.forecast_kwh:.1f} kWh" + (f" ({pct:+.1f} %)" if pct is not None else "")

    out += [
        line("counting hours / days", cells(lambda j: f"{j.hours} h / {j.days} d")),
        line("measured energy", cells(lambda j: f"{j.measured_kwh:.1f} kWh")),
        line("forecast energy", cells(energy)),
        line("hourly nMAE", cells(lambda j: _f(j.hourly.nmae_pct, ".1f", " %"))),
        line("daily nMAE", cells(lambda j: _f(j.daily.nmae_pct, ".1f", " %"))),
        line("bias (MBE), per hour", cells(lambda j: _f(j.hourly.mbe, "+.3f", " kWh"))),
        line("bias (MBE), per day", cells(lambda j: _f(j.daily.mbe, "+.2f", " kWh"))),
        line("skill vs persistence, hourly", cells(lambda j: _f(j.hourly_skill, "+.2f"))),
        line("skill vs persistence, daily", cells(lambda j: _f(j.daily_skill, "+.2f"))),
    ]
    for name, j in judged:
        if j is None or not j.day_sums:
            continue
        worst = ", ".join(f"{d.day} {d.forecast - d.measured:+.1f} kWh" for d in j.worst_days(3))
        out.append(f"  {'worst days, ' + NAMES[name]:<30}{worst}")
    for name in ("kwh_fc", *M.SERVICES):  # the bands: the calibrated forecast's, then a service's (Solcast's)
        fc = result.judged.get(name)
        if fc is not None and fc.probabilistic is not None:
            b = fc.probabilistic.overall
            title = f"{NAMES[name]} P10-P90 band"
            out.append(
                f"  {title:<30}{_f(b.coverage_pct, '.0f', ' %')} of {b.hours} h inside, "
                f"{_f(b.below_pct, '.0f', ' %')} below P10, {_f(b.above_pct, '.0f', ' %')} above P90 "
                f"(aim 80/10/10); mean width {_f(b.width_kwh, '.2f', ' kWh')}"
            )
    out += ranking_lines(result)
    out.append("  (worst days: forecast - measured. nMAE: mean absolute error / mean measured. skill above 0:")
    out.append("  better than 'the same as 24 h before'. Counting hours only; see docs/report.md.)")
    return "\n".join(out) + "\n"


def ranking_lines(result: M.Report) -> list[str]:
    """Which forecast to trust, per lead time: each bucket's ranking on its common hours."""
    if not result.ranking:
        return []
    out = ["  ranking by lead time (each on the hours every forecast listed has one; best first):"]
    for bucket, entries in result.ranking.items():
        ranked = ", ".join(f"{NAMES.get(e.forecast, e.forecast)} {_f(e.nmae_pct, '.1f', ' %')}" for e in entries)
        out.append(f"    {bucket + ' h':<7} {entries[0].hours:>5} h: {ranked}")
    return out


def as_json(result: M.Report, same: M.Report | None = None, health: panel_health.Health | None = None) -> str:
    """The contract's keys (each forecast on its own counting hours), and ``same_hours``: solar3p's two
    forecasts on the hours both count (null unless both have counting hours, and some in common)."""
    doc = result.as_dict()
    common = None if same is None else same.judged.get(M.FORECASTS[0])
    doc["same_hours"] = (
        None
        if same is None or common is None
        else {
            "hours": common.hours,
            "forecasts": {n: (j.as_dict() if (j := same.judged[n]) else None) for n in M.FORECASTS},
        }
    )
    if health is not None:
        doc["panels"] = health.as_dict()
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def read_panels(store: Store, span: Period, tz: ZoneInfo, pv: PVSettings | None) -> panel_health.Health | None:
    """Panel health at the end of the period (None without a per-panel record): the period and the month
    before it, so that its first days have sunny days behind them."""
    from homepower import panel_check

    start = to_utc(datetime.combine(span.start, datetime.min.time()), tz) - panel_check.REPORT_LOOK_BACK
    end = to_utc(datetime.combine(span.end, datetime.min.time()), tz)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return panel_check.read(store, start, end, tz, pv or PVSettings(), now)


def with_panels(summary: str, health: panel_health.Health | None) -> str:
    if health is None:
        return summary
    from homepower import panel_check

    return summary + "\n".join(panel_check.summary_lines(health)) + "\n"


def prepare_out(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".pv_report-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--out {out_dir}: cannot write the report there ({exc.strerror or exc.__class__.__name__}): "
            f"give a directory you can write to"
        ) from exc


def write_page(
    out_dir: Path,
    result: M.Report,
    rows: list[M.HourRow],
    span: Period,
    tz: ZoneInfo,
    same: M.Report | None = None,
    health: panel_health.Health | None = None,
) -> Path:
    try:
        from homepower import charts  # matplotlib: only for --out
    except ImportError as exc:
        raise ConfigError(
            f"--out needs matplotlib, which is not installed ({exc}): run make install, or "
            f".venv/bin/pip install -r requirements.txt"
        ) from exc
    table = same if same is not None and same.judged.get(M.FORECASTS[0]) is not None else result
    try:
        extra = ""
        if health is not None and health.count:
            from homepower import panel_charts

            extra = panel_charts.write_panels(out_dir, health, span.start, span.end)
        return charts.write_report(
            out_dir, result, rows, span.start, span.end, tz.key, table, same_hours_note(result, same), extra
        )
    except OSError as exc:
        raise UsageError(
            f"--out {out_dir}: cannot write the report there ({exc.strerror or exc.__class__.__name__}): "
            f"give a directory you can write to"
        ) from exc


# -- the whole run ----------------------------------------------------------------------------------
def run_report(
    store: Store,
    span: Period,
    tz: ZoneInfo,
    fmt: str = "table",
    out_dir: Path | None = None,
    stdout: TextIO | None = None,
    progress: Progress | None = None,
    min_lead_h: float = 0.0,
    pv: PVSettings | None = None,
) -> M.Report:
    stdout = stdout or sys.stdout
    if out_dir is not None:
        prepare_out(Path(out_dir))  # a directory that cannot be written fails now, not after the work
    progress = progress or Progress()
    try:
        progress.step(f"reading pvhistory {span.start} .. {span.end_text}")
        rows = read_rows(store, span, tz)
        progress.step("reading the PV services' forecasts")
        rows, by_lead = read_services(store, rows, min_lead_h)
        progress.step(f"judging {len(rows)} hour(s)")
        try:
            result = build(rows, span, by_lead)
        except NoCountingHour as exc:
            hint = where_the_hours_are(store, span, tz)
            if hint:
                exc.add_note(hint)
            raise
        same = like_for_like(rows, span, result)
        progress.step("reading the panels' record")
        health = read_panels(store, span, tz, pv)
        if out_dir is not None:
            progress.step(f"drawing the charts into {out_dir}")
            page = write_page(out_dir, result, rows, span, tz, same, health)
            progress.step(f"wrote {page}")
        stdout.write(
            as_json(result, same, health)
            if fmt == "json"
            else with_panels(format_summary(result, span, tz.key, same), health)
        )
        if out_dir is not None:  # where the page is; on stderr when stdout is JSON
            print(f"report: {Path(out_dir) / 'report.html'}", file=sys.stderr if fmt == "json" else stdout)
        return result
    finally:
        progress.done()
