"""Build pvhistory: one row per local clock hour (energy produced and exported, the forecast beside it).

  history_collector.py                      the last completed hour, plus missing/NULL hours of the last 48
  history_collector.py --hour 2025-06-01T13 one local hour (both rows for the repeated autumn hour)
  history_collector.py --from 2025-06-01 --to 2025-07-01   every hour in [from, to), local
  history_collector.py --archive FILE...   store old forecast files in the archive, say how many rows were new
  --dry-run                                 print the rows, store nothing in the database
  history_collector.py --calibrate          fit solar3p's calibration on pvhistory (table calibration and
                                            STATE_DIR/solar3p-calibration.json); changes no kwh_fc
  history_collector.py --calibrate --if-ready   as cron runs it: too little history yet is one line, exit 0
  history_collector.py --calibrate --from A --to B   backtest: each local day's kwh_fc from a fit on
                                            the hours before that day

Every run first stores METEO_FILE's rows in the forecast archive (nothing to do when it is unchanged), and the
PV services' files in STATE_DIR (pv-forecast-forecast.solar.json, pv-forecast-solcast.json) in pv_forecast.

Exit codes: 0 done, 64 bad usage, 65 forecast file not understood (nothing stored from it),
75 database unavailable, 78 configuration error.

Run as ``history_collector.py`` in a checkout or ``homepower-collect`` when installed (``pip install .``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from homepower.cli import Parser, held_logs, program, run, setup_logging
from homepower.errors import UsageError

if TYPE_CHECKING:
    from homepower.collect import HourRow, Request
    from homepower.settings import Settings


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = Parser(prog=program("history_collector.py"), description="Build pvhistory: one row per local clock hour.")
    parser.add_argument("--hour", metavar="YYYY-MM-DDTHH", help="one local hour")
    parser.add_argument("--from", dest="start", metavar="A", help="first local hour or date (inclusive)")
    parser.add_argument("--to", dest="end", metavar="B", help="local hour or date to stop at (exclusive)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the rows, store nothing in the database (STATE_DIR's computation caches may be filled)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fit solar3p's calibration on pvhistory; with --from/--to: backtest, filling each day's kwh_fc "
        "from a fit on the hours before it",
    )
    parser.add_argument(
        "--if-ready",
        action="store_true",
        help="with --calibrate (the scheduled run): too little history yet is one 'not yet' line and exit 0, not 65",
    )
    parser.add_argument(
        "--archive",
        nargs="+",
        metavar="FILE",
        help="store these forecast files (old downloads; weather or PV service files) in the archive, print how "
        "many rows were new, exit",
    )
    parser.add_argument("--now", help=argparse.SUPPRESS)  # tests: pretend it is this UTC time
    return parser.parse_args(argv)


def make_request(args: argparse.Namespace) -> Request:
    """The collector request the options name (local times; the time zone applies later)."""
    from homepower import hours
    from homepower.collect import Request

    # "Given" is "not None": an empty value (--hour '', --hour=) is a malformed time, not "no option".
    hour, start, end = args.hour, args.start, args.end
    if args.if_ready and (not args.calibrate or start is not None or end is not None):
        raise UsageError("--if-ready goes with --calibrate alone (the scheduled fit), not with a backtest")
    if args.calibrate and (hour is not None or args.dry_run):
        raise UsageError("--calibrate takes no --hour or --dry-run: alone, or with --from A --to B (backtest)")
    if hour is not None and (start is not None or end is not None):
        raise UsageError("use either --hour or --from/--to, not both")
    if hour is not None:
        return Request("hour", hour=hours.parse_local(hour, "--hour", need_hour=True), dry_run=args.dry_run)
    if start is not None or end is not None:
        if start is None or end is None:
            raise UsageError("--from and --to go together: --from A --to B collects every hour in [A, B)")
        start, end = hours.parse_local(args.start, "--from"), hours.parse_local(args.end, "--to")
        if not start < end:
            raise UsageError(f"--from {args.start} is not before --to {args.end}")
        return Request("range", start=start, end=end, dry_run=args.dry_run)
    return Request("recent", dry_run=args.dry_run)


def archive(conf: Settings, paths: Sequence[Path]) -> None:
    """``--archive``: store each file, one line per file; a bad file stores nothing and fails the run (65)."""
    from homepower.errors import DataError
    from homepower.forecast import archive_files
    from homepower.store import Store

    with Store.connect(conf.database, conf.timezone) as store:
        done, errors = archive_files(store, paths)
    for item in done:
        print(f"{item.path}: {item.new} new forecast row(s) of {item.rows}")
    if len(done) > 1:
        print(f"{sum(i.new for i in done)} new forecast row(s) from {len(done)} file(s)")
    if errors:
        others = f" (and {len(errors) - 1} more bad file(s))" if len(errors) > 1 else ""
        raise DataError(f"{errors[0]}; nothing stored from it{others}") from errors[0]


def print_table(rows: Sequence[HourRow]) -> None:
    from homepower.hourtable import format_table

    sys.stdout.write(format_table(rows))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    def body() -> None:
        from homepower import settings

        conf = settings.load()
        setup_logging(conf.log_level)
        with held_logs():  # a failed run is its one line (below DEBUG); a good one logs as usual
            return work(conf)

    def work(conf: Settings) -> None:
        from solar3p.site import check

        if misfit := check(conf.pv.latitude, conf.pv.longitude, conf.timezone):  # every hour's sun depends on it
            logging.getLogger("history_collector").warning("%s", misfit)
        if args.archive is not None:
            if (
                any(v is not None for v in (args.hour, args.start, args.end))
                or args.dry_run
                or args.calibrate
                or args.if_ready
            ):
                raise UsageError(
                    "--archive stores forecast files and exits: use it without --hour, --from/--to, --dry-run, "
                    "--calibrate"
                )
            if any(not name.strip() for name in args.archive):
                raise UsageError("--archive has an empty file name: give the forecast files to store")
            return archive(conf, [Path(name) for name in args.archive])
        request = make_request(args)
        from homepower.collect import ForecastFileRefused, collect
        from homepower.dialects import parse_utc
        from homepower.store import Store

        now = None
        if args.now:
            try:
                now = parse_utc(args.now)
            except ValueError:
                raise UsageError(f"--now {args.now!r} is not an ISO time (UTC)") from None
        with Store.connect(conf.database, conf.timezone) as store:
            if args.calibrate:
                from homepower import calibration

                if request.kind == "range":
                    assert request.start is not None and request.end is not None  # a range has both
                    calibration.backtest(conf, store, request.start, request.end)
                    return
                try:
                    calibration.calibrate(conf, store, now_utc=now)
                except calibration.NotYet as not_yet:
                    if not args.if_ready:
                        raise
                    # the first days: a normal state, one line in the log and nothing for cron to mail
                    print(f"calibration not yet: {not_yet.detail}; the next scheduled run tries again")
                return
            try:
                rows = collect(conf, request, store, now_utc=now)
            except ForecastFileRefused as refused:  # the hours were done all the same: shown, then 65
                if request.dry_run:
                    print_table(refused.rows)
                raise
        if request.dry_run:
            print_table(rows)

    return run(body, "history_collector")
