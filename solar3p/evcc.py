"""The forecast as evcc's custom solar forecast: ``[{"start", "end", "value"}]`` per hour, RFC 3339 times,
``value`` the hour's mean power in W. evcc reads it with a ``custom`` solar tariff (``source: script`` or
``http``); see docs/publish.md. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from solar3p.api import Forecast


def evcc_forecast(lines: Sequence[Forecast], now: datetime) -> list[dict[str, Any]]:
    """The calibrated median (``kwh_fc``) of each hour not over by ``now`` (aware), the current hour
    included; hours without a calibrated value (no irradiance in the file) are left out."""
    out = []
    for line in lines:
        start = line.start.astimezone(timezone.utc)
        end = start + timedelta(hours=1)
        if end <= now or line.kwh_fc is None:
            continue
        tz = line.start.tzinfo
        out.append(
            {
                "start": line.start.isoformat(timespec="seconds"),
                "end": end.astimezone(tz).isoformat(timespec="seconds"),
                "value": round(line.kwh_fc * 1000.0, 1),  # kWh over one hour = its mean kW
            }
        )
    return out
