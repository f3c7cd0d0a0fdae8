"""Does the site's latitude/longitude fit its time zone? A cheap sanity check of PV_LATITUDE/PV_LONGITUDE
against SITE_TIMEZONE (swapped values, the untouched defaults in another country), from the tz database's
own table of each zone's reference point (zone.tab). Pure but for reading that table; stdlib only."""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

# A zone's area reaches about this far from its reference point (Asia/Shanghai's west is the far end).
FAR_KM = 4500.0
# Farther than this, and the zone's clock this far from the sun's (hours), and the two do not fit.
WIDE_KM = 2500.0
OFF_H = 2.5
EARTH_KM = 6371.0
DEFAULT_SITE = (51.92, 4.48)  # PV_LATITUDE, PV_LONGITUDE unset: Rotterdam
TABLES = (Path("/usr/share/zoneinfo/zone.tab"),)
_COORD = re.compile(r"^([+-]\d{4,6})([+-]\d{5,7})$")


def _degrees(text: str) -> float:
    sign = -1.0 if text[0] == "-" else 1.0
    digits = text[1:]
    cut = 2 if len(digits) in (4, 6) else 3  # latitude DDMM[SS], longitude DDDMM[SS]
    degrees, rest = float(digits[:cut]), digits[cut:]
    minutes, seconds = float(rest[:2]), float(rest[2:] or 0)
    return sign * (degrees + minutes / 60.0 + seconds / 3600.0)


def _table_text() -> str | None:
    try:
        from importlib.resources import files

        return (files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    except (ImportError, OSError):
        pass
    for path in TABLES:
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            continue
    return None


@lru_cache(maxsize=1)
def _references() -> dict[str, tuple[float, float]]:
    text = _table_text() or ""
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) < 3:
            continue
        match = _COORD.match(parts[1])
        if match:
            out[parts[2]] = (_degrees(match.group(1)), _degrees(match.group(2)))
    return out


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance of two (latitude, longitude) points in degrees."""
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def _clock_off_sun_h(longitude: float, zone: ZoneInfo) -> float:
    """Hours between the zone's clock (its mean offset over the year) and the sun's time at ``longitude``."""
    offsets = [zone.utcoffset(datetime(2025, month, 1)) for month in (1, 7)]
    mean_h = sum(o.total_seconds() for o in offsets if o is not None) / 3600.0 / len(offsets)
    off = abs(mean_h - longitude / 15.0) % 24.0
    return min(off, 24.0 - off)


def _misfit(site: tuple[float, float], reference: tuple[float, float], zone: ZoneInfo) -> float | None:
    """The site's distance from the zone's reference point when the two do not fit, else None."""
    km = distance_km(site, reference)
    if km > FAR_KM or (km > WIDE_KM and _clock_off_sun_h(site[1], zone) > OFF_H):
        return km
    return None


def check(latitude: float, longitude: float, zone: ZoneInfo) -> str | None:
    """A warning when (latitude, longitude) lies far outside ``zone``, else None (also for a zone the table
    does not list, such as UTC)."""
    reference = _references().get(zone.key)
    if reference is None:
        return None
    km = _misfit((latitude, longitude), reference, zone)
    if km is None:
        return None
    if abs(longitude) <= 90.0 and _misfit((longitude, latitude), reference, zone) is None:
        hint = "they look swapped: PV_LATITUDE is north (+) or south (-), PV_LONGITUDE east (+) or west (-)"
    elif (latitude, longitude) == DEFAULT_SITE:
        hint = "they are the defaults (Rotterdam): set PV_LATITUDE and PV_LONGITUDE to your site's"
    else:
        hint = "check them and SITE_TIMEZONE"
    return (
        f"PV_LATITUDE={latitude:g}, PV_LONGITUDE={longitude:g} lie {km:,.0f} km from {zone.key} "
        f"({reference[0]:.2f}, {reference[1]:.2f}), the site's time zone: {hint}; the sun's position, and so "
        f"every forecast, is computed from them"
    )
