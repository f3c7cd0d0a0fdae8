"""The PV forecast services solar3p is judged against: one module per service (``forecast_solar``,
``solcast``), each parsing the service's answers into records and converting them to hourly kWh (pure);
``pvfile`` is the file they are written to; ``fetch`` runs a download through the project's HTTP client."""

from __future__ import annotations

PV_PROVIDERS = ("forecast.solar", "solcast")  # what --source names, and pv_forecast.provider
