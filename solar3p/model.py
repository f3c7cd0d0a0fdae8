"""The PV model: hourly kWh from a forecast's hourly mean irradiance and air temperature, physics from pvlib.

The chain, each step a small pure function of arrays (no I/O here):

1. **Sun at mid-hour** (``sun_position``): the file's ``gr_w`` is the hour's *mean* irradiance, which belongs
   to the middle of the hour, not to its start (where Meteoserver puts ``elev``/``az``). For the hours that
   hold sunrise or sunset the sun is taken at the middle of the *sunlit* part of the hour instead, so a
   winter sunrise hour whose middle is still night keeps its light (on average it changes little). An hour
   the sun never enters gives 0 whatever the file says.
2. **Decomposition** of GHI into beam and diffuse (``decompose``): DISC (Maxwell 1987), built for hourly
   data. Measured on public PVDAQ/PSM3 data (``bench/accuracy.py``) it gave the lowest hourly error,
   ahead of Erbs and DIRINT; it needs only GHI, zenith and the date.
3. **Transposition** to the plane of the panels (``plane_of_array``): Perez (1990) with extraterrestrial
   DNI and relative airmass, ground albedo 0.2; on the same data it beat Hay-Davies and isotropic (the
   figures: docs/benchmarks.md).
   The beam on the plane is reduced by the incidence-angle modifier of glass (``pvlib.iam.physical``).
4. **Cell temperature** (``cell_temperature``): Faiman (2008) from air temperature and plane irradiance,
   wind fixed at 1 m/s (the file has no wind); its default coefficients describe free-standing modules,
   which is closer to a ventilated roof than SAPM's insulated-back set.
5. **DC power** (``dc_power``): PVWatts, rating = panels × watt-peak, temperature coefficient
   -0.37 %/°C (typical mono-Si datasheets).
6. **Losses and inverter** (``ac_power``): system losses (PV_LOSSES_PCT: soiling, wiring, mismatch,
   availability) on DC, then the PVWatts inverter model with 96 % nominal efficiency and an AC limit at
   rating / 1.2 (the DC/AC ratio typical of Enphase IQ micro-inverters under 400 W panels).

A roof of several planes (``PVSettings.planes``, PV_ARRAYS) takes steps 3 to 5 per plane; their DC power
is summed before step 6, so the one inverter's limit applies to the sum (``roof_power`` gives each
plane's part).

**Horizon** (PV_HORIZON, ``horizon``): heights at evenly spaced azimuths from north, interpolated
linearly (wrapping at 360°). The beam and Perez's circumsolar part count only for the share of the hour's
sunlit 5-minute steps in which the sun stands above the horizon at its azimuth (pvlib's horizon-shading
example drops DNI the same way). The isotropic sky diffuse loses the horizon's share of the plane's sky
view: for each azimuth the blocked band is integrated in closed form (isotropic radiance, weighted by the
cosine of incidence on the plane; the solid-angle approach of pvlib issue #1290, which has no pvlib
function yet: ``pvlib.shading.sky_diffuse_passias`` covers only rows of equal masking angle). Perez's
horizon brightening (a band 6.5° high) fades out as the horizon rises over it.

An hour's mean power over one hour is its energy: kW × 1 h = kWh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pvlib

from solar3p.plant import Plane, PVSettings

ALBEDO = 0.2  # ground reflectance, dimensionless
GAMMA_PDC = -0.0037  # DC power temperature coefficient, 1/°C
INVERTER_EFFICIENCY = 0.96  # PVWatts nominal inverter efficiency, dimensionless
DC_AC_RATIO = 1.2  # array rating / inverter AC limit, dimensionless
WIND_SPEED = 1.0  # m/s, assumed (the forecast file has none)
DEFAULT_TEMP = 15.0  # °C, used where an hour has no temperature
SUBSTEPS = 12  # 5-minute steps to find the sunlit part of sunrise/sunset hours
HORIZON_BAND = 6.5  # degrees, the height of Perez's horizon-brightening band (Perez et al. 1987)
SKY_AZIMUTHS = 3600  # azimuth steps of the horizon's sky-view integral (0.1°)
DECOMPOSITIONS = ("erbs", "disc", "dirint")
TRANSPOSITIONS = ("perez", "haydavies", "isotropic")


@dataclass(frozen=True)
class ModelOptions:
    """The choices the module docstring explains; others exist only for measuring (bench/accuracy.py)."""

    decomposition: str = "disc"
    transposition: str = "perez"
    iam: bool = True
    sunlit_midpoint: bool = True


DEFAULT_OPTIONS = ModelOptions()


def horizon_height(horizon: Sequence[float], azimuth: Any) -> np.ndarray:
    """The horizon's height (degrees) at ``azimuth`` (degrees from north): ``horizon`` holds heights at
    evenly spaced azimuths from north, clockwise; linear in between, wrapping at 360°."""
    heights = np.asarray(horizon, dtype=float)
    at = np.arange(heights.size + 1) * (360.0 / heights.size)
    return np.interp(np.mod(np.asarray(azimuth, dtype=float), 360.0), at, np.append(heights, heights[0]))


def sun_position(
    hour_start_unix: np.ndarray,
    latitude: float,
    longitude: float,
    sunlit_midpoint: bool = True,
    horizon: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Sun for each hour: columns ``zenith``, ``apparent_zenith``, ``azimuth`` (degrees) and ``sunlit``
    (fraction of the hour with the sun above the horizon, 0..1), indexed by the UTC instant used. With a
    ``horizon`` (see ``horizon_height``) also ``visible``: the fraction of the sunlit part in which the sun
    stands above it. ``hour_start_unix``: seconds; latitude/longitude in degrees (north/east positive)."""
    starts = np.asarray(hour_start_unix, dtype="int64")
    mid = starts + 1800
    # Elevation every 5 minutes across each hour: which hours see the sun at all, and for how long.
    offsets = (np.arange(SUBSTEPS) + 0.5) * 3600 / SUBSTEPS
    grid = (starts[:, None] + offsets[None, :]).ravel()
    steps = pvlib.solarposition.get_solarposition(pd.to_datetime(grid, unit="s", utc=True), latitude, longitude)
    elev = steps["apparent_elevation"].to_numpy().reshape(len(starts), SUBSTEPS)
    up = elev > 0
    count = up.sum(axis=1)
    partial = (count > 0) & (count < SUBSTEPS)
    if sunlit_midpoint and partial.any():
        # Hours the horizon cuts take the sun at the middle of their sunlit part.
        sunlit_mean = (up * offsets[None, :]).sum(axis=1) / np.maximum(count, 1)
        mid = np.where(partial, starts + np.round(sunlit_mean).astype("int64"), mid)
    times = pd.to_datetime(mid, unit="s", utc=True)
    pos = pvlib.solarposition.get_solarposition(times, latitude, longitude)
    out = pos[["zenith", "apparent_zenith", "azimuth"]].copy()
    out["sunlit"] = count / SUBSTEPS
    if horizon is not None:
        behind = horizon_height(horizon, steps["azimuth"].to_numpy()).reshape(len(starts), SUBSTEPS)
        out["visible"] = (up & (elev > behind)).sum(axis=1) / np.maximum(count, 1)
    return out


def decompose(
    ghi: np.ndarray, zenith: np.ndarray, times: pd.DatetimeIndex, model: str = "disc"
) -> tuple[np.ndarray, np.ndarray]:
    """Beam normal (DNI) and diffuse horizontal (DHI) irradiance, W/m², from global horizontal ``ghi``
    (W/m²) and solar ``zenith`` (degrees). Night or zero GHI gives zeros; DHI never exceeds GHI."""
    ghi = np.clip(np.nan_to_num(np.asarray(ghi, dtype=float)), 0.0, None)
    zenith = np.asarray(zenith, dtype=float)
    if model == "erbs":
        dni = pvlib.irradiance.erbs(ghi, zenith, times)["dni"]
    elif model == "disc":
        dni = pvlib.irradiance.disc(pd.Series(ghi, index=times), pd.Series(zenith, index=times), times)["dni"]
    elif model == "dirint":
        dni = pvlib.irradiance.dirint(pd.Series(ghi, index=times), pd.Series(zenith, index=times), times)
    else:
        raise ValueError(f"unknown decomposition {model!r}: use one of {', '.join(DECOMPOSITIONS)}")
    dni = np.nan_to_num(np.asarray(dni, dtype=float))
    cos_z = np.cos(np.radians(zenith))
    dni = np.where((zenith < 90.0) & (ghi > 0), np.clip(dni, 0.0, None), 0.0)
    dni = np.minimum(dni, np.where(cos_z > 0.01, ghi / np.maximum(cos_z, 0.01), 0.0))
    dhi = np.clip(ghi - dni * np.clip(cos_z, 0.0, None), 0.0, None)
    return dni, dhi


@dataclass(frozen=True)
class HorizonShade:
    """What a horizon leaves of each part of the light on one plane (fractions, 0..1)."""

    visible: np.ndarray  # per hour: beam and circumsolar (the sun above the horizon)
    isotropic: float  # isotropic sky diffuse
    band: float  # Perez's horizon-brightening band


def horizon_sky(horizon: Sequence[float], tilt: float, azimuth: float) -> tuple[float, float]:
    """(isotropic, band): the fractions of a plane's isotropic sky diffuse and of Perez's horizon band
    that ``horizon`` leaves. Plane ``tilt`` degrees from horizontal, ``azimuth`` degrees from north.

    Isotropic sky of radiance L: the plane gets L·∫ max(0, cos θ) dΩ over the sky it sees, π L (1 + cos β)/2
    for the whole sky. Along one azimuth φ at elevation e, cos θ = a cos e + b sin e with
    a = sin β cos(φ − φp), b = cos β; the hidden part from e = 0 up to the horizon h(φ) integrates, with
    dΩ = cos e de dφ, to G(h) − G(e0) where G(e) = a (e/2 + sin 2e / 4) + b sin² e / 2 and e0 is where
    cos θ turns positive (0 in front of the plane, atan(−a/b) behind it)."""
    beta, facing = np.radians(tilt), np.radians(azimuth)
    phi = (np.arange(SKY_AZIMUTHS) + 0.5) * (2 * np.pi / SKY_AZIMUTHS)
    h = np.radians(horizon_height(horizon, np.degrees(phi)))
    a = np.sin(beta) * np.cos(phi - facing)
    b = np.cos(beta)
    e0 = np.where(a >= 0, 0.0, np.arctan2(-a, b))
    lo = np.minimum(e0, h)

    def g(e: np.ndarray) -> np.ndarray:
        return a * (e / 2 + np.sin(2 * e) / 4) + b * np.sin(e) ** 2 / 2

    hidden = float(np.sum(g(h) - g(lo))) * (2 * np.pi / SKY_AZIMUTHS)
    isotropic = 1.0 - hidden / (np.pi * (1 + np.cos(beta)) / 2)
    # The band lights the plane in proportion to max(0, cos(φ − φp)) along the horizon.
    front = np.clip(np.cos(phi - facing), 0.0, None)
    seen = np.clip(1.0 - np.degrees(h) / HORIZON_BAND, 0.0, 1.0)
    band = float(np.sum(front * seen) / np.sum(front))
    return float(np.clip(isotropic, 0.0, 1.0)), band


def plane_of_array(
    tilt: float,
    azimuth: float,
    zenith: np.ndarray,
    sun_azimuth: np.ndarray,
    dni: np.ndarray,
    ghi: np.ndarray,
    dhi: np.ndarray,
    times: pd.DatetimeIndex,
    model: str = "perez",
    iam: bool = True,
    shade: HorizonShade | None = None,
) -> np.ndarray:
    """Irradiance reaching the cells on the panel plane, W/m². ``tilt`` degrees from horizontal,
    ``azimuth`` degrees from north (180 = south); angles of the sun in degrees; irradiances W/m².
    ``shade``: what a horizon takes from this plane (``horizon_shade``)."""
    if model not in TRANSPOSITIONS:
        raise ValueError(f"unknown transposition {model!r}: use one of {', '.join(TRANSPOSITIONS)}")
    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
    airmass = np.asarray(pvlib.atmosphere.get_relative_airmass(zenith), dtype=float)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt,
        azimuth,
        zenith,
        sun_azimuth,
        dni,
        ghi,
        dhi,
        dni_extra=dni_extra,
        airmass=airmass,
        albedo=ALBEDO,
        model=model,
        diffuse_components=shade is not None,
    )
    beam = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=float))
    diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=float))
    if shade is not None:
        beam = beam * shade.visible

        def part(name: str) -> np.ndarray:
            return np.nan_to_num(np.asarray(poa.get(name, 0.0), dtype=float)) * np.ones_like(beam)

        sky = (
            part("poa_isotropic") * shade.isotropic
            + part("poa_circumsolar") * shade.visible
            + part("poa_horizon") * shade.band
        )
        diffuse = np.clip(sky, 0.0, None) + part("poa_ground_diffuse")
    if iam:
        aoi = np.asarray(pvlib.irradiance.aoi(tilt, azimuth, zenith, sun_azimuth), dtype=float)
        beam = beam * np.nan_to_num(np.asarray(pvlib.iam.physical(aoi), dtype=float))
    return np.clip(beam + diffuse, 0.0, None)


def cell_temperature(poa: np.ndarray, temp_air: np.ndarray, wind_speed: float = WIND_SPEED) -> np.ndarray:
    """Cell temperature, °C, from plane irradiance ``poa`` (W/m²) and air temperature (°C), Faiman."""
    temp_air = np.where(np.isfinite(temp_air), temp_air, DEFAULT_TEMP)
    return np.asarray(pvlib.temperature.faiman(poa, temp_air, wind_speed), dtype=float)


def dc_power(poa: np.ndarray, temp_cell: np.ndarray, rating_w: float, gamma_pdc: float = GAMMA_PDC) -> np.ndarray:
    """PVWatts DC power, W: ``rating_w`` (W at 1000 W/m², 25 °C) scaled by irradiance and temperature."""
    return np.clip(np.asarray(pvlib.pvsystem.pvwatts_dc(poa, temp_cell, rating_w, gamma_pdc), dtype=float), 0.0, None)


def ac_limit_w(rating_w: float) -> float:
    """The inverter's AC limit, W, for an array of ``rating_w`` watt-peak: no hour gives more."""
    return rating_w / DC_AC_RATIO


def ac_power(pdc: np.ndarray, rating_w: float, losses_pct: float) -> np.ndarray:
    """AC power, W: DC ``pdc`` (W) after system losses (``losses_pct``, %) through a PVWatts inverter
    sized at ``rating_w`` / DC_AC_RATIO (W AC)."""
    pdc = np.asarray(pdc, dtype=float) * (1.0 - losses_pct / 100.0)
    pac0 = ac_limit_w(rating_w)
    pac = pvlib.inverter.pvwatts(pdc, pac0 / INVERTER_EFFICIENCY, eta_inv_nom=INVERTER_EFFICIENCY)
    return np.clip(np.nan_to_num(np.asarray(pac, dtype=float)), 0.0, pac0)


@dataclass(frozen=True)
class RoofPower:
    """Each plane's part of a roof's forecast, before the shared inverter (arrays: planes × hours)."""

    planes: tuple[Plane, ...]
    poa: np.ndarray  # W/m² reaching the cells of each plane
    dc_w: np.ndarray  # W DC of each plane, before system losses
    sunlit: np.ndarray  # per hour: the sun rose in it (an hour it never enters produces nothing)

    def ac_w(self, losses_pct: float) -> np.ndarray:
        """Mean AC power (W) per hour: the planes' DC summed, through one inverter for the whole roof."""
        rating = sum(plane.rating_w for plane in self.planes)
        return np.where(self.sunlit, ac_power(self.dc_w.sum(axis=0), rating, losses_pct), 0.0)


def roof_power(
    hour_start_unix: Sequence[int] | np.ndarray,
    ghi: Sequence[float | None] | np.ndarray,
    temp_air: Sequence[float | None] | np.ndarray,
    pv: PVSettings,
    options: ModelOptions = DEFAULT_OPTIONS,
) -> RoofPower:
    """Plane irradiance and DC power of every plane of ``pv`` (``pv.planes``, with ``pv.horizon``) per
    hour, from the hour's mean GHI (W/m²) and air temperature (°C); None or NaN: no irradiance / 15 °C."""
    starts = np.asarray(hour_start_unix, dtype="int64")
    planes = pv.planes
    if starts.size == 0:
        return RoofPower(planes, np.zeros((len(planes), 0)), np.zeros((len(planes), 0)), np.zeros(0, dtype=bool))
    ghi_w = np.array([np.nan if g is None else g for g in ghi], dtype=float)
    temp = np.array([np.nan if t is None else t for t in temp_air], dtype=float)
    sun = sun_position(starts, pv.latitude, pv.longitude, options.sunlit_midpoint, pv.horizon)
    times = sun.index
    zenith = sun["zenith"].to_numpy()
    sun_azimuth = sun["azimuth"].to_numpy()
    dni, dhi = decompose(ghi_w, zenith, times, options.decomposition)
    ghi_w = np.clip(np.nan_to_num(ghi_w), 0.0, None)
    poa, dc = [], []
    for plane in planes:
        shade = None
        if pv.horizon is not None:
            isotropic, band = horizon_sky(pv.horizon, plane.tilt, plane.azimuth)
            shade = HorizonShade(sun["visible"].to_numpy(), isotropic, band)
        irradiance = plane_of_array(
            plane.tilt,
            plane.azimuth,
            zenith,
            sun_azimuth,
            dni,
            ghi_w,
            dhi,
            times,
            options.transposition,
            options.iam,
            shade,
        )
        poa.append(irradiance)
        dc.append(dc_power(irradiance, cell_temperature(irradiance, temp), plane.rating_w))
    return RoofPower(planes, np.array(poa), np.array(dc), sun["sunlit"].to_numpy() > 0)


def hourly_power(
    hour_start_unix: Sequence[int] | np.ndarray,
    ghi: Sequence[float | None] | np.ndarray,
    temp_air: Sequence[float | None] | np.ndarray,
    pv: PVSettings,
    options: ModelOptions = DEFAULT_OPTIONS,
) -> np.ndarray:
    """Mean AC power (W) per hour from the hour's mean GHI (W/m²) and air temperature (°C)."""
    if np.asarray(hour_start_unix).size == 0:
        return np.zeros(0)
    return roof_power(hour_start_unix, ghi, temp_air, pv, options).ac_w(pv.losses_pct)


def hourly_kwh(rows: Iterable[Any], pv: PVSettings, options: ModelOptions = DEFAULT_OPTIONS) -> dict[int, float | None]:
    """Predicted kWh per hour: ``{unix hour start: kWh}`` for each forecast row (``MeteoRow``-like:
    ``time``, ``gr_w`` W/m², ``temp`` °C). A row without ``gr_w`` gives None (unknown, not 0)."""
    rows = list(rows)
    power = hourly_power([r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows], pv, options)
    return {
        int(r.time): None if r.gr_w is None else round(float(p) / 1000.0, 5) for r, p in zip(rows, power, strict=True)
    }
