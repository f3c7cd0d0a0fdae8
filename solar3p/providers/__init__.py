"""The PV forecast services solar3p is judged against: one module per service (``forecast_solar``,
``solcast``), each parsing the service's answers into records and converting them to hourly kWh (pure);
``pvfile`` is the file they are written to; ``fetch`` runs a download through the project's HTTP client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

PV_PROVIDERS = ("forecast.solar", "solcast")  # what --source names, and pv_forecast.provider

# The most days one answer's hours may span: Forecast.Solar gives today from midnight and up to 6 days
# more (its paid plans), Solcast up to 14 days ahead. A wider answer is broken, and the hours in between
# (each 0 where Forecast.Solar sends none) would have no bound.
MAX_SPAN_DAYS = 18


def countable(moment: datetime) -> bool:
    """Whether an aware ``moment`` has local hours a day either side (not at the calendar's ends: year 1 or
    9999, where an answer's hour arithmetic would overflow)."""
    try:
        utc = moment.astimezone(timezone.utc)
        return (utc - timedelta(days=1)) < (utc + timedelta(days=1))
    except (OverflowError, ValueError):
        return False
