"""The scripts' logging, kept at the top level for the original project's code and notebooks: ``setup()``
is the project's one configuration (``solar3p.edge.setup_logging``); ``logdebug``/``loginfo``/``logerror``
are the original helpers."""

import logging

from solar3p.edge import AT_ONCE
from solar3p.edge import LOG_FORMAT as FORMAT
from solar3p.edge import setup_logging as setup

__all__ = ["AT_ONCE", "FORMAT", "logdebug", "logerror", "loginfo", "setup"]

# The original project's scripts called these; kept so its code and notebooks still run.
_compat = logging.getLogger("homepower")


def logdebug(message: object) -> None:
    _compat.debug("%s", message)


def loginfo(message: object) -> None:
    _compat.info("%s", message)


def logerror(message: object) -> None:
    _compat.error("%s", message)
