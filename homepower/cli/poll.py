"""One poll of the Enphase IQ Gateway into enphase_production (see docs/poller.md).

Exit codes: 0 done, 64 bad usage, 65 an answer or file not understood (nothing stored), 69 gateway or
Enlighten unreachable or a server error, 75 database unavailable (reading spooled) or lock held too long,
77 credentials/token rejected or certificate pin mismatch, 78 configuration error.

Run as ``get_enphase_hour_measure.py`` in a checkout or ``homepower-poll`` when installed (``pip install .``).
"""

from __future__ import annotations

import gc
import json
from typing import TYPE_CHECKING, Sequence

from homepower.cli import Parser, held_logs, program, run, setup_logging

if TYPE_CHECKING:
    from types import ModuleType

    from homepower.poller_settings import PollerSettings


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(
        prog=program("get_enphase_hour_measure.py"),
        description="Read the Enphase IQ Gateway once and store one row in enphase_production.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="read and print the reading as JSON; store nothing; an unreachable gateway fails at once (no retrying)",
    )
    mode.add_argument(
        "--replay",
        metavar="FILE",
        help='store recorded readings: JSON lines {"ts": "<ISO 8601 with offset>", "body": {...}}, '
        'or the recapture layout {"data": [...]} with --start and --step',
    )
    parser.add_argument(
        "--start", metavar='"YYYY-MM-DD HH:MM"', help="recapture layout: time of the first body, local (SITE_TIMEZONE)"
    )
    parser.add_argument("--step", metavar="MINUTES", type=float, help="recapture layout: minutes between bodies")
    args = parser.parse_args(argv)
    if (args.start is not None or args.step is not None) and not args.replay:
        parser.error("--start and --step go with --replay")

    def body() -> None:
        from homepower import poll, poller_settings

        settings = poller_settings.load()  # the poller's own: the roof and the forecasts are not its business
        setup_logging(settings.log_level)
        with held_logs():  # a failure is one line on stderr; the run's log lines only when it succeeds
            act(poll, settings)

    def act(poll: ModuleType, settings: PollerSettings) -> None:
        if args.replay:
            count = poll.replay(settings, args.replay, args.start, args.step)
            print(f"stored {count} reading(s) from {args.replay}")
        elif args.dry_run:
            print(json.dumps(poll.read_gateway(settings, once=True).to_json()))
        else:
            poll.poll_once(settings)

    return run(body, "get_enphase_hour_measure")


def freeze() -> None:
    """After a one-shot run: move what is alive into the GC's permanent generation so the collection at
    interpreter exit does not walk every imported module again (about a tenth of a cron poll's time)."""
    gc.freeze()


def console() -> int:
    """``homepower-poll`` (the installed console script): ``main``, then ``freeze``."""
    code = main()
    freeze()
    return code
