"""``pv_report.py --publish`` and ``python -m solar3p --format evcc`` as cron and evcc run them (``make bench``).

An installation in SQLite: 21 days of synthetic history (tests/calib_synth.py), a calibration fitted on it with
its spread, and a week of hourly forecast downloads each covering the next 4 days (the archive a publish run
reads: every issue of today and the next three days). A Mosquitto broker on a free loopback port
(tests/fakes/mosquitto.py). Measured: the whole process, spawn to exit, and its peak memory; the largest
message a subscriber got (Home Assistant's limit is 16 KiB); the evcc output's run time on a 4-day file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from bench import proc
from bench.stats import Row, fmt_mib, fmt_spread, na, summarize

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
NOW = datetime(2025, 5, 22, 10, 0)  # naive UTC, inside the synthetic history's last day + 1


def _installation(folder: Path) -> tuple[str, Path, Path]:
    """The SQLite URL, a forecast file of the next 4 days and a calibration file."""
    from homepower.calibration import calibration_row
    from homepower.settings import parse_database_url
    from homepower.store import Store
    from solar3p import calibrate as C
    from tests import calib_synth as S

    h = S.generate(date(2025, 5, 1), 26, azimuth=180.0, tilt=35.0, seed=5)
    today = datetime(2025, 5, 21, 22)  # local midnight of May 22
    n = next(i for i, r in enumerate(h.rows) if r["ts_utc"] >= today)
    cal = C.fit(h.feat.take(slice(0, n)), h.kwh[:n], h.day[:n], S.given(135.0, 35.0))
    url = f"sqlite:///{folder / 'hp.db'}"
    with Store.connect(parse_database_url(url)) as store:
        store.upsert("pvhistory", h.rows[:n])
        store.upsert("calibration", [calibration_row(cal, today + timedelta(hours=2, minutes=30))])
        by_ts = {r["ts_utc"]: r for r in h.rows}
        rows = []
        for issue in range(7 * 24):  # hourly downloads over the last week, each the next 4 days
            issued = NOW - timedelta(hours=issue)
            first = issued.replace(minute=0) - timedelta(hours=2)
            for k in range(96):
                r = by_ts.get(first + timedelta(hours=k))
                if r is not None:
                    rows.append(
                        {
                            "ts_utc": r["ts_utc"],
                            "issued_utc": issued,
                            "provider": "open-meteo",
                            "gr_w": r["gr_w"],
                            "tc": r["tc"],
                            "temp": r["temp"],
                        }
                    )
        store.store_forecasts(rows)
    forecast = [
        {
            "time": str(int((r["ts_utc"] - datetime(1970, 1, 1)).total_seconds())),
            "gr_w": str(r["gr_w"]),
            "temp": str(r["temp"]),
            "tc": str(r["tc"]),
        }
        for r in h.rows[n : n + 96]
    ]
    meteo = folder / "forecast.json"
    meteo.write_text(
        json.dumps({"plaatsnaam": [{"plaats": "bench"}], "issued": str(int(NOW.timestamp())), "forecast": forecast})
    )
    calibration = folder / "cal.json"
    calibration.write_text(json.dumps(cal.as_json()))
    return url, meteo, calibration


def measure(env: Callable[..., dict[str, str]], limit: Callable[[float], float]) -> list[Row]:
    from tests.fakes import mosquitto

    reason = mosquitto.available()
    if reason:
        return [na("pv_report.py --publish", reason)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        folder = Path(tmp)
        url, meteo, calibration = _installation(folder)
        broker = mosquitto.start(folder / "broker")
        try:
            settings = {"DATABASE_URL": url, "MQTT_URL": broker.url(), "STATE_DIR": str(folder / "state")}
            runs = [
                proc.run(
                    [sys.executable, "pv_report.py", "--publish", "--now", NOW.isoformat()],
                    env=env(**settings),
                    cwd=str(ROOT),
                    timeout=limit(60),
                )
                for _ in range(RUNS)
            ]
            got: dict[str, Any] = broker.retained(expect=10)
        finally:
            broker.stop()
        rows.append(
            Row(
                "pv_report.py --publish, whole process (10 messages, a week of hourly issues)",
                fmt_spread(summarize([r.wall_s for r in runs])),
            )
        )
        rows.append(Row("  its peak memory", fmt_mib(max(r.maxrss_kib for r in runs))))
        largest = max(got.items(), key=lambda kv: len(kv[1]))
        rows.append(
            Row(
                "  largest message (Home Assistant keeps attributes < 16 KiB)",
                f"{len(largest[1]):,} bytes ({largest[0]})",
                "< 16,384 bytes",
                len(largest[1]) < 16384,
            )
        )
        evcc = [
            proc.run(
                [
                    sys.executable,
                    "-m",
                    "solar3p",
                    "--format",
                    "evcc",
                    "--file",
                    str(meteo),
                    "--calibration",
                    str(calibration),
                    "--now",
                    NOW.isoformat(),
                ],
                env=env(STATE_DIR=str(folder / "state")),
                cwd=str(ROOT),
                timeout=limit(60),
            )
            for _ in range(RUNS)
        ]
        hours = len(json.loads(evcc[-1].stdout))
        rows.append(
            Row(
                f".venv/bin/python -m solar3p --format evcc, whole process ({hours} hours)",
                fmt_spread(summarize([r.wall_s for r in evcc])),
            )
        )
    return rows
