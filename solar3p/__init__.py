"""solar3p: an hourly PV forecast from a Meteoserver "solar" file, physics from pvlib.

``import solar3p`` stays light: pandas and pvlib load only when a forecast is computed.
"""

from __future__ import annotations

__all__ = ["asdict"]


def asdict(period="day", wp=None, pans=None, lay=None, gran="hour", file=None):
    """The original call: ``{"DD-MM-YYYY HH:00": kWh}``. See ``solar3p.api.asdict``."""
    from solar3p.api import asdict as _asdict

    return _asdict(period, wp, pans, lay, gran, file)
