"""netio: the one HTTP client of every script (the gateway, Enlighten/Entrez, the forecast services).

``netio.errors`` (this package's import) is standard library only; ``netio.client`` brings in requests.
See ``netio.client`` for why it looks as it does.
"""

from netio.errors import (
    BadAnswer,
    BrokenOff,
    ConnectFailed,
    Misconfigured,
    NetError,
    NoAnswer,
    Refused,
    ServerError,
    TimedOut,
    TLSFailed,
    TooLarge,
    Unreachable,
)

__all__ = [
    "BadAnswer",
    "BrokenOff",
    "ConnectFailed",
    "Misconfigured",
    "NetError",
    "NoAnswer",
    "Refused",
    "ServerError",
    "TLSFailed",
    "TimedOut",
    "TooLarge",
    "Unreachable",
]
