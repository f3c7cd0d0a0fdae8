"""Configure stdlib logging once for a script: level from LOG_LEVEL, timestamps, one logger per module.

Modules only call ``logging.getLogger(__name__)``; the scripts call ``setup()`` once.
"""

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# ``extra=AT_ONCE``: a line a person waiting needs now (a gateway that cannot be reached yet, while the run
# retries for minutes); homepower.cli.held_logs writes it at once instead of holding it to the run's end.
AT_ONCE = {"at_once": True}


def setup(level: str | None = None) -> None:
    """Send log lines to stderr at ``level`` (default: LOG_LEVEL, else INFO)."""
    name = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(numeric)
    # urllib3 logs full URLs and headers at DEBUG; keep it quiet so nothing secret can leak.
    logging.getLogger("urllib3").setLevel(max(numeric, logging.INFO))
    # mysql-connector announces its plugins at INFO on every connection: noise in a cron mail.
    logging.getLogger("mysql.connector").setLevel(max(numeric, logging.WARNING))


# The original project's scripts called these; kept so its code and notebooks still run.
_compat = logging.getLogger("homepower")


def logdebug(message: object) -> None:
    _compat.debug("%s", message)


def loginfo(message: object) -> None:
    _compat.info("%s", message)


def logerror(message: object) -> None:
    _compat.error("%s", message)
