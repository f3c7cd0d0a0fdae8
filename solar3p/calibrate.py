"""Calibration: solar3p learns the installation and the weather service's habits from measured hours.

Pure functions of arrays (numpy and pvlib through ``solar3p.model``; no database, no files). The collector
reads the hours and stores the result; ``python -m solar3p --calibration`` applies it.

The calibrated forecast of an hour is

    kwh_fc = level × physics(fitted azimuth, fitted tilt) × sun[sun azimuth, elevation] × sky[kt, power]

1. **Features** (``features``): sun, beam/diffuse split and the Perez sky coefficients are computed once
   per hour (they do not depend on the panels), so the physics of any orientation is plain numpy
   (``power``; the same chain as ``solar3p.model``, which a test holds it to).
2. **Robust level** (``_keep_days``, ``_level``): days whose measured/modelled ratio is far from the
   median (more than ``DAY_RATIO_LIMIT`` times above or below it: snow, an outage, a missing afternoon)
   are dropped; the level is a least-squares scale over the remaining hours, weighted by recency (half
   life ``LEVEL_HALF_LIFE_D`` days: soiling and degradation move it) and pulled toward 1 (the owner's
   rating and losses) by ``LEVEL_PRIOR_DAYS`` days' worth of pseudo-data, so a first calibration on a
   few days changes little.
3. **Orientation** (``_fit_orientation``): azimuth and tilt minimise a penalised profile likelihood,
   ``n_days × INFO_PER_DAY × log SSE(az, tilt) + (Δaz/AZ_SIGMA)² + (Δtilt/TILT_SIGMA)²``, the level
   profiled out. Hourly errors within a day are correlated (one weather error), so the data weigh by
   days, not hours; on short history the prior toward PV_ORIENTATION/PV_TILT dominates, and it never
   runs unregularised. A coarse grid then a pattern search; a backtest starts each day from the last fit.
   A roof of several planes (PV_ARRAYS) fits each plane's azimuth and tilt, each pulled toward its own
   given values (a pattern search from them, no grid), with one level for the roof; planes given the
   same azimuth and tilt are fitted as one plane (a roof split into halves learns what the whole does);
   PV_HORIZON is part of the physics as in ``solar3p.model`` (the sun table then learns only what it leaves out).
4. **Residual tables** (``_tables``): two tables fitted by two rounds of backfitting, each cell pulled
   toward 1 by ``CELL_PRIOR_HOURS`` (sun) or ``SKY_PRIOR_HOURS`` (sky) hours, so a cell learns only what
   enough hours show. ``sun`` by sun
   azimuth × elevation scales only the light from the sun's direction (beam and circumsolar: what a
   horizon, a tree or a chimney takes), fitted by least squares on that part; cells where that light is
   under ``MIN_DIRECT_SHARE`` of the total (the sun low behind the plane) stay 1. ``sky`` by the
   forecast's clear-sky index × power level: the weather service's bias (overcast hours read low, bright
   ones high) and clipping; each cell the weighted median ratio (the factor of least absolute error).

Measured on real data (``bench/calibration.py``, in ``make bench``): the figures, and those of the
choices made here, are in docs/benchmarks.md.

"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from solar3p.quantiles import Spread, learn, recent_shift

if TYPE_CHECKING:
    import pandas as pd

    from solar3p.plant import PVSettings

VERSION = 1
MIN_DAYS = 3  # local days with usable daylight hours needed to fit at all
MAX_HISTORY_DAYS = 730  # a fit uses the hours of at most this many days before its last one
DAY_RATIO_LIMIT = 2.5  # a day measuring more than this many times off the reference ratio is not used
KEEP_QUANTILE = 0.75  # the day ratio days are judged against: this recency-weighted quantile of them
LEVEL_HALF_LIFE_D = 30.0  # recency weight of the level, days
LEVEL_PRIOR_DAYS = 2.0  # the owner's rating counts as this many days of data
INFO_PER_DAY = 2.0  # independent pieces of evidence one day's hours give the orientation fit
AZ_SIGMA = 45.0  # prior spread of the owner's azimuth, degrees
TILT_SIGMA = 15.0  # prior spread of the owner's tilt, degrees
ORIENTATION_MIN_ELEVATION = 10.0  # the orientation is fitted on hours with the sun above this, degrees
ORIENTATION_LOSS = "l1"  # shaded hours are few and far off: absolute errors, not squares
CELL_PRIOR_HOURS = 8.0  # a sun-table cell is pulled toward 1 by this many hours
SKY_PRIOR_HOURS = 100.0  # a sky-table cell likewise (its bias varies by season: it must see many)
SUN_AZ_EDGES = np.arange(0.0, 361.0, 15.0)  # sun azimuth bins, degrees from north
SUN_EL_EDGES = np.array([0.0, 8.0, 16.0, 25.0, 40.0, 91.0])  # sun elevation bins, degrees
KT_EDGES = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 10.0])  # forecast GHI / clear-sky GHI
LEVEL_EDGES = np.array([0.0, 0.1, 0.3, 0.55, 10.0])  # forecast kWh / rated kWp
MIN_DIRECT_SHARE = 0.3  # a sun cell learns only where this share of its light comes from the sun's direction
SHADE_FACTOR = 0.8  # a sun cell below this is reported as shading
MIN_SKY_GHI = 1.0  # W/m², below it an hour is night for the features
MAX_RATING_W = 1e8  # a calibration rating above this (100 MW) is no home's roof: a hand-edited file


class CalibrationError(ValueError):
    """Too little or unusable history; the message says how much there is and how much is needed."""


Orientation = tuple[float, float]  # (azimuth degrees from north, tilt degrees from horizontal)
Hourly = Sequence[float | None] | Sequence[int | None] | np.ndarray  # one value per hour; None: unknown


@dataclass(frozen=True)
class Face:
    """One plane of a roof: its rating and the way it faces."""

    rating_w: float  # panels × watt-peak, W
    azimuth: float  # degrees from north
    tilt: float  # degrees from horizontal


@dataclass(frozen=True)
class Plant:
    """The installation as the owner gave it. One plane: ``rating_w``/``azimuth``/``tilt``; a roof of
    several planes (PV_ARRAYS): ``planes`` (then those three summarise it: the sum, the first plane's way).
    ``horizon``: PV_HORIZON's heights (degrees at evenly spaced azimuths from north), or None."""

    latitude: float
    longitude: float
    rating_w: float  # panels × watt-peak, W (all planes)
    losses_pct: float
    azimuth: float  # degrees from north
    tilt: float  # degrees from horizontal
    planes: tuple[Face, ...] = ()
    horizon: tuple[float, ...] | None = None

    @property
    def faces(self) -> tuple[Face, ...]:
        return self.planes or (Face(self.rating_w, self.azimuth, self.tilt),)

    @property
    def orientations(self) -> tuple[Orientation, ...]:
        return tuple((f.azimuth, f.tilt) for f in self.faces)


@dataclass(frozen=True)
class Features:
    """Per-hour quantities that do not depend on the panels. Arrays of equal length."""

    start: np.ndarray  # unix seconds of the hour start
    ghi: np.ndarray  # forecast mean GHI, W/m²
    dni: np.ndarray
    dhi: np.ndarray
    zenith: np.ndarray  # degrees, at the model's instant of the hour
    sun_az: np.ndarray
    sunlit: np.ndarray  # fraction of the hour with the sun up
    temp: np.ndarray  # °C (NaN: DEFAULT_TEMP)
    f1: np.ndarray  # Perez circumsolar and horizon coefficients
    f2: np.ndarray
    kt: np.ndarray  # clear-sky index of the forecast (GHI / Haurwitz clear-sky GHI)
    visible: np.ndarray  # share of the sunlit hour with the sun above PV_HORIZON (1 without one)
    tc: np.ndarray  # forecast total cloud cover, % (NaN: unknown)
    lead: np.ndarray  # hours from the forecast's issue to the hour's start (NaN: unknown)
    # The same sky without a cloud (Haurwitz clear-sky GHI, split the same way): the roof's clear-sky
    # output scales the predictive distribution (solar3p.quantiles).
    ghi_cs: np.ndarray
    dni_cs: np.ndarray
    dhi_cs: np.ndarray
    f1_cs: np.ndarray
    f2_cs: np.ndarray

    def clear(self) -> "Features":
        """These hours under a clear sky (the same sun, temperature and horizon)."""
        return replace(
            self,
            ghi=self.ghi_cs,
            dni=self.dni_cs,
            dhi=self.dhi_cs,
            f1=self.f1_cs,
            f2=self.f2_cs,
            kt=np.where(self.ghi_cs > 0, 1.0, 0.0),
        )

    def take(self, index: np.ndarray | slice) -> "Features":
        return Features(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    def __len__(self) -> int:
        return len(self.start)


def features(
    start: Sequence[int] | np.ndarray,
    gr_w: Hourly,
    temp: Hourly,
    latitude: float,
    longitude: float,
    horizon: Sequence[float] | None = None,
    *,
    tc: Hourly | float | None = None,
    issued: Hourly | float | None = None,
) -> Features:
    """Features of hours starting at ``start`` (unix s) with forecast mean GHI ``gr_w`` (W/m²) and air
    temperature ``temp`` (°C); None/NaN GHI counts as 0. ``horizon``: as ``Plant.horizon``. ``tc``: the
    forecast's total cloud cover (%), ``issued``: when each hour was forecast (unix s; one number for
    all); None/NaN where unknown."""
    import pandas as pd
    import pvlib

    from solar3p.model import sun_position

    starts = np.asarray(start, dtype="int64")
    ghi = np.clip(np.nan_to_num(np.asarray(gr_w, dtype=float)), 0.0, None)
    temp = np.asarray(temp, dtype=float)
    cover = _optional(tc, starts.size)
    lead = (starts - _optional(issued, starts.size)) / 3600.0
    if starts.size == 0:
        e = np.zeros(0)
        return Features(starts, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e, e)
    sun = sun_position(starts, latitude, longitude, horizon=None if horizon is None else tuple(horizon))
    times = sun.index
    zenith = sun["zenith"].to_numpy()
    sun_az = sun["azimuth"].to_numpy()
    clear = np.asarray(pvlib.clearsky.haurwitz(pd.Series(np.clip(zenith, 0, 90), index=times))["ghi"], dtype=float)
    clear = np.where(sun["sunlit"].to_numpy() > 0, np.nan_to_num(clear), 0.0)
    dni, dhi, f1, f2 = _sky(ghi, zenith, sun_az, times)
    dni_cs, dhi_cs, f1_cs, f2_cs = _sky(clear, zenith, sun_az, times)
    kt = np.where(clear > 10.0, ghi / np.maximum(clear, 1e-9), 0.0)
    visible = sun["visible"].to_numpy() if horizon is not None else np.ones(starts.size)
    return Features(
        starts, ghi, dni, dhi, zenith, sun_az, sun["sunlit"].to_numpy(), temp, f1, f2, kt, visible, cover, lead,
        clear, dni_cs, dhi_cs, f1_cs, f2_cs,
    )  # fmt: skip


def _optional(values: Any, n: int) -> np.ndarray:
    """``values`` (None, one number or one per hour; None inside: unknown) as floats with NaN for unknown."""
    if values is None:
        return np.full(n, np.nan)
    if np.ndim(values) == 0:
        return np.full(n, np.nan if values is None else float(values))
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)


def _sky(ghi: np.ndarray, zenith: np.ndarray, sun_az: np.ndarray, times: pd.DatetimeIndex) -> tuple[np.ndarray, ...]:
    """DNI, DHI and the Perez coefficients of a sky with global horizontal ``ghi``."""
    from solar3p.model import decompose

    dni, dhi = decompose(ghi, zenith, times)
    f1, f2 = _perez_coefficients(dni, dhi, zenith, sun_az, times)
    return dni, dhi, f1, f2


def _perez_coefficients(
    dni: np.ndarray, dhi: np.ndarray, zenith: np.ndarray, sun_az: np.ndarray, times: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Perez F1 and F2 per hour, read back from pvlib's components at two reference planes."""
    import pvlib

    dni_extra = np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float)
    airmass = np.asarray(pvlib.atmosphere.get_relative_airmass(zenith), dtype=float)
    f1, f2 = np.zeros_like(dhi), np.zeros_like(dhi)
    found = np.zeros(dhi.shape, dtype=bool)
    for tilt in (60.0, 20.0):
        parts = pvlib.irradiance.perez(
            tilt, 180.0, dhi, dni, dni_extra, zenith, sun_az, airmass, return_components=True
        )
        iso = np.nan_to_num(np.asarray(parts["poa_isotropic"], dtype=float))
        hor = np.nan_to_num(np.asarray(parts["poa_horizon"], dtype=float))
        sky = np.nan_to_num(np.asarray(parts["poa_sky_diffuse"], dtype=float))
        ok = ~found & (dhi > 0) & (sky > 0)
        cos_t, sin_t = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
        f1 = np.where(ok, 1.0 - iso / np.where(ok, dhi * 0.5 * (1 + cos_t), 1.0), f1)
        f2 = np.where(ok, hor / np.where(ok, dhi * sin_t, 1.0), f2)
        found |= ok
    return f1, f2


def power(feat: Features, azimuth: float, tilt: float, rating_w: float, losses_pct: float) -> np.ndarray:
    """Mean AC power (W) of each hour: ``solar3p.model``'s chain for one plane at ``azimuth``/``tilt``."""
    plant = Plant(0.0, 0.0, rating_w, losses_pct, azimuth, tilt)
    return roof_power(feat, plant, plant.orientations)[0]


def roof_power(feat: Features, plant: Plant, orientations: tuple[Orientation, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean AC power (W) of each hour of ``plant``'s roof with its planes turned to ``orientations``
    (their DC summed before one inverter, and ``plant.horizon`` shading each, as ``solar3p.model`` does),
    and per hour the share of the roof's light that comes straight from the sun's direction (beam and
    circumsolar: what a horizon or a tree takes away), 0..1."""
    from solar3p.model import ac_power, cell_temperature, dc_power

    if len(feat) == 0:
        return np.zeros(0), np.zeros(0)
    dc = np.zeros(len(feat))
    light = np.zeros(len(feat))
    direct = np.zeros(len(feat))
    for face, (azimuth, tilt) in zip(plant.faces, orientations, strict=True):
        poa, straight = _plane(feat, azimuth, tilt, plant.horizon)
        dc += dc_power(poa, cell_temperature(poa, feat.temp), face.rating_w)
        light += face.rating_w * poa
        direct += face.rating_w * straight
    share = np.clip(np.where(light > 0, direct / np.maximum(light, 1e-9), 0.0), 0.0, 1.0)
    rating = sum(face.rating_w for face in plant.faces)
    return np.where(feat.sunlit > 0, ac_power(dc, rating, plant.losses_pct), 0.0), share


def _plane(
    feat: Features, azimuth: float, tilt: float, horizon: Sequence[float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Plane irradiance (W/m²) reaching the cells, and its part from the sun's direction."""
    import pvlib

    from solar3p.model import ALBEDO, horizon_sky

    z = np.radians(feat.zenith)
    t = math.radians(tilt)
    cos_aoi = np.clip(
        np.cos(z) * math.cos(t) + np.sin(z) * math.sin(t) * np.cos(np.radians(feat.sun_az - azimuth)), -1, 1
    )
    aoi = np.degrees(np.arccos(cos_aoi))
    beam = np.maximum(feat.dni * cos_aoi, 0.0) * np.nan_to_num(np.asarray(pvlib.iam.physical(aoi), dtype=float))
    b = np.maximum(np.cos(z), math.cos(math.radians(85.0)))
    iso = feat.dhi * 0.5 * (1 - feat.f1) * (1 + math.cos(t))
    circ = feat.dhi * feat.f1 * np.maximum(cos_aoi, 0) / b
    band = feat.dhi * feat.f2 * math.sin(t)
    day = feat.zenith < 90.0
    whole = iso + circ + band
    if horizon is None:
        sky = np.where(day, np.maximum(whole, 0.0), 0.0)
    else:
        iso_left, band_left = horizon_sky(horizon, tilt, azimuth)
        beam = beam * feat.visible
        circ = circ * feat.visible
        sky = np.where(day & (whole > 0), np.maximum(iso * iso_left + circ + band * band_left, 0.0), 0.0)
    ground = feat.ghi * ALBEDO * (1 - math.cos(t)) / 2
    poa = np.clip(beam + sky + ground, 0.0, None)
    return poa, np.where(day, beam + np.where(sky > 0, circ, 0.0), 0.0)


@dataclass
class Table:
    """A multiplicative correction on a 2-D grid of bins (``edges_x`` × ``edges_y``)."""

    edges_x: list[float]
    edges_y: list[float]
    factors: list[list[float]]  # [x bin][y bin]

    def lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.lookup_in(np.asarray(self.factors, dtype=float), x, y)

    def lookup_in(self, f: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Values of ``f`` (an array of this table's shape) at ``x``, ``y``, binned by this table's edges."""
        i = np.clip(np.searchsorted(self.edges_x, x, side="right") - 1, 0, f.shape[0] - 1)
        j = np.clip(np.searchsorted(self.edges_y, y, side="right") - 1, 0, f.shape[1] - 1)
        return f[i, j]

    def as_json(self) -> dict:
        return {"edges_x": self.edges_x, "edges_y": self.edges_y, "factors": self.factors}

    @classmethod
    def from_json(cls, doc: dict) -> "Table":
        table = cls([float(v) for v in doc["edges_x"]], [float(v) for v in doc["edges_y"]], doc["factors"])
        f = np.asarray(table.factors, dtype=float)
        if f.shape != (len(table.edges_x) - 1, len(table.edges_y) - 1) or not np.all(np.isfinite(f)):
            raise ValueError("table factors do not match its edges")
        table.factors = f.tolist()
        return table


def _unit_table(edges_x: Sequence[float] | np.ndarray, edges_y: Sequence[float] | np.ndarray) -> Table:
    return Table(
        list(map(float, edges_x)), list(map(float, edges_y)), np.ones((len(edges_x) - 1, len(edges_y) - 1)).tolist()
    )


@dataclass
class Calibration:
    """What was learned. ``level`` scales the physics of the fitted orientation with the owner's rating."""

    given: Plant
    orientations: tuple[Orientation, ...]  # fitted (azimuth, tilt) of each plane, in the order given
    level: float
    sun: Table
    sky: Table
    hours: int = 0
    days: int = 0
    dropped_days: int = 0
    trained_from: int | None = None  # unix s of the first hour used
    trained_to: int | None = None  # unix s: the end of the last hour used (exclusive)
    nmae_pct: float | None = None  # in-sample hourly nMAE of kwh_fc
    nmae_pct_physics: float | None = None  # the same hours, solar3p's physics with the owner's settings
    shading: list[str] = field(default_factory=list)
    version: int = VERSION
    spread: Spread | None = None  # the predictive distribution (solar3p.quantiles); None: too little history

    @property
    def azimuth(self) -> float:
        return self.orientations[0][0]

    @property
    def tilt(self) -> float:
        return self.orientations[0][1]

    def as_json(self) -> dict:
        g = self.given
        return {
            "version": self.version,
            "given": {
                "latitude": g.latitude,
                "longitude": g.longitude,
                "rating_w": g.rating_w,
                "losses_pct": g.losses_pct,
                "azimuth": g.azimuth,
                "tilt": g.tilt,
                "planes": [{"rating_w": f.rating_w, "azimuth": f.azimuth, "tilt": f.tilt} for f in g.faces],
                "horizon": None if g.horizon is None else list(g.horizon),
            },
            "planes": [{"azimuth": round(az, 2), "tilt": round(t, 2)} for az, t in self.orientations],
            "level": round(self.level, 5),
            "sun": self.sun.as_json(),
            "sky": self.sky.as_json(),
            "hours": self.hours,
            "days": self.days,
            "dropped_days": self.dropped_days,
            "trained_from": self.trained_from,
            "trained_to": self.trained_to,
            "nmae_pct": self.nmae_pct,
            "nmae_pct_physics": self.nmae_pct_physics,
            "shading": self.shading,
            "spread": None if self.spread is None else self.spread.as_json(),
        }

    @classmethod
    def from_text(cls, text: str | bytes) -> "Calibration":
        """A calibration from its JSON text (a file, a ``calibration.params`` row); ValueError naming what
        is wrong, also for text that is not JSON or nests too deep to read."""
        import json

        try:
            doc = json.loads(text)
        except RecursionError as exc:
            raise ValueError("not a solar3p calibration: it nests too deep to be one") from exc
        except ValueError as exc:  # JSONDecodeError, and bytes that are not UTF-8
            raise ValueError(f"not a solar3p calibration: not JSON ({str(exc).splitlines()[0]})") from exc
        return cls.from_json(doc)

    @classmethod
    def from_json(cls, doc: object) -> "Calibration":
        """A calibration from its JSON form; ValueError naming what is wrong."""
        try:
            if not isinstance(doc, dict):
                raise ValueError("it is not a JSON object")
            if int(doc.get("version", 0)) != VERSION:
                raise ValueError(f"version {doc.get('version')!r} is not {VERSION}")
            g = doc["given"]
            faces = tuple(
                Face(_number(f["rating_w"], "rating_w"), _number(f["azimuth"], "azimuth"), _number(f["tilt"], "tilt"))
                for f in g["planes"]
            )
            horizon = None if g.get("horizon") is None else tuple(_number(h, "horizon") for h in g["horizon"])
            if horizon is not None:  # as PV_HORIZON takes it (solar3p.plant.parse_horizon)
                from solar3p.plant import MAX_HORIZON_VALUES

                if not 0 < len(horizon) <= MAX_HORIZON_VALUES or not all(0.0 <= h <= 90.0 for h in horizon):
                    raise ValueError(f"its horizon is not 1 to {MAX_HORIZON_VALUES} heights of 0 to 90 degrees")
                horizon = horizon if any(horizon) else None
            latitude, longitude, rating, losses, azimuth, tilt = (
                _number(g[k], k) for k in ("latitude", "longitude", "rating_w", "losses_pct", "azimuth", "tilt")
            )
            given = Plant(
                latitude,
                longitude,
                rating,
                losses,
                azimuth,
                tilt,
                planes=faces if len(faces) > 1 else (),
                horizon=horizon,
            )
            orientations = tuple(
                (_number(o["azimuth"], "azimuth") % 360.0, _number(o["tilt"], "tilt")) for o in doc["planes"]
            )
            if len(orientations) != len(given.faces) or not orientations:
                raise ValueError("its planes do not match the installation's")
            cal = cls(
                given=given,
                orientations=orientations,
                level=_number(doc["level"], "level"),
                sun=Table.from_json(doc["sun"]),
                sky=Table.from_json(doc["sky"]),
                hours=int(doc.get("hours") or 0),
                days=int(doc.get("days") or 0),
                dropped_days=int(doc.get("dropped_days") or 0),
                trained_from=doc.get("trained_from"),
                trained_to=doc.get("trained_to"),
                nmae_pct=doc.get("nmae_pct"),
                nmae_pct_physics=doc.get("nmae_pct_physics"),
                shading=[str(s) for s in doc.get("shading") or []],
                spread=None if doc.get("spread") is None else Spread.from_json(doc["spread"]),
            )
        except KeyError as exc:
            raise ValueError(f"not a solar3p calibration: it has no field {exc.args[0]}") from exc
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a solar3p calibration: {exc}") from exc
        ratings = (given.rating_w, *(f.rating_w for f in given.faces))
        if not (all(0 < r <= MAX_RATING_W for r in ratings) and 0 <= given.losses_pct < 100):
            raise ValueError("not a solar3p calibration: its rating or losses are out of range")
        if not (-90 <= given.latitude <= 90 and -180 <= given.longitude <= 360):
            raise ValueError("not a solar3p calibration: its site is not on Earth")
        for table in (cal.sun, cal.sky):
            factors = np.asarray(table.factors, dtype=float)
            if np.any(factors < 0) or np.any(factors > 100):
                raise ValueError("not a solar3p calibration: a table factor is negative or huge")
        sun_sd = None if cal.spread is None else cal.spread.sun_sd
        if sun_sd is not None and sun_sd.shape != np.asarray(cal.sun.factors).shape:
            raise ValueError("not a solar3p calibration: its spread's sun uncertainty does not match its sun table")
        values = (cal.level, given.rating_w, given.latitude, given.longitude, *(v for o in orientations for v in o))
        tilts_ok = all(0 <= t <= 90 for _, t in orientations)
        if not all(math.isfinite(v) for v in values) or not (0 < cal.level < 10 and tilts_ok):
            raise ValueError("not a solar3p calibration: level or tilt out of range")
        return cal

    def describe(self) -> str:
        """What was learned, in words."""
        g = self.given
        parts = [f"level {self.level:.2f} of rating ({g.rating_w / 1000:.2f} kWp less {g.losses_pct:g} % losses)"]
        many = len(g.faces) > 1
        for n, (face, (az, tilt)) in enumerate(zip(g.faces, self.orientations, strict=True), 1):
            plane = f"plane {n} ({face.rating_w / 1000:.2f} kWp): " if many else ""
            parts.append(f"{plane}azimuth {az:.0f} deg (you said {face.azimuth:.0f} deg)")
            parts.append(f"tilt {tilt:.0f} deg (you said {face.tilt:.0f} deg)")
        parts += self.shading or ["no shading found"]
        parts.append(_sky_words(self.sky))
        from solar3p.quantiles import MIN_SPREAD_DAYS

        if self.spread is not None:
            s = self.spread
            left = f", {s.left_out_days} day(s) left out as snow, outage or a stuck meter" if s.left_out_days else ""
            parts.append(f"P10-P90 band learned from {s.hours} held-out hours of {s.days} days{left}")
        else:
            parts.append(f"no P10-P90 band yet: {self.days} day(s) of history, a band needs {MIN_SPREAD_DAYS}")
        return "; ".join(parts)


def _number(value: object, what: str) -> float:
    """``value`` as a float; ValueError naming ``what`` unless it is a JSON number (not text, true or null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"its {what} is not a number")
    return float(value)


def _sky_words(sky: Table) -> str:
    f = np.asarray(sky.factors)
    overcast, bright = float(np.mean(f[:2])), float(np.mean(f[3:5]))
    return f"overcast hours come out {overcast:.2f} x the forecast, bright hours {bright:.2f} x"


# -- fitting ------------------------------------------------------------------------------------------
def fit(
    feat: Features,
    kwh: np.ndarray,
    day: np.ndarray,
    given: Plant,
    *,
    local_hour: np.ndarray | None = None,
    month: np.ndarray | None = None,
    start: Orientation | Sequence[Orientation] | None = None,
    spread: Spread | None = None,
) -> Calibration:
    """Fit on hours with features ``feat``, measured ``kwh`` and a local-day number ``day`` each (any
    integers, one per local date). ``local_hour``/``month`` only word the shading found. ``start``: an
    orientation to search from (a previous fit) instead of the coarse grid. ``spread``: a predictive
    distribution learned by a recent fit, kept instead of learning one again (a backtest's daily refits
    renew it every ``solar3p.quantiles.SPREAD_REFIT_DAYS``). CalibrationError when fewer than MIN_DAYS local
    days have usable daylight hours."""
    kwh = np.asarray(kwh, dtype=float)
    day = np.asarray(day, dtype="int64")
    if not (len(feat) == kwh.size == day.size):
        raise ValueError("features, kwh and day differ in length")
    usable = np.isfinite(kwh) & (kwh >= 0) & np.isfinite(feat.ghi)
    if usable.any():  # two years hold every sun position twice; older hours add time, not knowledge
        usable &= day > day[usable].max() - MAX_HISTORY_DAYS
    # Days are counted on the daylight hours the fit uses: a night hour alone does not make a day.
    light = usable & (feat.sunlit > 0) & ((feat.ghi > MIN_SKY_GHI) | (kwh > 0))
    days = np.unique(day[light])
    if days.size < MIN_DAYS:
        raise CalibrationError(
            f"{days.size} local day(s) with daylight hours ({int(light.sum())} daylight hours of "
            f"{int(usable.sum())}) of pvhistory with kwh_pv and forecast weather; "
            f"calibration needs at least {MIN_DAYS} days"
        )
    f = feat.take(light)
    m, d = kwh[light], day[light]
    rating_kwh = given.rating_w / 1000.0
    p_given = roof_power(f, given, given.orientations)[0] / 1000.0
    keep = _keep_days(p_given, m, d)
    # Planes given the same way (a roof described in parts) are fitted as one: the split is no evidence.
    joined, group = _grouped(given)
    begin = _start(start, given)
    if begin is not None:
        begin = tuple(begin[group.index(g)] for g in range(len(joined.faces)))
    found_joined = _fit_orientation(f, m, d, keep, joined, begin)
    p = roof_power(f, joined, found_joined)[0] / 1000.0
    keep = _keep_days(p, m, d)  # again with the orientation found: a wrong one bends the ratios
    if begin is None or found_joined != begin:
        found_joined = _fit_orientation(f, m, d, keep, joined, found_joined)
    found = tuple(found_joined[g] for g in group)
    p, share = roof_power(f, given, found)
    p = p / 1000.0
    level = _level(p, m, d, keep)
    base = level * p
    sun, sky = _tables(f, base, share, m, keep, rating_kwh)
    fc = base * _sun_factor(sun, f, share) * sky.lookup(f.kt, base / rating_kwh)
    counted = keep & ((m > 0) | (fc > 0))
    kept_days = np.unique(d[keep])
    if spread is None:
        held_out = _held_out(f, p, share, m, d, keep, rating_kwh)
        clear = level * roof_power(f.clear(), given, found)[0] / 1000.0
        spread = learn(held_out, m, clear, f, d, rating_kwh)
    if spread is not None:  # renewed on every fit: it follows the last days (a reused spread's cells stay)
        forward, forward_level = _forward(f, p, share, m, d, keep, rating_kwh)
        recent = np.isfinite(forward)
        fr = f.take(recent)
        clear = forward_level[recent] * roof_power(fr.clear(), given, found)[0] / 1000.0
        spread = recent_shift(spread, forward[recent], m[recent], clear, fr, d[recent], rating_kwh)
        episode = _recent_departure(np.nan_to_num(forward), m, d, keep & recent)
        spread = replace(spread, episode=episode, sun_sd=_sun_unknown(sun, f, share, keep))
    return Calibration(
        given=given,
        orientations=tuple((float(az % 360.0), float(t)) for az, t in found),
        level=float(level),
        sun=sun,
        sky=sky,
        hours=int(keep.sum()),
        days=int(kept_days.size),
        dropped_days=int(np.unique(d).size - kept_days.size),
        trained_from=int(feat.start[usable].min()),
        trained_to=int(feat.start[usable].max()) + 3600,
        nmae_pct=_nmae(fc[counted], m[counted]),
        nmae_pct_physics=_nmae(p_given[counted], m[counted]),
        shading=_shading_words(
            share,
            sun,
            f,
            m,
            base,
            keep,
            local_hour[light] if local_hour is not None else None,
            month[light] if month is not None else None,
        ),
        spread=spread,
    )


def _forward(
    f: Features, p: np.ndarray, share: np.ndarray, m: np.ndarray, d: np.ndarray, keep: np.ndarray, rating_kwh: float
) -> tuple[np.ndarray, np.ndarray]:
    """The last FORWARD_DAYS days' forecasts, walk-forward (solar3p.quantiles, step 4): in FORWARD_BLOCKS
    blocks of days, each forecast by the level and tables fitted on the days before the block only (the
    orientation is the whole fit's). And the level each hour's forecast used. NaN elsewhere."""
    from solar3p.quantiles import FORWARD_BLOCKS, FORWARD_DAYS

    out, levels = np.full(m.shape, np.nan), np.full(m.shape, np.nan)
    last = int(d.max())
    edges = np.linspace(last + 1 - FORWARD_DAYS, last + 1, FORWARD_BLOCKS + 1).round().astype("int64")
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        train = keep & (d < lo)
        test = (d >= lo) & (d < hi)
        if not test.any() or np.unique(d[train]).size < MIN_DAYS:
            continue
        level = _level(p, m, d, train)
        base = level * p
        sun, sky = _tables(f, base, share, m, train, rating_kwh)
        ft = f.take(test)
        out[test] = base[test] * _sun_factor(sun, ft, share[test]) * sky.lookup(ft.kt, base[test] / rating_kwh)
        levels[test] = level
    return out, levels


def _sun_unknown(sun: Table, f: Features, share: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per sun-table cell, how uncertain its factor still is (solar3p.quantiles, step 7): the share of its
    prior (CELL_PRIOR_HOURS against the kept hours that had light from the sun's direction there) × the
    hour-weighted RMS departure from 1 of the cells that saw at least twice the prior's hours."""
    factors = np.asarray(sun.factors, dtype=float)
    nx, ny = factors.shape
    lit = keep & (share > 0)
    fk = f.take(lit)
    index = np.clip(np.searchsorted(SUN_AZ_EDGES, fk.sun_az, side="right") - 1, 0, nx - 1) * ny + np.clip(
        np.searchsorted(SUN_EL_EDGES, 90.0 - fk.zenith, side="right") - 1, 0, ny - 1
    )
    hours = np.bincount(index, minlength=nx * ny).astype(float)
    seen = hours >= 2 * CELL_PRIOR_HOURS
    flat = factors.ravel()
    rms = float(np.sqrt(np.average((flat[seen] - 1.0) ** 2, weights=hours[seen]))) if seen.any() else 0.0
    return (rms * CELL_PRIOR_HOURS / (hours + CELL_PRIOR_HOURS)).reshape(nx, ny)


def _recent_departure(fc: np.ndarray, m: np.ndarray, d: np.ndarray, keep: np.ndarray) -> float:
    """log(measured / forecast) over the last EPISODE_DAYS kept days with a forecast worth the name among
    hours ``keep`` (0 when there are too few): how far an episode in progress (snow clearing, a thaw)
    has moved the roof off the walk-forward forecasts ``fc`` (solar3p.quantiles, step 6)."""
    from solar3p.quantiles import EPISODE_DAYS

    days, inv = np.unique(d[keep], return_inverse=True)
    if days.size < 2 * EPISODE_DAYS:  # too short a walk to tell an episode from its start
        return 0.0
    f_sum = np.bincount(inv, fc[keep], minlength=days.size)
    m_sum = np.bincount(inv, m[keep], minlength=days.size)
    ok = f_sum > 0.05 * max(float(np.median(f_sum)), 1e-9)
    f_sum, m_sum = f_sum[ok][-EPISODE_DAYS:], m_sum[ok][-EPISODE_DAYS:]
    if f_sum.size < EPISODE_DAYS or m_sum.sum() <= 0:
        return 0.0
    return math.log(float(m_sum.sum()) / float(f_sum.sum()))


def _held_out(
    f: Features, p: np.ndarray, share: np.ndarray, m: np.ndarray, d: np.ndarray, keep: np.ndarray, rating_kwh: float
) -> np.ndarray:
    """Each hour's forecast by the level and tables fitted without its day's fold (solar3p.quantiles,
    step 1): folds of interleaved local days. NaN where a fold had too little left to fit on."""
    from solar3p.quantiles import FOLDS

    days, inv = np.unique(d, return_inverse=True)
    fold = (np.arange(days.size) % FOLDS)[inv]
    out = np.full(m.shape, np.nan)
    for k in range(FOLDS):
        train = keep & (fold != k)
        if np.unique(d[train]).size < MIN_DAYS:
            continue
        level = _level(p, m, d, train)
        base = level * p
        sun, sky = _tables(f, base, share, m, train, rating_kwh)
        test = fold == k
        fc = base[test] * _sun_factor(sun, f.take(test), share[test]) * sky.lookup(f.kt[test], base[test] / rating_kwh)
        out[test] = fc
    return out


def _nmae(pred: np.ndarray, meas: np.ndarray) -> float | None:
    total = float(np.sum(meas))
    return round(100.0 * float(np.sum(np.abs(pred - meas))) / total, 3) if total > 0 else None


def _keep_days(pred: np.ndarray, meas: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Hours of days whose measured/modelled ratio is within DAY_RATIO_LIMIT of the median day's."""
    days, inverse = np.unique(day, return_inverse=True)
    p_sum = np.bincount(inverse, pred, minlength=days.size)
    m_sum = np.bincount(inverse, meas, minlength=days.size)
    informative = p_sum > 0.02 * max(float(np.median(p_sum)), 1e-9)
    if not informative.any():
        return np.zeros(day.shape, dtype=bool)
    ratio = np.where(informative, m_sum / np.maximum(p_sum, 1e-12), np.nan)
    # The reference is the recent days' upper quartile: weeks of snow pull a median down until the clear
    # days after them look "too high" and are dropped, and the level never recovers.
    w = _recency(days, LEVEL_HALF_LIFE_D)[informative]
    r = ratio[informative]
    order = np.argsort(r)
    cum = np.cumsum(w[order])
    ref = float(r[order][np.searchsorted(cum, KEEP_QUANTILE * cum[-1])])
    if ref <= 0:
        return np.zeros(day.shape, dtype=bool)
    good = informative & (ratio > ref / DAY_RATIO_LIMIT) & (ratio < ref * DAY_RATIO_LIMIT)
    return good[inverse]


def _recency(day: np.ndarray, half_life: float) -> np.ndarray:
    return np.power(0.5, (day.max() - day) / half_life) if day.size else np.zeros(0)


def _level(p: np.ndarray, m: np.ndarray, day: np.ndarray, keep: np.ndarray) -> float:
    """Recency-weighted least-squares scale of ``p`` to ``m``, pulled toward 1 by LEVEL_PRIOR_DAYS days."""
    if not keep.any():
        return 1.0
    p, m, d = p[keep], m[keep], day[keep]
    w = _recency(d, LEVEL_HALF_LIFE_D)
    per_day = float(np.sum(p * p)) / max(np.unique(d).size, 1)
    prior = LEVEL_PRIOR_DAYS * per_day
    return float((np.sum(w * m * p) + prior) / (np.sum(w * p * p) + prior))


def _grouped(plant: Plant) -> tuple[Plant, tuple[int, ...]]:
    """``plant`` with its planes of the same azimuth and tilt joined into one (ratings summed: the physics
    is the same), and for each of its planes the index of the joined plane it went into."""
    ways: list[Orientation] = []
    ratings: list[float] = []
    group: list[int] = []
    for face in plant.faces:
        way = (face.azimuth % 360.0, face.tilt)
        if way not in ways:
            ways.append(way)
            ratings.append(0.0)
        group.append(ways.index(way))
        ratings[group[-1]] += face.rating_w
    faces = tuple(Face(r, az, t) for r, (az, t) in zip(ratings, ways, strict=True))
    joined = replace(plant, azimuth=faces[0].azimuth, tilt=faces[0].tilt, planes=faces if len(faces) > 1 else ())
    return joined, tuple(group)


def _start(start: Orientation | Sequence[Orientation] | None, given: Plant) -> tuple[Orientation, ...] | None:
    """``start`` as one orientation per plane: None, ``(az, tilt)`` for one plane, or a tuple of them."""
    if start is None:
        return None
    pairs: Sequence[Any] = (start,) if len(start) == 2 and not isinstance(start[0], (tuple, list)) else start
    items = tuple((float(az), float(t)) for az, t in pairs)
    return items if len(items) == len(given.faces) else None


def _loss(f: Features, m: np.ndarray, orientations: tuple[Orientation, ...], plant: Plant) -> float:
    """The fit error with the level profiled out (least-squares scale, then the error ORIENTATION_LOSS says)."""
    p = roof_power(f, plant, orientations)[0]
    pp = float(np.dot(p, p))
    if pp <= 0:
        return float(np.dot(m, m))
    k = float(np.dot(m, p)) / pp
    r = m - k * p
    if ORIENTATION_LOSS == "l1":
        return float(np.sum(np.abs(r))) ** 2
    return float(np.dot(r, r))


def _fit_orientation(
    f: Features,
    m: np.ndarray,
    day: np.ndarray,
    keep: np.ndarray,
    given: Plant,
    start: tuple[Orientation, ...] | None,
) -> tuple[Orientation, ...]:
    """Each plane's azimuth and tilt minimising the penalised profile likelihood (module docstring,
    step 3), each pulled toward its own given values."""
    # Low sun is where horizons and trees shade: the sun table learns those hours, the orientation the rest.
    high = keep & (90.0 - f.zenith > ORIENTATION_MIN_ELEVATION)
    if np.unique(day[high]).size >= MIN_DAYS and m[high].sum() >= 0.5 * m[keep].sum():
        keep = high
    prior = given.orientations
    if not keep.any():
        return prior
    sub, mm = f.take(keep), m[keep]
    weight = np.unique(day[keep]).size * INFO_PER_DAY
    cache: dict[tuple[float, ...], float] = {}

    def clamp(x: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(v if i % 2 == 0 else min(max(v, 0.0), 90.0) for i, v in enumerate(x))

    def cost(x: tuple[float, ...]) -> float:
        key = tuple(round(v, 3) for v in x)
        if key not in cache:
            pairs = tuple(zip(x[0::2], x[1::2], strict=True))
            penalty = 0.0
            for (az, tilt), (az0, tilt0) in zip(pairs, prior, strict=True):
                daz = (az - az0 + 180.0) % 360.0 - 180.0
                penalty += (daz / AZ_SIGMA) ** 2 + ((tilt - tilt0) / TILT_SIGMA) ** 2
            cache[key] = weight * math.log(max(_loss(sub, mm, pairs, given), 1e-12)) + penalty
        return cache[key]

    flat_prior = tuple(v for o in prior for v in o)
    if start is not None:
        best, step = tuple(v for o in start for v in o), 4.0
    elif len(prior) == 1:
        az0, tilt0 = prior[0]
        grid = [(az0 + da, float(t)) for da in range(-90, 91, 15) for t in range(0, 81, 10)] + [(az0, tilt0)]
        best, step = min(grid, key=cost), 8.0
    else:  # several planes: no grid (it grows as a power of the planes); a wider first step instead
        best, step = flat_prior, 16.0
    best_cost = cost(best)
    while step >= 0.5:
        moved = False
        for i in range(len(best)):
            for sign in (1.0, -1.0):
                cand = clamp(best[:i] + (best[i] + sign * step,) + best[i + 1 :])
                c = cost(cand)
                if c < best_cost - 1e-12:
                    best, best_cost, moved = cand, c, True
                    break
        if not moved:
            step /= 2
    return tuple((best[i] % 360.0, best[i + 1]) for i in range(0, len(best), 2))


def _shrunk_median(index: np.ndarray, n_cells: int, meas: np.ndarray, pred: np.ndarray, prior: float) -> np.ndarray:
    """Per cell, the median of measured/predicted weighted by predicted (the factor of least absolute
    error), pulled toward 1 by ``prior`` pseudo-hours."""
    out = np.ones(n_cells)
    ok = pred > 0
    idx, ratio, w = index[ok], meas[ok] / pred[ok], pred[ok]
    order = np.lexsort((ratio, idx))
    idx, ratio, w = idx[order], ratio[order], w[order]
    bounds = np.searchsorted(idx, np.arange(n_cells + 1))
    for c in range(n_cells):
        lo, hi = bounds[c], bounds[c + 1]
        if hi <= lo:
            continue
        cum = np.cumsum(w[lo:hi])
        med = ratio[lo + int(np.searchsorted(cum, cum[-1] / 2))]
        n = hi - lo
        out[c] = (n * min(max(med, 0.0), 3.0) + prior) / (n + prior)
    return out


def _sun_factor(sun: Table, f: Features, share: np.ndarray) -> np.ndarray:
    """The sun table scales the light from the sun's direction only: 1 - share × (1 - cell)."""
    return 1.0 - share * (1.0 - sun.lookup(f.sun_az, 90.0 - f.zenith))


def _tables(
    f: Features, base: np.ndarray, share: np.ndarray, m: np.ndarray, keep: np.ndarray, rating_kwh: float
) -> tuple[Table, Table]:
    """The sun and sky tables by two rounds of backfitting (module docstring, step 4)."""
    sun, sky = _unit_table(SUN_AZ_EDGES, SUN_EL_EDGES), _unit_table(KT_EDGES, LEVEL_EDGES)
    if not keep.any():
        return sun, sky
    fk, b, sh, mk = f.take(keep), base[keep], share[keep], m[keep]
    prior = CELL_PRIOR_HOURS
    nx, ny = len(SUN_AZ_EDGES) - 1, len(SUN_EL_EDGES) - 1
    sun_i = np.clip(np.searchsorted(SUN_AZ_EDGES, fk.sun_az, side="right") - 1, 0, nx - 1) * ny + np.clip(
        np.searchsorted(SUN_EL_EDGES, 90.0 - fk.zenith, side="right") - 1, 0, ny - 1
    )
    kx, ky = len(KT_EDGES) - 1, len(LEVEL_EDGES) - 1
    sky_i = np.clip(np.searchsorted(KT_EDGES, fk.kt, side="right") - 1, 0, kx - 1) * ky + np.clip(
        np.searchsorted(LEVEL_EDGES, b / rating_kwh, side="right") - 1, 0, ky - 1
    )
    f_sun, f_sky = np.ones(nx * ny), np.ones(kx * ky)
    for _ in range(2):
        # m ≈ b·sky·(1 - s + s·g): per cell, g by least squares on the direct part, pulled toward 1.
        bs = b * f_sky[sky_i] * sh
        rest = mk - b * f_sky[sky_i] * (1.0 - sh)
        num = np.bincount(sun_i, rest * bs, minlength=nx * ny)
        den = np.bincount(sun_i, bs * bs, minlength=nx * ny)
        n = np.bincount(sun_i, (bs > 0).astype(float), minlength=nx * ny)
        g = np.clip(np.where(den > 0, num / np.maximum(den, 1e-12), 1.0), 0.0, 2.0)
        # A cell where the direct light is a small part of the total (the sun low behind the plane)
        # cannot tell shading from noise: it stays 1.
        direct = np.bincount(sun_i, bs, minlength=nx * ny) / np.maximum(
            np.bincount(sun_i, b * f_sky[sky_i], minlength=nx * ny), 1e-12
        )
        f_sun = np.where(direct >= MIN_DIRECT_SHARE, (n * g + prior) / (n + prior), 1.0)
        corr = 1.0 - sh * (1.0 - f_sun[sun_i])
        f_sky = _shrunk_median(sky_i, kx * ky, mk, b * corr, SKY_PRIOR_HOURS)
    sun.factors = np.round(f_sun.reshape(nx, ny), 4).tolist()
    sky.factors = np.round(f_sky.reshape(kx, ky), 4).tolist()
    return sun, sky


def _shading_words(
    share: np.ndarray,
    sun: Table,
    f: Features,
    m: np.ndarray,
    base: np.ndarray,
    keep: np.ndarray,
    local_hour: np.ndarray | None,
    month: np.ndarray | None,
) -> list[str]:
    """Sun cells below SHADE_FACTOR (the sun's direct light cut by a fifth or more), said as times of day
    and seasons, with the share of the direct light lost."""
    factors = np.asarray(sun.factors)
    shaded = factors < SHADE_FACTOR
    if not shaded.any() or not keep.any():
        return []
    el = 90.0 - f.zenith
    cell = sun.lookup(f.sun_az, el) < SHADE_FACTOR
    hit = keep & cell & (base > 0)
    if not hit.any():
        return []
    words = []
    for side, mask in (("morning", f.sun_az < 180.0), ("afternoon", f.sun_az >= 180.0)):
        sel = hit & mask
        if sel.sum() < 3:
            continue
        lost = 1.0 - float(np.average(sun.lookup(f.sun_az[sel], el[sel]), weights=share[sel] * base[sel] + 1e-12))
        azs = f.sun_az[sel]
        where = f"sun azimuth {azs.min():.0f}-{azs.max():.0f} deg below {el[sel].max():.0f} deg elevation"
        if local_hour is not None:
            hours = np.asarray(local_hour)[sel]
            when = (
                f"after {int(hours.min()):02d}:00" if side == "afternoon" else f"before {int(hours.max()) + 1:02d}:00"
            )
        else:
            when = f"in the {side}"
        season = _season(np.asarray(month)[sel]) if month is not None else ""
        words.append(f"shading {when}{season} ({where}, {100 * lost:.0f} % of the direct sun lost)")
    return words


def _season(months: np.ndarray) -> str:
    names = {"winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11)}
    found = [name for name, ms in names.items() if np.isin(months, ms).sum() >= max(2, 0.15 * months.size)]
    if not found or len(found) == 4:
        return ""
    return " in " + (found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1])


# -- applying -----------------------------------------------------------------------------------------
def features_at(
    cal: Calibration,
    start: Sequence[int] | np.ndarray,
    gr_w: Hourly,
    temp: Hourly,
    *,
    tc: Hourly | float | None = None,
    issued: Hourly | float | None = None,
) -> Features:
    """``features`` at the site (latitude, longitude, horizon) ``cal`` was fitted for."""
    g = cal.given
    return features(start, gr_w, temp, g.latitude, g.longitude, g.horizon, tc=tc, issued=issued)


def predict(cal: Calibration, feat: Features) -> np.ndarray:
    """The calibrated forecast, kWh per hour of ``feat`` (features at the calibration's site, with its
    horizon)."""
    return predict_parts(cal, feat)[0]


def predict_parts(cal: Calibration, feat: Features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``predict``, and per hour what it was made from: the level × physics (kWh) and the share of the
    roof's light from the sun's direction (0..1)."""
    g = cal.given
    p, share = roof_power(feat, g, cal.orientations)
    base = cal.level * p / 1000.0
    if len(feat) == 0:
        return base, base, share
    out = base * _sun_factor(cal.sun, feat, share) * cal.sky.lookup(feat.kt, base / (g.rating_w / 1000.0))
    return np.where(feat.sunlit > 0, np.clip(out, 0.0, None), 0.0), base, share


def newest_before(calibrations: Iterable[tuple[int, Calibration]], hour_start: int) -> Calibration | None:
    """Of ``(fitted unix s, calibration)`` pairs, the newest fitted at or before ``hour_start`` whose
    history ends by then too (it never saw the hour); None if there is none."""
    best = None
    for fitted, cal in calibrations:
        if fitted <= hour_start and (cal.trained_to is None or cal.trained_to <= hour_start):
            if best is None or fitted > best[0]:
                best = (fitted, cal)
    return None if best is None else best[1]


def plant_of(pv: PVSettings) -> Plant:
    """The installation that PV settings (``solar3p.plant.PVSettings``: site, planes, losses,
    horizon) describe."""
    faces = tuple(Face(p.rating_w, p.azimuth, p.tilt) for p in pv.planes)
    return Plant(
        pv.latitude,
        pv.longitude,
        sum(f.rating_w for f in faces),
        pv.losses_pct,
        faces[0].azimuth,
        faces[0].tilt,
        planes=faces if len(faces) > 1 else (),
        horizon=None if pv.horizon is None else tuple(float(h) for h in pv.horizon),
    )


def settings_changed(cal: Calibration, now: Plant) -> list[str]:
    """The PV_* settings that differ between the installation ``cal`` was fitted for and ``now`` (empty:
    the same; a plane split into identical parts counts as the same plane)."""
    was, new = _grouped(cal.given)[0], _grouped(now)[0]
    changed = []
    if not (
        math.isclose(was.latitude, new.latitude, abs_tol=1e-6)
        and math.isclose(was.longitude, new.longitude, abs_tol=1e-6)
    ):
        changed.append("PV_LATITUDE/PV_LONGITUDE")
    if [(round(f.rating_w, 3), round(f.azimuth % 360.0, 3), round(f.tilt, 3)) for f in was.faces] != [
        (round(f.rating_w, 3), round(f.azimuth % 360.0, 3), round(f.tilt, 3)) for f in new.faces
    ]:
        changed.append("the panels (PV_ARRAYS or PV_PANELS/PV_PANEL_WP/PV_ORIENTATION/PV_TILT)")
    if not math.isclose(was.losses_pct, new.losses_pct, abs_tol=1e-6):
        changed.append("PV_LOSSES_PCT")
    if (was.horizon or None) != (new.horizon or None):
        changed.append("PV_HORIZON")
    return changed


def with_given(cal: Calibration, **changes: Any) -> Calibration:
    return replace(cal, given=replace(cal.given, **changes))
