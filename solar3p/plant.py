"""The roof: planes of panels, the site and the losses (``PVSettings``), and the parsers of the settings
that describe them (PV_ORIENTATION, PV_ARRAYS, PV_HORIZON). Shared by ``python -m solar3p`` and the
collector (homepower.settings takes them from here). Pure: no file, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from solar3p.environment import number, text
from solar3p.errors import ConfigError

# Compass points in degrees from north; "O" is Dutch for east (oost).
ORIENTATIONS = {
    "N": 0.0,
    "NE": 45.0,
    "E": 90.0,
    "O": 90.0,
    "SE": 135.0,
    "S": 180.0,
    "SW": 225.0,
    "W": 270.0,
    "NW": 315.0,
}


def parse_orientation(value: str | float, name: str = "PV_ORIENTATION") -> float:
    """Panel azimuth in degrees from north (0..360) from a compass point or a number of degrees."""
    text = str(value).strip().upper()
    if text in ORIENTATIONS:
        return ORIENTATIONS[text]
    try:
        degrees = float(text)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not valid: use one of {' '.join(ORIENTATIONS)} or degrees from north (0-360)"
        ) from None
    if not 0.0 <= degrees <= 360.0:
        raise ConfigError(f"{name}={value!r} is out of range: degrees from north go from 0 to 360")
    return degrees


@dataclass(frozen=True)
class Plane:
    """Panels that all face the same way at the same tilt (one line of ``PV_ARRAYS``)."""

    panels: int
    panel_wp: float  # W at 1000 W/m² and 25 °C, each
    azimuth: float  # degrees from north (180 = south)
    tilt: float  # degrees from horizontal

    @property
    def rating_w(self) -> float:
        return self.panels * self.panel_wp


@dataclass(frozen=True)
class PVSettings:
    """The PV installation, shared by ``python -m solar3p`` and the collector.

    One plane is ``panels``/``panel_wp``/``azimuth``/``tilt``. A roof of several planes (PV_ARRAYS) is
    ``arrays``; then those four fields only summarise it (all panels, their mean Wp, the first plane's
    way): read ``planes``, and build a new roof with ``with_planes``, not ``dataclasses.replace``."""

    latitude: float = 51.92
    longitude: float = 4.48
    panels: int = 12
    panel_wp: float = 405.0
    azimuth: float = 135.0  # degrees from north
    tilt: float = 35.0
    losses_pct: float = 14.0
    arrays: tuple[Plane, ...] | None = None  # two or more planes on one inverter system (None: one plane)
    horizon: tuple[float, ...] | None = None  # degrees above the horizontal at evenly spaced azimuths from north

    @property
    def planes(self) -> tuple[Plane, ...]:
        if self.arrays:
            return self.arrays
        return (Plane(self.panels, self.panel_wp, self.azimuth, self.tilt),)

    @property
    def rating_w(self) -> float:
        """The whole installation's watt-peak."""
        return sum(plane.rating_w for plane in self.planes)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PVSettings:
        pv = cls(
            latitude=number(env, "PV_LATITUDE", 51.92, -90, 90),
            longitude=number(env, "PV_LONGITUDE", 4.48, -180, 180),
            panels=int(number(env, "PV_PANELS", 12, 1, 100000, integer=True)),
            panel_wp=number(env, "PV_PANEL_WP", 405.0, 1, 100000),
            azimuth=parse_orientation(text(env, "PV_ORIENTATION") or "SE"),
            tilt=number(env, "PV_TILT", 35.0, 0, 90),
            losses_pct=number(env, "PV_LOSSES_PCT", 14.0, 0, 99),
        )
        arrays, horizon = text(env, "PV_ARRAYS"), text(env, "PV_HORIZON")
        if arrays:  # replaces PV_PANELS, PV_PANEL_WP, PV_ORIENTATION, PV_TILT
            pv = pv.with_planes(parse_arrays(arrays))
        if horizon:
            pv = replace(pv, horizon=parse_horizon(horizon))
        return pv

    def with_planes(self, planes: Sequence[Plane]) -> PVSettings:
        """This installation with the roof ``planes``; one plane is stored the old way (``arrays`` None),
        so it models exactly as PV_PANELS/PV_PANEL_WP/PV_ORIENTATION/PV_TILT would."""
        planes = tuple(planes)
        if not planes:
            raise ValueError("a roof needs at least one plane")
        first = planes[0]
        if len(planes) == 1:
            return replace(
                self, panels=first.panels, panel_wp=first.panel_wp, azimuth=first.azimuth, tilt=first.tilt, arrays=None
            )
        panels = sum(p.panels for p in planes)
        return replace(
            self,
            panels=panels,
            panel_wp=sum(p.rating_w for p in planes) / panels,
            azimuth=first.azimuth,
            tilt=first.tilt,
            arrays=planes,
        )


ARRAYS_EXAMPLE = "8x405@E/30;8x405@W/30"
MAX_PLANES = 50
MAX_HORIZON_VALUES = 3600


def parse_arrays(value: str, name: str = "PV_ARRAYS") -> tuple[Plane, ...]:
    """Planes from ``8x405@E/30;8x405@W/30``: panels x watt-peak @ orientation / tilt, ``;`` between planes.
    A ConfigError names the plane and the part of it that is wrong."""
    text = str(value).strip()
    how = f"write panels x Wp @ orientation / tilt for each plane, ';' between planes, e.g. {ARRAYS_EXAMPLE}"
    if not text:
        raise ConfigError(f"{name} is empty: {how}")
    parts = text.split(";")
    if len(parts) > MAX_PLANES:
        raise ConfigError(f"{name} has {len(parts)} planes, at most {MAX_PLANES}: {how}")
    return tuple(_plane(f"{name} plane {number} {part.strip()!r}", part, how) for number, part in enumerate(parts, 1))


def _plane(where: str, part: str, how: str) -> Plane:
    size, at, way_tilt = part.partition("@")
    if not part.strip():
        raise ConfigError(f"{where} is empty: {how}")
    if not at or "@" in way_tilt:
        raise ConfigError(f"{where} needs one '@' between the size and the orientation: {how}")
    counts = re.split(r"[x×*]", size, flags=re.IGNORECASE)
    if len(counts) != 2:
        raise ConfigError(f"{where} needs one 'x' between the number of panels and their watt-peak: {how}")
    way, slash, tilt_text = way_tilt.partition("/")
    if not slash or "/" in tilt_text:
        raise ConfigError(f"{where} needs one '/' between the orientation and the tilt: {how}")
    panels_text = counts[0].strip()
    if not panels_text:
        raise ConfigError(f"{where} has no number of panels before the 'x': {how}")
    try:
        panels = int(panels_text)
    except ValueError:
        raise ConfigError(f"{where}: the number of panels {panels_text!r} is not a whole number") from None
    if not 1 <= panels <= 100000:
        raise ConfigError(f"{where}: the number of panels {panels_text!r} is out of range (1 to 100000)")
    wp = _plane_number(where, "watt-peak", counts[1], 1, 100000, "W")
    if not way.strip():
        raise ConfigError(f"{where} has no orientation: use one of {' '.join(ORIENTATIONS)} or degrees from north")
    try:
        azimuth = parse_orientation(way.strip(), "orientation")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    tilt = _plane_number(where, "tilt", tilt_text, 0, 90, "degrees")
    return Plane(panels, wp, azimuth, tilt)


def _plane_number(where: str, what: str, text: str, lo: float, hi: float, unit: str) -> float:
    text = text.strip()
    if not text:
        raise ConfigError(f"{where} has no {what}: write panels x Wp @ orientation / tilt, e.g. 8x405@E/30")
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"{where}: the {what} {text!r} is not a number") from None
    if not lo <= number <= hi:  # also refuses nan
        raise ConfigError(f"{where}: the {what} {text!r} is out of range ({lo:g} to {hi:g} {unit})")
    return number


def parse_horizon(value: str, name: str = "PV_HORIZON") -> tuple[float, ...] | None:
    """Horizon heights (degrees, 0-90) at evenly spaced azimuths from north, clockwise:
    ``0,0,15,30,45,30,15,0`` puts 0 at N, 0 at NE, 15 at E, ... None for a flat horizon (all 0)."""
    text = str(value).strip()
    how = "give heights in degrees (0 to 90) at evenly spaced azimuths from north, e.g. 0,0,15,30,45,30,15,0"
    if not text:
        raise ConfigError(f"{name} is empty: {how}")
    parts = text.split(",")
    if len(parts) > MAX_HORIZON_VALUES:
        raise ConfigError(f"{name} has {len(parts)} values, at most {MAX_HORIZON_VALUES}: {how}")
    heights = []
    for index, part in enumerate(parts, start=1):
        try:
            height = float(part)
        except ValueError:
            raise ConfigError(f"{name} value {index} {part.strip()!r} is not a number: {how}") from None
        if not 0.0 <= height <= 90.0:
            raise ConfigError(f"{name} value {index} {part.strip()!r} is out of range: {how}")
        heights.append(height)
    return tuple(heights) if any(heights) else None
