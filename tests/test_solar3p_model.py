"""solar3p physics: sanity a user would notice, and agreement with a direct pvlib computation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pvlib
import pytest

from conftest import ROOT
from homepower.settings import ORIENTATIONS, PVSettings
from solar3p.model import GAMMA_PDC, INVERTER_EFFICIENCY, DC_AC_RATIO, hourly_kwh
from test_solar3p_support import as_rows, clear_hours, peak_hour, row, unix

SOUTH = PVSettings(azimuth=180.0)
RATING_KW = SOUTH.panels * SOUTH.panel_wp / 1000


def test_night_hours_give_zero_even_if_the_file_claims_light():
    rows = as_rows(
        [
            row(unix("2025-06-21 23:00Z"), 0.0),
            row(unix("2025-06-22 00:00Z"), 300.0),
            row(unix("2025-12-21 02:00Z"), 50.0),
        ]
    )
    assert set(hourly_kwh(rows, SOUTH).values()) == {0.0}


def test_clear_sky_noon_is_near_the_rating_after_losses():
    kwh = hourly_kwh(as_rows(clear_hours("2025-06-21", temp=20.0)), SOUTH)
    noon = max(kwh.values())
    after_losses = RATING_KW * (1 - SOUTH.losses_pct / 100) * INVERTER_EFFICIENCY
    assert 0.8 * after_losses <= noon <= RATING_KW / DC_AC_RATIO + 1e-9
    assert peak_hour(kwh) == unix("2025-06-21 11:00Z")  # solar noon at 4.48 E is ~11:44 UTC


def test_losses_and_size_scale_the_forecast():
    rows = as_rows([row(unix("2025-04-10 11:00Z"), 300.0)])
    base = hourly_kwh(rows, SOUTH)[unix("2025-04-10 11:00Z")]
    more_losses = hourly_kwh(rows, dataclasses.replace(SOUTH, losses_pct=28.0))[unix("2025-04-10 11:00Z")]
    twice = hourly_kwh(rows, dataclasses.replace(SOUTH, panels=24))[unix("2025-04-10 11:00Z")]
    assert more_losses < base < twice
    assert twice == pytest.approx(2 * base, rel=0.01)


def test_south_beats_north_in_winter():
    rows = as_rows(clear_hours("2025-12-21", temp=3.0))
    south = sum(hourly_kwh(rows, SOUTH).values())
    north = sum(hourly_kwh(rows, dataclasses.replace(SOUTH, azimuth=0.0)).values())
    assert south > 2 * north > 0


def test_west_peaks_after_noon_and_east_before():
    rows = as_rows(clear_hours("2025-03-20"))
    west = hourly_kwh(rows, dataclasses.replace(SOUTH, azimuth=270.0))
    east = hourly_kwh(rows, dataclasses.replace(SOUTH, azimuth=90.0))
    assert peak_hour(west) >= unix("2025-03-20 13:00Z")
    assert peak_hour(east) <= unix("2025-03-20 10:00Z")


def test_hotter_panels_give_less():
    cold = hourly_kwh(as_rows([row(unix("2025-05-01 11:00Z"), 500.0, temp=0.0)]), SOUTH)
    hot = hourly_kwh(as_rows([row(unix("2025-05-01 11:00Z"), 500.0, temp=35.0)]), SOUTH)
    assert hot[unix("2025-05-01 11:00Z")] < cold[unix("2025-05-01 11:00Z")]


@pytest.mark.parametrize("name", sorted(ORIENTATIONS))
def test_every_compass_point_gives_a_forecast(name):
    from homepower.settings import parse_orientation

    pv = dataclasses.replace(SOUTH, azimuth=parse_orientation(name))
    assert sum(hourly_kwh(as_rows(clear_hours("2025-06-21")), pv).values()) > 5


def test_direct_pvlib_computation_agrees():
    """The same hour computed straight from pvlib: sun at mid-hour, DISC, Perez, IAM, Faiman, PVWatts."""
    pv = PVSettings(
        latitude=51.92, longitude=4.48, panels=10, panel_wp=400.0, azimuth=200.0, tilt=30.0, losses_pct=10.0
    )
    starts = [unix("2025-05-14 08:00Z"), unix("2025-05-14 12:00Z"), unix("2025-05-14 15:00Z")]
    ghis, temps = [420.0, 610.0, 180.0], [12.0, 18.0, 16.0]
    ours = hourly_kwh(as_rows([row(t, g, temp=c) for t, g, c in zip(starts, ghis, temps, strict=True)]), pv)

    times = pd.to_datetime(np.array(starts) + 1800, unit="s", utc=True)
    sun = pvlib.solarposition.get_solarposition(times, pv.latitude, pv.longitude)
    ghi = pd.Series(ghis, index=times)
    dni = pvlib.irradiance.disc(ghi, sun["zenith"], times)["dni"]
    dhi = ghi - dni * np.cos(np.radians(sun["zenith"]))
    poa = pvlib.irradiance.get_total_irradiance(
        pv.tilt,
        pv.azimuth,
        sun["zenith"],
        sun["azimuth"],
        dni,
        ghi,
        dhi,
        dni_extra=pvlib.irradiance.get_extra_radiation(times),
        airmass=pvlib.atmosphere.get_relative_airmass(sun["zenith"]),
        albedo=0.2,
        model="perez",
    )
    aoi = pvlib.irradiance.aoi(pv.tilt, pv.azimuth, sun["zenith"], sun["azimuth"])
    effective = poa["poa_direct"] * pvlib.iam.physical(aoi) + poa["poa_diffuse"]
    cell = pvlib.temperature.faiman(effective, pd.Series(temps, index=times), 1.0)
    rating = pv.panels * pv.panel_wp
    pdc = pvlib.pvsystem.pvwatts_dc(effective, cell, rating, GAMMA_PDC) * (1 - pv.losses_pct / 100)
    pac = pvlib.inverter.pvwatts(pdc, rating / DC_AC_RATIO / INVERTER_EFFICIENCY, INVERTER_EFFICIENCY)
    for start, expected in zip(starts, pac.to_numpy() / 1000, strict=True):
        assert ours[start] == pytest.approx(expected, rel=1e-3, abs=1e-4)


def test_sunrise_hour_is_not_lost():
    """The hour holding sunrise has light although the sun at its plain middle is below the horizon."""
    # 2025-12-21 Rotterdam: sunrise ~07:46 UTC, so 07:30 is still night; 20 W/m² came in 07:46-08:00.
    rows = as_rows([row(unix("2025-12-21 07:00Z"), 20.0)])
    assert hourly_kwh(rows, dataclasses.replace(SOUTH, azimuth=90.0))[unix("2025-12-21 07:00Z")] > 0.05


def test_the_poller_side_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, solar3p, solar3p.meteo, solar3p.errors; "
        "bad = [m for m in ('pandas', 'numpy', 'pvlib') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_hour_is_computed_alone():
    """The collector forecasts one hour at a time; it must get what the CLI prints for the whole file."""
    rows = as_rows(clear_hours("2025-08-02", temp=22.0))
    whole = hourly_kwh(rows, SOUTH)
    assert {r.time: hourly_kwh([r], SOUTH)[r.time] for r in rows} == whole


def test_an_hour_without_irradiance_is_unknown_not_zero():
    rows = clear_hours("2025-06-21")
    rows[12]["gr_w"] = "-"
    rows[13]["temp"] = "-"
    kwh = hourly_kwh(as_rows(rows), SOUTH)
    assert kwh[unix("2025-06-21 12:00Z")] is None
    assert kwh[unix("2025-06-21 13:00Z")] > 0.5  # no temperature: the default is used, the hour is known
    assert kwh[unix("2025-06-21 11:00Z")] == hourly_kwh(as_rows([rows[11]]), SOUTH)[unix("2025-06-21 11:00Z")]
