"""solar3p: an hourly PV forecast from a Meteoserver "solar" file, physics from pvlib.

``import solar3p`` stays light: pandas and pvlib load only when a forecast is computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["asdict"]


def asdict(
    period: object = "day",
    wp: str | float | None = None,
    pans: str | float | None = None,
    lay: str | float | None = None,
    gran: str = "hour",
    file: str | Path | None = None,
) -> dict:
    """The original call: ``{"DD-MM-YYYY HH:00": kWh}``. See ``solar3p.api.asdict``."""
    from solar3p.api import asdict as _asdict

    return _asdict(period, wp, pans, lay, gran, file)
