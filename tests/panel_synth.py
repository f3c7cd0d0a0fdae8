"""A seeded per-panel record (``inverter_reading`` rows) of a fake roof (tests/fakes/roof.py), as a gateway
polled every 5 minutes would have given it: for the panel-health tests and the bench."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterator

import numpy as np

from tests.fakes.roof import Roof, utc_ts


def readings(roof: Roof, first: date, days: int) -> Iterator[dict]:
    """Every report of every panel in the UTC days [first, first + days), as table rows."""
    start, end = utc_ts(first), utc_ts(first, 24 * days)
    epoch = datetime(1970, 1, 1)
    for panel in roof.panels:
        times, watts = roof.report_arrays(panel, start, end)
        top = float(round(panel.wp * 0.9))
        for t, w in zip(times.tolist(), watts.round().tolist(), strict=True):
            yield {
                "serial": panel.serial,
                "report_utc": epoch + timedelta(seconds=t),
                "watts": w,
                "max_watts": top,
                "ts_utc": epoch + timedelta(seconds=t + 300 - t % 300),  # the next 5-minute poll
            }


def store_record(store: Any, roof: Roof, first: date, days: int, batch: int = 50000) -> int:
    """Insert the record into ``store`` a batch at a time (times as the tables' text, formatted by numpy: a
    year of 30 panels is a million rows); returns the number of rows."""
    start, end = utc_ts(first), utc_ts(first, 24 * days)
    count = 0
    for panel in roof.panels:
        times, watts = roof.report_arrays(panel, start, end)
        seen = times + 300 - times % 300
        report_text = np.char.replace(np.datetime_as_string(times.astype("datetime64[s]"), unit="s"), "T", " ")
        seen_text = np.char.replace(np.datetime_as_string(seen.astype("datetime64[s]"), unit="s"), "T", " ")
        top = float(round(panel.wp * 0.9))
        rows = [
            {"serial": panel.serial, "report_utc": r, "watts": w, "max_watts": top, "ts_utc": t}
            for r, w, t in zip(report_text.tolist(), watts.round().tolist(), seen_text.tolist(), strict=True)
        ]
        for k in range(0, len(rows), batch):
            count += store.insert_new("inverter_reading", rows[k : k + batch])
    return count
