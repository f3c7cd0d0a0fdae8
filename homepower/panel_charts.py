"""The report's panel chart: each panel's daily energy relative to its group's median, panel x day, and the
HTML section around it. matplotlib (Agg), loaded only by ``pv_report.py --out``."""

from __future__ import annotations

import html
import math
from datetime import date, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from homepower import panel_check  # noqa: E402
from homepower.charts import save  # noqa: E402
from homepower import panel_health as H  # noqa: E402

DPI = 100
NAME = "panels.png"


def panel_chart(path: Path, health: H.Health, start: date, end: date) -> None:
    """Rows: panels by group; columns: local days; colour: energy / group median (grey: no report, or no
    group to compare with). Sunny days are marked under the axis: only they judge a panel."""
    days = [start + timedelta(days=i) for i in range((end - start).days)]
    rows = panel_check.chart_rows(health, days)
    grid = np.array([[math.nan if v is None else v for v in values] for _, _, values in rows], dtype=float)
    if grid.size == 0:
        grid = np.full((1, max(len(days), 1)), math.nan)
    height = max(3.5, min(0.22 * len(rows) + 2.0, 30.0))
    fig, ax = plt.subplots(figsize=(10, height), dpi=DPI)
    labels = [f"{serial} ({group})" for group, serial, _ in rows]
    size = 7 if len(rows) > 30 else 8
    # Margins in inches from the labels' length, not tight_layout: its extra drawing pass was a third of
    # this chart's time (a year of 30 panels; docs/benchmarks.md).
    left = 0.35 + 0.075 * size / 8 * max((len(x) for x in labels), default=0)
    fig.subplots_adjust(left=left / 10, right=1 - 0.8 / 10, bottom=0.6 / height, top=1 - 0.45 / height)
    cmap = plt.get_cmap("RdYlGn").copy()
    cmap.set_bad("#dddddd")
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0.5, vmax=1.5, interpolation="nearest")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=size)
    step = max(1, math.ceil(len(days) / 12))
    ax.set_xticks(range(0, len(days), step))
    ax.set_xticklabels([f"{days[i]:%d %b}" for i in range(0, len(days), step)])
    sunny = set(health.sunny_days)
    marks = [i for i, day in enumerate(days) if day in sunny]
    if marks:  # one artist for all of them: hundreds of single markers are slow to draw
        ax.plot(marks, [len(rows) - 0.2] * len(marks), "^", color="#f2a900", markersize=4, clip_on=False)
    for boundary in np.cumsum([len(m) for m in health.groups.values()])[:-1]:
        ax.axhline(boundary - 0.5, color="black", linewidth=1.0)
    marked = {s.serial for s in health.silent} | {low.serial for low in health.low}
    for label, (_, serial, _) in zip(ax.get_yticklabels(), rows, strict=True):
        if serial in marked:
            label.set_color("#c00000")
            label.set_fontweight("bold")
    fig.colorbar(image, ax=ax, label="energy / median of its group", fraction=0.04, pad=0.02)
    ax.set_title("Each panel's daily energy against its group's median (triangles: sunny days)")
    save(fig, path)


def write_panels(out_dir: Path, health: H.Health, start: date, end: date) -> str:
    """Draw the chart into ``out_dir``; returns the page's section about the panels."""
    panel_chart(Path(out_dir) / NAME, health, start, end)
    lines = panel_check.summary_lines(health)
    caption = "Each panel against its group's median, per day"
    return (
        '<h2 id="panels">Panels</h2>\n'
        f"<pre>{html.escape(chr(10).join(lines))}</pre>\n"
        f'<figure><img src="{NAME}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}: a '
        f"group is a set of panels that behave alike through the day (a plane of the roof). A panel is low "
        f"when it made less than {H.LOW_RATIO:.0%} of its group's median over its last {H.LOW_DAYS} sunny "
        f"days, silent when it has not reported power for more than a day of daylight.</figcaption></figure>"
    )
