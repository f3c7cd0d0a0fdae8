"""The report's charts (PNG, matplotlib's Agg backend) and ``report.html`` beside them, which opens offline.

Imported only by ``pv_report.py --out``: nothing else loads matplotlib.
"""

from __future__ import annotations

import html
import logging
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on a Raspberry Pi or in cron
logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font cache notice is no news to the owner

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from homepower import metrics as M  # noqa: E402

DPI = 100
# zlib level 1: a year's charts are 10 % larger and written in half the time (docs/benchmarks.md)
PNG = {"compress_level": 1}
COLOURS = {
    "measured": "#f2a900",
    "kwh_s3p": "#1f77b4",
    "kwh_fc": "#2ca02c",
    "persistence": "#888888",
    "forecast.solar": "#9467bd",
    "solcast": "#d62728",
}
LABELS = {
    "kwh_s3p": "solar3p forecast (kwh_s3p)",
    "kwh_fc": "calibrated forecast (kwh_fc)",
    "forecast.solar": "Forecast.Solar",
    "solcast": "Solcast",
}
CHARTS = (
    ("daily.png", "Daily energy: measured and forecast"),
    ("heatmap.png", "Measured energy by hour of day and day"),
    ("scatter.png", "Forecast against measured, per hour"),
    ("errors.png", "Error by month and by lead time"),
)


def save(fig: Figure, path: Path) -> None:
    fig.savefig(path, pil_kwargs=PNG)
    plt.close(fig)


def _period_text(start: date, end: date) -> str:
    last = end - timedelta(days=1)
    return f"{start:%d %b %Y}" if last == start else f"{start:%d %b %Y} - {last:%d %b %Y}"


def _day_axis(ax: Axes, start: date, end: date) -> None:
    """Days as columns 0..n-1 (centred on their index), labelled with local dates, never clock times."""
    n = (end - start).days
    days = [start + timedelta(days=i) for i in range(n)]
    if n <= 45:
        step = max(1, math.ceil(n / 12))
        ticks = list(range(0, n, step))
        fmt = "%a\n%d %b" if n <= 14 else "%d %b"
        labels = [f"{days[i]:{fmt}}" for i in ticks]
    elif n <= 750:  # months: a tick on the first of each (every other one past a year)
        ticks = [i for i, d in enumerate(days) if d.day == 1]
        ticks = ticks[:: max(1, math.ceil(len(ticks) / 13))]
        labels = [f"{days[i]:%b}" + (f"\n{days[i]:%Y}" if days[i].month == 1 or i == ticks[0] else "") for i in ticks]
    else:  # years: a tick on each first of January
        ticks = [i for i, d in enumerate(days) if d.day == 1 and d.month == 1]
        ticks = ticks[:: max(1, math.ceil(len(ticks) / 12))]
        labels = [f"{days[i]:%Y}" for i in ticks]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.set_xlim(-0.5, n - 0.5)


def daily_chart(path: Path, totals: Sequence[M.DayTotal], start: date, end: date, tz: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=DPI)
    x = np.array([(t.day - start).days for t in totals])
    measured = [math.nan if t.measured is None else t.measured for t in totals]
    if len(x) <= 62:
        ax.bar(x, measured, width=0.8, color=COLOURS["measured"], label="measured (kwh_pv)", zorder=2)
    else:  # hundreds of bars are slow to draw and read as a filled area anyway
        ax.fill_between(x, measured, step="mid", color=COLOURS["measured"], label="measured (kwh_pv)", zorder=2)
    for name in M.FORECASTS + M.SERVICES:  # a service appears once its forecasts are archived
        values = [t.forecasts.get(name) for t in totals]
        if all(v is None for v in values):
            continue
        y = [math.nan if v is None else v for v in values]
        ax.plot(
            x,
            y,
            marker="o" if len(x) <= 62 else None,
            markersize=5,
            linewidth=1.5,
            color=COLOURS[name],
            label=LABELS[name],
            zorder=3,
        )
    ax.set_title(f"Daily energy, measured and forecast ({_period_text(start, end)})")
    ax.set_ylabel("energy per day (kWh)")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    _day_axis(ax, start, end)
    ax.set_xlabel(f"local date ({tz})")
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    fig.tight_layout()
    save(fig, path)


HEAT_TOP_MIN = 0.1  # kWh: the colour bar's top when no hour produced more


def heat_top(grid: np.ndarray) -> float:
    """The colour bar's top: the largest hour, at least HEAT_TOP_MIN (matplotlib widens an empty 0..0 range
    to -0.1..0.1, which draws 0 kWh mid-scale)."""
    known = grid[np.isfinite(grid)]
    return max(float(known.max()) if known.size else 0.0, HEAT_TOP_MIN)


def heatmap_chart(path: Path, rows: Sequence[M.HourRow], start: date, end: date, tz: str) -> None:
    days = (end - start).days
    grid = np.full((24, days), np.nan)
    for r in rows:
        col = (r.local_date - start).days
        if 0 <= col < days and r.kwh_pv is not None:
            # The repeated autumn hour: both rows add up in their clock hour.
            grid[r.hour, col] = r.kwh_pv + (0.0 if np.isnan(grid[r.hour, col]) else grid[r.hour, col])
    fig, ax = plt.subplots(figsize=(10, 5), dpi=DPI)
    cmap = plt.get_cmap("inferno").copy()
    cmap.set_bad("#bdbdbd")
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        aspect="auto",
        origin="lower",
        cmap=cmap,
        extent=(-0.5, days - 0.5, 0, 24),
        interpolation="nearest",
        # From 0 whatever the data: an all-zero day (snow) is drawn at the bar's foot, not mid-scale.
        vmin=0.0,
        vmax=heat_top(grid),
    )
    _day_axis(ax, start, end)
    ax.set_xlabel(f"local date ({tz})")
    ax.set_yticks(range(0, 25, 3))
    ax.set_yticklabels([f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_ylabel(f"local hour of day ({tz})")
    ax.set_title(f"Measured energy per hour ({_period_text(start, end)}); grey: not known")
    bar = fig.colorbar(image, ax=ax, pad=0.02)
    bar.set_label("energy in the hour (kWh)")
    fig.tight_layout()
    save(fig, path)


BAND_DAYS = 14
BAND_CHART = ("band.png", "The calibrated forecast's P10-P90 band, the last 14 days")


def band_chart(path: Path, rows: Sequence[M.HourRow], start: date, end: date, tz: str) -> bool:
    """The last BAND_DAYS local days of [start, end), hour by hour: the P10-P90 band, the median (kwh_fc)
    and the measured energy. False (nothing drawn) when no hour there has a band."""
    first = max(start, end - timedelta(days=BAND_DAYS))
    hours = sorted((r for r in rows if first <= r.local_date < end), key=lambda r: r.ts_utc)
    if not any(r.kwh_fc_p10 is not None and r.kwh_fc_p90 is not None for r in hours):
        return False

    # One slot per hour since the first: hours without a row stay gaps (NaN), not lines across them.
    slot = np.array([round((r.ts_utc - hours[0].ts_utc).total_seconds() / 3600.0) for r in hours])
    x = np.arange(int(slot[-1]) + 1, dtype=float)

    def series(values: list[float | None]) -> np.ndarray:
        out = np.full(x.size, math.nan)
        out[slot] = [math.nan if v is None else v for v in values]
        return out

    lo, hi = series([r.kwh_fc_p10 for r in hours]), series([r.kwh_fc_p90 for r in hours])
    fig, ax = plt.subplots(figsize=(12, 4.8), dpi=DPI)
    ax.fill_between(x, lo, hi, color=COLOURS["kwh_fc"], alpha=0.25, linewidth=0, label="P10-P90 (80 % band)")
    ax.plot(x, series([r.kwh_fc for r in hours]), color=COLOURS["kwh_fc"], linewidth=1.2, label="median (kwh_fc)")
    ax.plot(
        x, series([r.kwh_pv for r in hours]), color=COLOURS["measured"], linewidth=0, marker="o", markersize=2.5,
        label="measured (kwh_pv)",
    )  # fmt: skip
    days = sorted({r.local_date for r in hours})
    ticks = [int(slot[next(i for i, r in enumerate(hours) if r.local_date == d)]) for d in days]
    ax.set_xticks(ticks)
    ax.set_xticklabels([d.strftime("%a\n%d %b") for d in days], fontsize="small")
    ax.set_xlim(-0.5, max(float(x[-1]) + 0.5, 0.5))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("energy in the hour (kWh)")
    ax.set_xlabel(f"local date ({tz}), one point per hour")
    ax.set_title(f"Calibrated forecast as a band, {_period_text(first, end)}")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    fig.tight_layout()
    save(fig, path)
    return True


def scatter_chart(path: Path, rows: Sequence[M.HourRow], start: date, end: date) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 6.5), dpi=DPI)
    top = 0.0
    for name in M.FORECASTS:
        hours = [r for r in rows if start <= r.local_date < end and M.counts(r, name)]
        if not hours:
            continue
        measured = [r.kwh_pv or 0.0 for r in hours]
        forecast = [r.value(name) or 0.0 for r in hours]
        top = max(top, max(measured), max(forecast))
        ax.scatter(
            measured,
            forecast,
            s=10 if len(hours) > 500 else 18,
            alpha=0.45 if len(hours) > 200 else 0.85,
            color=COLOURS[name],
            label=f"{LABELS[name]}, {len(hours)} h",
            edgecolors="none",
        )
    top = top * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="black", linewidth=1, linestyle="--", label="perfect forecast")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("measured energy in the hour (kWh)")
    ax.set_ylabel("forecast energy for the hour (kWh)")
    ax.set_title(f"Forecast vs measured, counting hours\n{_period_text(start, end)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    fig.tight_layout()
    save(fig, path)


def _bucket_bars(ax: Axes, result: M.Report, which: str, title: str, xlabel: str) -> None:
    judged = [(n, j) for n, j in result.judged.items() if j is not None]
    keys: list[str] = []
    for _, j in judged:
        for k in getattr(j, which):
            if k not in keys:
                keys.append(k)
    if which == "by_month":
        keys.sort()
    else:
        order = [name for name, _, _ in M.LEAD_BUCKETS]
        keys.sort(key=order.index)
    if not keys:
        ax.text(
            0.5,
            0.5,
            "no counting hour with a known issue time\n(forecast_issued)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
        ax.set_title(title)
        return
    width = 0.8 / max(1, len(judged))
    x = np.arange(len(keys))
    for i, (name, j) in enumerate(judged):
        buckets = getattr(j, which)
        mae = [buckets[k].mae if k in buckets and buckets[k].mae is not None else np.nan for k in keys]
        mbe = [buckets[k].mbe if k in buckets and buckets[k].mbe is not None else np.nan for k in keys]
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, mae, width=width * 0.95, color=COLOURS[name], label=f"{LABELS[name]}: MAE", zorder=2)
        ax.scatter(
            pos,
            mbe,
            marker="_",
            s=(width * 200) ** 2 / 40,
            linewidths=2.5,
            color="black",
            zorder=3,
            label="bias (MBE, forecast - measured), one mark per bar" if i == 0 else None,
        )
    hours = {k: max(getattr(j, which)[k].n for _, j in judged if k in getattr(j, which)) for k in keys}
    ax.axhline(0, color="black", linewidth=0.8)
    if len(keys) < 3:  # one or two buckets: keep the bars bar-shaped
        ax.set_xlim(-1.5, len(keys) + 0.5)
    many = len(keys) > 13
    shown = list(range(len(keys)))
    if len(keys) > 24:  # years of months: label the Januaries only, or the labels overlap
        shown = [i for i, k in enumerate(keys) if k.endswith("-01")] or shown[:: math.ceil(len(keys) / 24)]
    ax.set_xticks(x[shown])
    if len(keys) > 24:
        ax.set_xticklabels([keys[i][:4] for i in shown], fontsize="small")  # the year, at its January
    else:
        ax.set_xticklabels(
            [_bucket_label(keys[i], hours[keys[i]], which, many) for i in shown],
            rotation=90 if many else 0,
            fontsize="small",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("error per hour (kWh)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3, zorder=0)


def _bucket_label(key: str, hours: int, which: str, one_line: bool) -> str:
    if which == "by_month":
        month = date.fromisoformat(key + "-01")
        key = f"{month:%b %Y}" if one_line else f"{month:%b}\n{month:%Y}"
    return f"{key} ({hours} h)" if one_line else f"{key}\n{hours} h"


def errors_chart(path: Path, result: M.Report) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5), dpi=DPI)
    _bucket_bars(left, result, "by_month", "Hourly error by local month", "month")
    _bucket_bars(right, result, "by_lead", "Hourly error by lead time", "lead: hours from forecast issue to hour start")
    fig.suptitle("Hourly mean absolute error (bars) and bias (black marks); under each: counting hours")
    handles, labels = left.get_legend_handles_labels()
    if not handles:
        handles, labels = right.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save(fig, path)


def _table(result: M.Report) -> str:
    """The JSON's numbers as an HTML table (one column per forecast)."""
    judged = [(n, j) for n, j in result.judged.items() if j is not None or n in M.FORECASTS]

    def cell(value: Any) -> str:
        if value is None:
            return "<td>n/a</td>"
        if isinstance(value, float):
            return f"<td>{value:.3f}</td>"
        return f"<td>{html.escape(str(value))}</td>"

    head = "".join(f"<th>{html.escape(LABELS[n])}</th>" for n, _ in judged)
    rows = []
    fields = [
        ("counting hours", lambda j: j.hours),
        ("days", lambda j: j.days),
        ("measured energy (kWh)", lambda j: j.measured_kwh),
        ("forecast energy (kWh)", lambda j: j.forecast_kwh),
        ("hourly MAE (kWh)", lambda j: j.hourly.mae),
        ("hourly MBE (kWh)", lambda j: j.hourly.mbe),
        ("hourly RMSE (kWh)", lambda j: j.hourly.rmse),
        ("hourly nMAE (%)", lambda j: j.hourly.nmae_pct),
        ("hourly skill vs persistence", lambda j: j.hourly_skill),
        ("daily MAE (kWh)", lambda j: j.daily.mae),
        ("daily MBE (kWh)", lambda j: j.daily.mbe),
        ("daily RMSE (kWh)", lambda j: j.daily.rmse),
        ("daily nMAE (%)", lambda j: j.daily.nmae_pct),
        ("daily skill vs persistence", lambda j: j.daily_skill),
    ]
    for title, fn in fields:
        cells = "".join(cell(fn(j)) if j is not None else "<td>no counting hour</td>" for _, j in judged)
        rows.append(f"<tr><th>{html.escape(title)}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _ranking_table(result: M.Report) -> str:
    """Which forecast to trust for this roof, per lead time: the page's first table."""
    if not result.ranking:
        return "<p>No ranking: no lead time has counting hours where the forecasts can be compared.</p>"

    def number(value: float | None, fmt: str, unit: str = "") -> str:
        return "n/a" if value is None else format(value, fmt) + unit

    rows = []
    for bucket, entries in result.ranking.items():
        for place, e in enumerate(entries, start=1):
            name = LABELS.get(e.forecast, e.forecast)
            lead = f'<th rowspan="{len(entries)}">{html.escape(bucket)} h</th>' if place == 1 else ""
            rows.append(
                f'<tr>{lead}<td>{place}</td><td style="text-align:left">{html.escape(name)}</td>'
                f"<td>{e.hours}</td><td>{number(e.nmae_pct, '.1f', ' %')}</td><td>{number(e.mbe, '+.3f')}</td>"
                f"<td>{number(e.skill, '+.2f')}</td></tr>"
            )
    head = (
        "<tr><th>lead time</th><th>rank</th><th>forecast</th><th>common hours</th><th>hourly nMAE</th>"
        "<th>bias (MBE, kWh)</th><th>skill vs persistence</th></tr>"
    )
    return f'<table class="ranking">{head}{"".join(rows)}</table>'


def _worst_days(result: M.Report) -> str:
    """Each forecast's three days furthest off (forecast - measured), under the table."""
    items = []
    for name, j in result.judged.items():
        if j is not None and j.day_sums:
            worst = ", ".join(f"{d.day} {d.forecast - d.measured:+.1f} kWh" for d in j.worst_days(3))
            items.append(f"<li>{html.escape(LABELS.get(name, name))}: {html.escape(worst)}</li>")
    return f"<p>Worst days (forecast - measured):</p><ul>{''.join(items)}</ul>" if items else ""


def write_report(
    out_dir: Path,
    result: M.Report,
    rows: Sequence[M.HourRow],
    start: date,
    end: date,
    tz: str,
    table: M.Report | None = None,
    same_note: str | None = None,
    extra: str = "",
) -> Path:
    """Write the four PNGs and ``report.html`` into ``out_dir`` (``extra``: HTML after the figures, e.g. the
    panels' section); returns the page's path."""
    # The numbers once: ``table`` (solar3p's two on the same hours, ``same_note`` says so; default ``result``).
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    daily_chart(out / "daily.png", M.day_totals(rows, start, end), start, end, tz)
    heatmap_chart(out / "heatmap.png", rows, start, end, tz)
    scatter_chart(out / "scatter.png", rows, start, end)
    errors_chart(out / "errors.png", result)
    charts = CHARTS + ((BAND_CHART,) if band_chart(out / BAND_CHART[0], rows, start, end, tz) else ())
    figures = "\n".join(
        f'<figure><img src="{name}" alt="{html.escape(title)}"><figcaption>{html.escape(title)}</figcaption></figure>'
        for name, title in charts
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>PV report {_period_text(start, end)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }}
figure {{ margin: 1.5em 0; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
</style></head><body>
<h1>PV report, {html.escape(_period_text(start, end))} ({html.escape(tz)})</h1>
<h2>Which forecast to trust for this roof</h2>
{_ranking_table(result)}
<p>Each lead time compares the forecasts on the same hours: each one's last forecast issued that long before
the hour. Lower nMAE is better.</p>
{f"<p>{html.escape(same_note)}</p>" if same_note else ""}
{_table(table or result)}
{_worst_days(table or result)}
{figures}
{extra}
<p>Counting hours: measured and forecast both known, not flagged reset, long_gap or late_forecast, and not
both zero. nMAE is the mean absolute error over the mean measured energy; skill compares the forecast's RMSE
with that of "the same as 24 hours (or the day) before": above 0 the forecast beats it.</p>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
