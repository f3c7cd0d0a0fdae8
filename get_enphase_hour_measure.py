#!/usr/bin/env python3
"""One poll of the Enphase IQ Gateway into enphase_production (see README, section "poller").

Exit codes: 0 done, 64 bad usage, 65 an answer or file not understood (nothing stored), 69 gateway or
Enlighten unreachable or a server error, 75 database unavailable (reading spooled) or lock held too long,
77 credentials/token rejected or certificate pin mismatch, 78 configuration error.
"""
import argparse
import json
import sys

from homepower.errors import EX_USAGE, HomepowerError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # bad usage is exit 64 (the contract), in one line
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(EX_USAGE)


def main(argv=None) -> int:
    parser = _Parser(prog="get_enphase_hour_measure.py",
                     description="Read the Enphase IQ Gateway once and store one row in enphase_production.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="read and print the reading as JSON; store nothing")
    mode.add_argument("--replay", metavar="FILE",
                      help='store recorded readings: JSON lines {"ts": "<ISO 8601 with offset>", "body": {...}}, '
                           'or the recapture layout {"data": [...]} with --start and --step')
    parser.add_argument("--start", metavar='"YYYY-MM-DD HH:MM"',
                        help="recapture layout: time of the first body, local (SITE_TIMEZONE)")
    parser.add_argument("--step", metavar="MINUTES", type=float, help="recapture layout: minutes between bodies")
    args = parser.parse_args(argv)
    if (args.start is not None or args.step is not None) and not args.replay:
        parser.error("--start and --step go with --replay")

    import log
    from homepower import settings as settings_mod
    try:
        settings = settings_mod.load()
        log.setup(settings.log_level)
        from homepower import poll
        if args.replay:
            count = poll.replay(settings, args.replay, args.start, args.step)
            print(f"stored {count} reading(s) from {args.replay}")
        elif args.dry_run:
            reading = poll.read_gateway(settings)
            print(json.dumps(reading.to_json()))
        else:
            poll.poll_once(settings)
    except HomepowerError as err:
        print(str(err).splitlines()[0] if str(err) else type(err).__name__, file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line (the traceback only at DEBUG), never a secret
        import logging
        logging.getLogger("get_enphase_hour_measure").debug("unexpected error", exc_info=True)
        print(f"unexpected error ({type(exc).__name__}); run with LOG_LEVEL=DEBUG for details and "
              f"report it", file=sys.stderr)
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
