"""solar3p's library API: the forecast rows the CLI prints, daily totals, and the original ``asdict`` call.

Pure shaping around ``model.hourly_kwh``; file reading is in ``meteo``, settings come from the caller
(or, for ``asdict``, from ``solar3p.settings.load()`` as the CLI does).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence
from zoneinfo import ZoneInfo

from solar3p.errors import ConfigError, UsageError
from solar3p.plant import Plane, PVSettings, parse_orientation
from solar3p.meteo import MeteoRow, read_meteo

if TYPE_CHECKING:
    from solar3p.calibrate import Calibration
    from solar3p.settings import Solar3pSettings

GRANULARITIES = ("hour", "day")


@dataclass(frozen=True)
class Forecast:
    """One line of output: the hour (or day) start in the site's zone, predicted kWh, and the weather."""

    start: datetime  # aware, in the site's time zone
    kwh: float | None  # predicted energy, kWh; None where the file gives no irradiance
    gr_w: float | None  # mean global horizontal irradiance, W/m²
    tc: float | None  # total cloud cover, %
    temp: float | None  # air temperature, °C
    kwh_fc: float | None = None  # calibrated forecast (the median), kWh (only with a calibration)
    # (probability as the user wrote it, kWh) for --quantiles; None without them
    kwh_fc_quantiles: tuple[tuple[str, float | None], ...] | None = None
    # A day's line (--gran day): the hours of it the file gives a kWh for, and the hours the local day has.
    hours: int | None = None
    day_hours: int | None = None

    @property
    def partial(self) -> bool:
        """A day's line summing fewer hours than the day has (the file starts or ends in it, or lacks some)."""
        return self.hours is not None and self.day_hours is not None and self.hours < self.day_hours

    def as_json(self) -> dict:
        out: dict[str, object] = {
            "hour_start": self.start.isoformat(),
            "kwh": self.kwh,
            "gr_w": self.gr_w,
            "tc": self.tc,
            "temp": self.temp,
        }
        if self.kwh_fc is not None:
            out["kwh_fc"] = self.kwh_fc
        if self.kwh_fc_quantiles is not None:
            out["kwh_fc_quantiles"] = dict(self.kwh_fc_quantiles)
        if self.hours is not None:
            out["hours"], out["day_hours"] = self.hours, self.day_hours
        return out


# The shipped sample forecasts (data.rotterdam): found by name when METEO_FILE's folder has no such file.
SAMPLES = Path(__file__).resolve().parent / "data"


def resolve_file(file: str | Path | None, meteo_file: Path) -> Path:
    """A forecast file from a location name (``data.<name>`` beside ``meteo_file``, else among the shipped
    samples) or a path. None means ``meteo_file`` itself (METEO_FILE)."""
    if file is None or str(file).strip() == "":
        return Path(meteo_file)
    text = str(file).strip()
    path = Path(text).expanduser()
    if "/" in text or path.exists():
        return path
    folders = (Path(meteo_file).parent, SAMPLES)
    for candidate in [folder / f"data.{text}" for folder in folders]:
        if candidate.exists():
            return candidate
    name = location_file_name(text)
    for candidate in [folder / name for folder in folders]:
        if candidate.exists():
            return candidate
    return folders[0] / name


def hourly(rows: list[MeteoRow], pv: PVSettings, tz: ZoneInfo) -> list[Forecast]:
    """One Forecast per forecast row, in time order."""
    from solar3p.model import hourly_kwh  # pandas/pvlib load here, not at import

    kwh = hourly_kwh(rows, pv)
    return [
        Forecast(datetime.fromtimestamp(r.time, timezone.utc).astimezone(tz), kwh[r.time], r.gr_w, r.tc, r.temp)
        for r in rows
    ]


def read_calibration(path: Path) -> Calibration:
    """A calibration written by ``history_collector.py --calibrate``; ConfigError (78) if the file is
    missing (a path set wrong, or no calibration yet), CalibrationFileError (65) if it is not one."""
    from solar3p.calibrate import Calibration
    from solar3p.environment import command
    from solar3p.errors import CalibrationFileError, ConfigError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (IsADirectoryError, NotADirectoryError):
        raise ConfigError(
            f"calibration path {path} names no file: set PV_CALIBRATION / --calibration to the file "
            f"`{command('history_collector.py --calibrate')}` wrote"
        ) from None
    except FileNotFoundError:
        raise ConfigError(
            f"calibration file {path} does not exist: run `{command('history_collector.py --calibrate')}` first, "
            "or set PV_CALIBRATION / --calibration to the file it wrote"
        ) from None
    except UnicodeDecodeError as exc:
        redo = f"`{command('history_collector.py --calibrate')}` writes a new one"
        raise CalibrationFileError(path, f"not a solar3p calibration: not text; {redo}") from exc
    except OSError as exc:
        raise CalibrationFileError(path, f"cannot be read ({exc.strerror or exc.__class__.__name__})") from exc
    try:
        return Calibration.from_text(text)
    except ValueError as exc:
        problem = str(exc).splitlines()[0] or "not a calibration"
        redo = f"`{command('history_collector.py --calibrate')}` writes a new one"
        raise CalibrationFileError(path, f"{problem}; {redo}") from exc


def calibrated(
    hours: list[Forecast],
    rows: list[MeteoRow],
    calibration: Calibration,
    issued: int | None = None,
    quantiles: Sequence[tuple[str, float]] = (),
) -> list[Forecast]:
    """``hours`` (one per row of ``rows``) with ``kwh_fc`` from ``calibration`` (the median of its
    distribution when it learned one) and, for ``quantiles`` (pairs of the probability as written and
    its value), ``kwh_fc_quantiles``. ``issued``: when the file was forecast, for rows without their own
    (the lead time). ValueError when quantiles are asked of a calibration without a learned spread."""
    from solar3p.calibrate import features_at
    from solar3p.quantiles import calibrated_kwh

    feat = features_at(
        calibration,
        [r.time for r in rows],
        [r.gr_w for r in rows],
        [r.temp for r in rows],
        tc=[r.tc for r in rows],
        issued=[r.issued if r.issued is not None else issued for r in rows],
    )
    kwh = calibrated_kwh(calibration, feat, [p for _, p in quantiles])
    out = []
    for h, r, values in zip(hours, rows, kwh, strict=True):
        known = r.gr_w is not None
        band = tuple((text, v if known else None) for (text, _), v in zip(quantiles, values[1:], strict=True))
        out.append(
            dataclasses.replace(h, kwh_fc=values[0] if known else None, kwh_fc_quantiles=band if quantiles else None)
        )
    return out


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def _total(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known), 5) if known else None


def daily(hours: list[Forecast]) -> list[Forecast]:
    """Per local day: total kWh; mean irradiance, cloud cover and temperature over the day's hours; how
    many hours have a kWh, of the hours the day has (23 or 25 on a day the clocks change)."""
    days: dict[date, list[Forecast]] = {}
    for h in hours:
        days.setdefault(h.start.date(), []).append(h)
    out = []
    for day, items in days.items():
        start = datetime(day.year, day.month, day.day, tzinfo=items[0].start.tzinfo)
        fc = [i.kwh_fc for i in items if i.kwh_fc is not None]
        band = None
        if items[0].kwh_fc_quantiles is not None:  # day sums of the hourly quantiles, as Solcast gives them
            names = [name for name, _ in items[0].kwh_fc_quantiles]
            sums = [_total([dict(i.kwh_fc_quantiles or ()).get(n) for i in items]) for n in names]
            band = tuple(zip(names, sums, strict=True))
        out.append(
            Forecast(
                start,
                _total([i.kwh for i in items]),
                _mean([i.gr_w for i in items]),
                _mean([i.tc for i in items]),
                _mean([i.temp for i in items]),
                round(sum(fc), 5) if fc else None,
                band,
                sum(i.kwh is not None for i in items),
                _day_hours(day, items[0].start.tzinfo),
            )
        )
    return out


def _day_hours(day: date, tz: tzinfo | None) -> int:
    """How many hours local day ``day`` has in ``tz``."""
    after = day + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime(after.year, after.month, after.day, tzinfo=tz)
    return round((end.timestamp() - start.timestamp()) / 3600)


class Kwh(float):
    """A kWh number that also joins strings, as the original's values did (its callers log
    ``'solar3p_forcast_kw=' + value`` before ``float(value)``); otherwise a plain float."""

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, str):
            return other + repr(float(self))
        return float(self) + other

    def __add__(self, other: Any) -> Any:
        if isinstance(other, str):
            return repr(float(self)) + other
        return float(self) + other

    def __str__(self) -> str:
        return repr(float(self))


def _period_filter(period: object, tz: ZoneInfo, today: date | None = None) -> set[date] | None:
    """Which local dates ``period`` keeps: None = every hour in the file."""
    text = "" if period is None else str(period).strip().lower()
    if text in ("", "day", "days", "all"):  # "day" was the original's default: the whole file
        return None
    today = today or datetime.now(tz).date()
    if text == "today":
        return {today}
    if text == "tomorrow":
        return {today + timedelta(days=1)}
    for fmt in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return {datetime.strptime(text, fmt).date()}
        except ValueError:
            pass
    raise UsageError(
        f"period {period!r} is not valid: use day (the whole file), today, tomorrow, YYYY-MM-DD or DD-MM-YYYY"
    )


def _positive_number(name: str, value: str | float | None, default: float, integer: bool = False) -> float:
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip()) if integer else float(value)
    except ValueError:
        raise UsageError(f"{name}={value!r} is not a {'whole ' if integer else ''}number") from None
    if number <= 0:
        raise UsageError(f"{name}={value!r} must be above 0")
    return number


def asdict(
    period: object = "day",
    wp: str | float | None = None,
    pans: str | float | None = None,
    lay: str | float | None = None,
    gran: str = "hour",
    file: str | Path | None = None,
    *,
    settings: Solar3pSettings | None = None,
) -> dict:
    """The original call shape: ``asdict("day", 405, 12, "SE", "hour", "rotterdam")`` ->
    ``{"DD-MM-YYYY HH:00": kWh}`` for every hour of the forecast file, keys in the site's local time
    (SITE_TIMEZONE). ``period``: ``day`` (the whole file, as the original), ``today``, ``tomorrow`` or one
    date; ``wp``: watt-peak per panel (W); ``pans``: number of panels; ``lay``: orientation
    (``N NE E O SE S SW W NW`` or degrees from north); ``gran``: ``hour``, or ``day`` for daily totals keyed
    ``DD-MM-YYYY``; ``file``: a location name (``data.<file>`` in the folder of METEO_FILE, else the shipped
    sample of that name) or a path.
    Omitted arguments come from the settings (PV_PANEL_WP, PV_PANELS, PV_ORIENTATION, METEO_FILE); tilt,
    site, losses and horizon always do (PV_TILT, PV_LATITUDE/LONGITUDE, PV_LOSSES_PCT, PV_HORIZON). With
    PV_ARRAYS and none of ``wp``, ``pans``, ``lay`` given, the forecast is that roof's; any of them given
    describes one plane, as in the original (the others from PV_ARRAYS' totals)."""
    if settings is None:
        from solar3p.settings import load

        settings = load()
    granularity = str(gran or "hour").strip().lower()
    if granularity not in GRANULARITIES:
        raise UsageError(f"gran {gran!r} is not valid: use hour or day")
    pv = settings.pv
    if any(value is not None and str(value).strip() != "" for value in (wp, pans, lay)):
        # The original's arguments describe one plane (PV_ARRAYS' roof as one plane fills the others in).
        plane = Plane(
            int(_positive_number("pans", pans, pv.panels, integer=True)),
            _positive_number("wp", wp, pv.panel_wp),
            pv.azimuth if lay is None or str(lay).strip() == "" else _orientation(lay),
            pv.tilt,
        )
        pv = pv.with_planes([plane])
    tz = settings.timezone
    keep = _period_filter(period, tz)
    hours = hourly(read_meteo(resolve_file(file, settings.forecast.meteo_file)), pv, tz)
    if keep is not None:
        hours = [h for h in hours if h.start.date() in keep]
    if granularity == "day":
        return {d.start.strftime("%d-%m-%Y"): _kwh(d.kwh) for d in daily(hours)}
    return {h.start.strftime("%d-%m-%Y %H:00"): _kwh(h.kwh) for h in hours}


def _kwh(value: float | None) -> Kwh | None:
    return None if value is None else Kwh(value)


def _orientation(lay: str | float) -> float:
    try:
        return parse_orientation(lay, "lay")
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


_LOCATION = re.compile(r"^[\w .'-]+$")


def location_file_name(location: str) -> str:
    """``data.<location>`` as the original named its files (lower case, spaces as dashes)."""
    if not _LOCATION.match(location or ""):
        raise UsageError(f"location {location!r} is not a place name")
    return "data." + location.strip().lower().replace(" ", "-")
