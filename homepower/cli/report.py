"""How good were the forecasts, and what did the panels do: a report over pvhistory.

  pv_report.py                                   the last 30 complete local days, as a table
  pv_report.py --from 2025-06-01 --to 2025-07-01 local days [from, to)
  --format json                                  the numbers as JSON (the contract's keys)
  --out DIR                                      also DIR/report.html with PNG charts beside it
  pv_report.py --status                          the installation's health; exit 0 fresh, 69 stale
  pv_report.py --publish                         the calibrated forecast to MQTT (Home Assistant, Predbat)

Exit codes: 0 done, 64 bad usage, 65 no counting hour in the period, 69 stale (--status) or the MQTT
broker unreachable (--publish), 75 database unavailable, 77 the broker refused the credentials (--publish),
78 configuration error (--publish: no MQTT_URL, or no calibration yet).

Run as ``pv_report.py`` in a checkout or ``homepower-report`` when installed (``pip install .``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Sequence

from homepower.cli import Parser, program, run, setup_logging
from homepower.errors import UsageError


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = Parser(
        prog=program("pv_report.py"), description="Report on pvhistory: forecasts judged, production shown."
    )
    parser.add_argument("--from", dest="start", metavar="A", help="first local date, YYYY-MM-DD (inclusive)")
    parser.add_argument("--to", dest="end", metavar="B", help="local date to stop at, YYYY-MM-DD (exclusive)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="summary format")
    parser.add_argument("--out", metavar="DIR", type=Path, help="write DIR/report.html and its PNG charts")
    parser.add_argument("--status", action="store_true", help="the installation's health in a few lines")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="send the calibrated forecast (today, tomorrow, the day after; median, P10, P90), the last hour's "
        "energy and the --status verdict as retained MQTT messages to MQTT_URL, with Home Assistant discovery "
        "under HA_DISCOVERY_PREFIX",
    )
    parser.add_argument("--now", help=argparse.SUPPRESS)  # tests: pretend it is this UTC time
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        from homepower import settings
        from homepower.collect import utc_now
        from homepower.dialects import parse_utc
        from homepower.store import Store

        if args.status and (args.start or args.end or args.out):
            raise UsageError("--status takes no --from, --to or --out")
        if args.publish and (args.status or args.start or args.end or args.out):
            raise UsageError("--publish takes no --status, --from, --to or --out")
        now = utc_now()
        if args.now:
            try:
                now = parse_utc(args.now)
            except ValueError:
                raise UsageError(f"--now {args.now!r} is not an ISO time (UTC)") from None
        from homepower import report

        if not (args.status or args.publish):
            # a bad date is 64 before any setting is read (a day later: the local date may be ahead of UTC's)
            report.period(args.start, args.end, now.date() + timedelta(days=1))
        conf = settings.load()
        setup_logging(conf.log_level)
        if args.status:
            from homepower import status

            return status.run_status(conf, now)
        if args.publish:
            from homepower import publisher
            from homepower.cli import held_logs

            with held_logs():  # a failure is its one line; what the run logged goes with it
                published = publisher.run_publish(conf, now)
            print(publisher.summary_line(published, conf.publish.broker.describe() if conf.publish.broker else ""))
            return 0
        span = report.period(args.start, args.end, report.local_today(now, conf.timezone))
        if args.out is not None:
            report.prepare_out(Path(args.out))  # a directory that cannot be written: 64 before any work
        # Reads only (a read-only user, another application's database): the collector makes the tables.
        with Store.connect(conf.database, conf.timezone, create=False, existing=True) as store:
            store.require_schema()
            report.run_report(
                store, span, conf.timezone, args.format, args.out, min_lead_h=conf.forecast.min_lead_h, pv=conf.pv
            )
        return 0

    return run(body, "pv_report")
