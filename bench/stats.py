"""Pure helpers of the benchmark: summary statistics of repeated timings and the report table.

No I/O here, so the test suite can check them without servers (tests/test_bench_helpers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one thing (seconds, or any unit)."""

    n: int
    median: float
    low: float  # smallest
    high: float  # largest
    q1: float  # 25th percentile
    q3: float  # 75th percentile

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside 0..1")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no measurements to summarise")
    return Summary(
        n=len(values),
        median=quantile(values, 0.5),
        low=min(values),
        high=max(values),
        q1=quantile(values, 0.25),
        q3=quantile(values, 0.75),
    )


def ratio(ours: float, theirs: float) -> float:
    if theirs <= 0:
        raise ValueError("the reference time must be positive")
    return ours / theirs


def fmt_s(seconds: float) -> str:
    """Seconds with a precision that suits their size: 0.084 s, 2.41 s, 35.2 s."""
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 10:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s"


def fmt_spread(s: Summary) -> str:
    """Median with the range and the count, e.g. ``0.121 s (0.115-0.140, n=7)``."""
    return f"{fmt_s(s.median)} ({s.low:.3f}-{s.high:.3f}, n={s.n})"


def fmt_mib(kib: float) -> str:
    """ru_maxrss (KiB on Linux) as MiB."""
    return f"{kib / 1024:.1f} MiB"


@dataclass(frozen=True)
class Row:
    """One line of the report: what was measured, the figure, the goal, and whether the goal was met.

    ``met`` is None when there is no goal or no figure (``figure`` then says "n/a: <reason>")."""

    what: str
    figure: str
    goal: str = ""
    met: bool | None = None


def na(what: str, reason: str, goal: str = "") -> Row:
    """A row for a part that could not be measured, with the reason on one line."""
    reason = " ".join(str(reason).split())
    if len(reason) > 160:
        reason = reason[:157] + "..."
    return Row(what, f"n/a: {reason}", goal, None)


def at_most(what: str, value: float, goal: float, figure: str | None = None, unit: str = "s") -> Row:
    """A row for a figure whose goal is an upper bound."""
    shown = figure if figure is not None else (fmt_s(value) if unit == "s" else f"{value:.2f}")
    goal_text = f"<= {goal:g} s" if unit == "s" else f"<= {goal:g}"
    return Row(what, shown, goal_text, value <= goal)


def render(rows: Sequence[Row]) -> str:
    """A plain-text table, one line a row, columns aligned; readable in a terminal and in the README."""
    header = Row("measured", "figure", "goal", None)
    mark = {True: "yes", False: "NO", None: ""}
    cells = [(r.what, r.figure, r.goal, "met" if r is header else mark[r.met]) for r in [header, *rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("  ".join(c[j].ljust(widths[j]) for j in range(3)) + "  " + c[3])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ---")
    return "\n".join(line.rstrip() for line in lines)
