"""``python -m solar3p``: print the forecast; ``python -m solar3p fetch``: download a forecast file.

Thin: parse arguments (defaults from the settings), call the library, print. Errors print one line and
exit with the contract's code (bad usage 64, bad file 65, unreachable 69, key rejected 77, config 78).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NoReturn, Sequence

from solar3p.edge import Parser as BaseParser
from solar3p.edge import held_logs, program, run, setup_logging
from solar3p.errors import ConfigError, UsageError
from solar3p.providers import PV_PROVIDERS
from solar3p.plant import ARRAYS_EXAMPLE, ORIENTATIONS, Plane, parse_arrays, parse_horizon, parse_orientation
from solar3p.settings import CALIBRATION_NAME, FORECAST_FILE_PROVIDERS, load
from solar3p.environment import command

if TYPE_CHECKING:
    from datetime import date

    from solar3p.api import Forecast
    from solar3p.calibrate import Calibration
    from solar3p.plant import PVSettings
    from solar3p.settings import Solar3pSettings

FORMATS = ("table", "csv", "json", "evcc")
COLUMNS = ("hour_start", "kwh", "gr_w", "tc", "temp")


class Parser(BaseParser):
    """The edge's Parser (blank values are bad usage) that raises UsageError (exit 64)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _ranged(kind: type[int] | type[float], lo: float, hi: float, unit: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range ({lo:g} to {hi:g} {unit})")
        return value

    return convert


def _orientation(text: str) -> float:
    try:
        return parse_orientation(text, "--lay")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def format_arrays(planes: Sequence[Plane]) -> str:
    """Planes written back as PV_ARRAYS takes them."""
    return ";".join(f"{p.panels}x{p.panel_wp:g}@{p.azimuth:g}/{p.tilt:g}" for p in planes)


def roof_settings(args: argparse.Namespace, pv: PVSettings) -> PVSettings:
    """The PV settings the forecast flags describe, from the settings' ``pv``: --arrays (or PV_ARRAYS) for
    several planes; --pans/--wp/--lay/--tilt one plane, the roof's own values where a flag is not given."""
    single = {"--pans": args.pans, "--wp": args.wp, "--lay": args.lay, "--tilt": args.tilt}
    given = [name for name, value in single.items() if value is not None]
    if args.arrays is not None and given:
        raise UsageError(f"--arrays gives every plane of the roof: use it without {', '.join(given)}")
    pv = dataclasses.replace(pv, latitude=args.lat, longitude=args.lon, losses_pct=args.losses)
    try:
        if args.arrays is not None:
            pv = pv.with_planes(parse_arrays(args.arrays, "--arrays"))
        elif given:
            plane = Plane(
                pv.panels if args.pans is None else args.pans,
                pv.panel_wp if args.wp is None else args.wp,
                pv.azimuth if args.lay is None else args.lay,
                pv.tilt if args.tilt is None else args.tilt,
            )
            pv = pv.with_planes([plane])
        if args.horizon is not None:
            pv = dataclasses.replace(pv, horizon=parse_horizon(args.horizon, "--horizon"))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return pv


def forecast_parser(settings: Solar3pSettings) -> Parser:
    pv = settings.pv
    compass = " ".join(ORIENTATIONS)
    parser = Parser(
        prog=program("python -m solar3p"),
        description="Print the PV forecast for every hour of a Meteoserver 'solar' forecast file. "
        "Defaults come from the settings (environment, then .env). "
        f"Also: `{command('python -m solar3p fetch --help')}` to download a forecast file.",
    )
    parser.add_argument(
        "--file",
        default=None,
        help=f"forecast file: a path, or a location name meaning data.<name> in the folder "
        f"of METEO_FILE, else a shipped sample (rotterdam) (default: METEO_FILE = {settings.forecast.meteo_file})",
    )
    roof = "the roof of PV_ARRAYS as one plane: " if pv.arrays else ""
    parser.add_argument(
        "--pans",
        type=_ranged(int, 1, 100000, "panels"),
        default=None,
        help=f"number of panels (default: {roof}PV_PANELS = {pv.panels})",
    )
    parser.add_argument(
        "--wp",
        type=_ranged(float, 1, 100000, "W"),
        default=None,
        help=f"watt-peak of one panel, W at 1000 W/m² and 25 °C (default: {roof}PV_PANEL_WP = {pv.panel_wp:g})",
    )
    parser.add_argument(
        "--lay",
        type=_orientation,
        default=None,
        help=f"orientation: {compass} (O is Dutch for east) or degrees from north, "
        f"180 = south (default: {roof}PV_ORIENTATION = {pv.azimuth:g} degrees)",
    )
    parser.add_argument(
        "--tilt",
        type=_ranged(float, 0, 90, "degrees"),
        default=None,
        help=f"panel tilt, degrees from horizontal (default: {roof}PV_TILT = {pv.tilt:g})",
    )
    parser.add_argument(
        "--arrays",
        metavar="SPEC",
        default=None,
        help=f"a roof of several planes on one inverter system: panels x Wp @ orientation / tilt for each "
        f"plane, ';' between planes, e.g. {ARRAYS_EXAMPLE} (quote it in a shell); replaces --pans, --wp, "
        f"--lay and --tilt (default: PV_ARRAYS = {format_arrays(pv.arrays) if pv.arrays else 'none'})",
    )
    parser.add_argument(
        "--horizon",
        metavar="LIST",
        default=None,
        help="the horizon's height, degrees, at evenly spaced azimuths from north, clockwise, e.g. "
        "0,0,15,30,45,30,15,0 (N NE E SE S SW W NW); 0 for a flat horizon "
        f"(default: PV_HORIZON = {','.join(f'{h:g}' for h in pv.horizon) if pv.horizon else 'none'})",
    )
    parser.add_argument(
        "--lat",
        type=_ranged(float, -90, 90, "degrees"),
        default=pv.latitude,
        help="site latitude, degrees north (default: PV_LATITUDE = %(default)s)",
    )
    parser.add_argument(
        "--lon",
        type=_ranged(float, -180, 180, "degrees"),
        default=pv.longitude,
        help="site longitude, degrees east (default: PV_LONGITUDE = %(default)s)",
    )
    parser.add_argument(
        "--losses",
        type=_ranged(float, 0, 99, "%"),
        default=pv.losses_pct,
        help="system losses, %% of DC energy (default: PV_LOSSES_PCT = %(default)s)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a calibration from `history_collector.py --calibrate`: every row also gets kwh_fc, the "
        f"calibrated forecast (default: PV_CALIBRATION, else {settings.state_dir}/solar3p-calibration.json "
        "when it exists)",
    )
    parser.add_argument(
        "--quantiles",
        metavar="LIST",
        type=parse_quantiles,
        default=None,
        help="with a calibration: also the calibrated forecast's quantiles at these probabilities, e.g. "
        "0.1,0.5,0.9 (P10, median, P90; strictly between 0 and 1, at most 99): JSON kwh_fc_quantiles, "
        "CSV/table columns q<probability>; --gran day sums each hour's",
    )
    parser.add_argument(
        "--gran",
        choices=("hour", "day"),
        default="hour",
        help="one line per hour, or per local day: kWh summed, weather averaged (default: %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table for people; csv or json (hour_start ISO 8601 with the SITE_TIMEZONE "
        "offset, kwh, gr_w W/m², tc %%, temp °C) for programs; evcc: the calibrated forecast from the "
        "current hour on as evcc's custom solar forecast, [{start, end, value W}] (default: %(default)s)",
    )
    parser.add_argument("--now", help=argparse.SUPPRESS)  # tests: pretend it is this time (ISO 8601, UTC if naive)
    return parser


def _day(text: str) -> date:
    from datetime import date

    text = text.strip()
    try:
        if len(text) != 10 or text[4] != "-":
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _text(what: str) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"an empty {what}")
        return text.strip()

    return convert


def fetch_parser(settings: Solar3pSettings) -> Parser:
    from solar3p.download import MAX_BODY_BYTES
    from solar3p.fetch import DEADLINE_S, HISTORY_CHUNK_S

    parser = Parser(
        prog=program("python -m solar3p") + " fetch",
        description="Download a forecast file and write it atomically (a failed download keeps the previous "
        "file), stamped with when it was issued and by which service. Meteoserver needs METEOSERVER_KEY; "
        "Open-Meteo needs no key and is written in the Meteoserver layout. With --from/--to: past forecasts "
        "from Open-Meteo's historical forecast service, for history_collector.py --archive. Base URLs: "
        f"METEOSERVER_URL, OPEN_METEO_URL, OPEN_METEO_HISTORY_URL. An answer over {MAX_BODY_BYTES // 1024} KiB "
        "is refused.",
    )
    parser.add_argument(
        "--source",
        choices=tuple(name for name in FORECAST_FILE_PROVIDERS if name != "file") + PV_PROVIDERS,  # fetch.PROVIDERS
        default=None,
        help="forecast service (default: meteoserver when METEOSERVER_KEY is set and no --from, else open-meteo); "
        "forecast.solar and solcast are PV forecast services, written to STATE_DIR/pv-forecast-<source>.json "
        "for the collector to archive beside solar3p (FORECAST_SOLAR_URL/KEY; SOLCAST_URL/KEY/SITE)",
    )
    parser.add_argument(
        "--location",
        type=_text("location"),
        default=None,
        help="place name, e.g. Rotterdam: Meteoserver's location, and the file becomes data.<name> "
        "beside METEO_FILE (Open-Meteo still uses --lat/--lon)",
    )
    parser.add_argument(
        "--lat",
        type=_ranged(float, -90, 90, "degrees"),
        default=None,
        help=f"latitude, degrees north (default: PV_LATITUDE = {settings.pv.latitude})",
    )
    parser.add_argument(
        "--lon",
        type=_ranged(float, -180, 180, "degrees"),
        default=None,
        help=f"longitude, degrees east (default: PV_LONGITUDE = {settings.pv.longitude})",
    )
    parser.add_argument(
        "--from",
        dest="first",
        type=_day,
        default=None,
        help="with --to: past forecasts of the local days [FROM, TO) (SITE_TIMEZONE), YYYY-MM-DD",
    )
    parser.add_argument("--to", dest="end", type=_day, default=None, help="first local day NOT fetched, YYYY-MM-DD")
    parser.add_argument(
        "--out",
        type=_text("path"),
        default=None,
        help=f"file to write (default: data.<location> beside METEO_FILE with --location, else METEO_FILE = "
        f"{settings.forecast.meteo_file}; with --from/--to: forecast-history-FROM-TO.json in STATE_DIR)",
    )
    parser.add_argument(
        "--timeout",
        type=_ranged(float, 1, 3600, "s"),
        default=None,
        help=f"give up after this many seconds in all, however slowly the service answers (default: "
        f"{DEADLINE_S:g}, plus {HISTORY_CHUNK_S:g} for every further month of a --from/--to range)",
    )
    return parser


PROGRAM_FOLDERS = (".git", ".ci", "solar3p", "homepower", "netio", "tests", "sql", "demo", "bench")


def _tracked(checkout: Path, relative: Path) -> bool:
    """Whether git tracks ``relative`` in ``checkout`` (False where git or the repository is absent)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "ls-files", "--error-unmatch", "--", str(relative)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _target(path: Path, origin: str) -> Path:
    """Refuse a target in the checkout's own files: its program folders, its top level (the scripts cron
    runs, README, Makefile) and any file git tracks. A download never overwrites a shipped file (the sample
    forecast serves the demo and the tests); var/ and the owner's own untracked folders stay allowed."""
    from solar3p.environment import checkout_dir

    resolved = path.expanduser().resolve()
    found = checkout_dir()
    checkout = found.resolve() if found is not None else None
    problem = None
    if found is None and resolved.is_relative_to(Path(__file__).resolve().parent):
        problem = "is inside the installed solar3p package"  # installed: no checkout, but the shipped sample
    elif checkout is not None and resolved.is_relative_to(checkout) and resolved != checkout:
        relative = resolved.relative_to(checkout)
        if relative.parts[0] in PROGRAM_FOLDERS:
            problem = f"is inside the checkout's program folder {relative.parts[0]}/"
        elif len(relative.parts) == 1:
            problem = f"is at the top level of the checkout {checkout}, beside the scripts"
        elif _tracked(checkout, relative):
            problem = "is a file the checkout tracks (git)"
    if problem:
        message = f"{origin} {path} {problem}: write forecasts elsewhere, e.g. in STATE_DIR"
        if origin == "METEO_FILE":
            raise ConfigError(message + " (the default is STATE_DIR/forecast.json)")
        raise UsageError(message)
    if resolved.is_dir():
        raise UsageError(f"{origin} {path} is a folder, not a file")
    return path


def _fixed(value: float | None, digits: int) -> str:
    """A table cell: ``value`` with ``digits`` decimals, empty for None."""
    return "" if value is None else f"{value:.{digits}f}"


def parse_quantiles(text: str) -> tuple[tuple[str, float], ...]:
    """``--quantiles``: comma-separated probabilities strictly between 0 and 1, at most 99, each once;
    kept with the text as written (it names the JSON key and the q<p> column)."""
    items = [part.strip() for part in text.split(",")]
    out = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not a probability (e.g. 0.1,0.5,0.9)") from None
        if not 0.0 < value < 1.0:
            raise argparse.ArgumentTypeError(f"{item!r} is not strictly between 0 and 1")
        out.append((item, value))
    if len(out) > 99:
        raise argparse.ArgumentTypeError(f"{len(out)} probabilities: at most 99")
    if len({v for _, v in out}) != len(out):
        raise argparse.ArgumentTypeError("a probability is given twice")
    return tuple(out)


def _band(line: Forecast) -> dict:
    return dict(line.kwh_fc_quantiles or ())


def render(lines: Sequence[Forecast], fmt: str, gran: str, limit_kwh: float | None = None) -> str:
    """The forecast in one of FORMATS. ``lines``: solar3p.api.Forecast. ``limit_kwh``: the inverter's
    AC limit over an hour; the table marks the hours it flattens and says what the flat value is."""
    if fmt == "json":
        return json.dumps([line.as_json() for line in lines], indent=1) + "\n"
    fc = any(line.kwh_fc is not None for line in lines)
    names = [name for name, _ in (lines[0].kwh_fc_quantiles or ())] if lines else []
    columns = COLUMNS + (("kwh_fc",) if fc else ())
    if fmt == "csv":
        counted = ("hours", "day_hours") if gran == "day" else ()  # last: the columns before keep their places
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns + tuple(f"q{name}" for name in names) + counted)
        for line in lines:
            row = line.as_json()
            band = _band(line)
            writer.writerow(
                ["" if row.get(c) is None else row[c] for c in columns]
                + ["" if band.get(n) is None else band[n] for n in names]
                + [row[c] for c in counted]
            )
        return buffer.getvalue()
    label = "day" if gran == "day" else "hour start"
    head = f"{label:<25} {'kWh':>8} {'gr_w W/m²':>10} {'tc %':>6} {'temp °C':>8}" + (f" {'kWh_fc':>8}" if fc else "")
    head += "".join(f" {'q' + name:>8}" for name in names)
    out = [head, "-" * len(head)]
    limited = 0
    for line in lines:
        when = line.start.strftime("%Y-%m-%d" if gran == "day" else "%Y-%m-%d %H:%M %z")
        band = _band(line)
        at_limit = gran == "hour" and limit_kwh is not None and line.kwh is not None and line.kwh >= limit_kwh - 5e-4
        limited += at_limit
        out.append(
            f"{when:<25} {_fixed(line.kwh, 3):>8} {_fixed(line.gr_w, 0):>10} {_fixed(line.tc, 0):>6} "
            f"{_fixed(line.temp, 1):>8}"
            + (f" {_fixed(line.kwh_fc, 3):>8}" if fc else "")
            + "".join(f" {_fixed(band.get(n), 3):>8}" for n in names)
            + (" *" if at_limit else "")
            + (f"  ({line.hours} of {line.day_hours} h)" if line.partial else "")
        )
    out.append("-" * len(head))
    total = f"{'total':<25} {sum(line.kwh or 0.0 for line in lines):>8.3f}"
    if fc:
        total += " " * 27 + f" {sum(line.kwh_fc or 0.0 for line in lines):>8.3f}"
        total += "".join(f" {sum(_band(line).get(n) or 0.0 for line in lines):>8.3f}" for n in names)
    out.append(total)
    partial = sum(line.partial for line in lines)
    if partial:
        out.append("(n of N h): a day the file covers only in part; its total is of those hours alone")
    if limited and limit_kwh is not None:
        from solar3p.model import DC_AC_RATIO

        out.append(
            f"* {limited} hour(s) at the inverter's AC limit, {limit_kwh:.3f} kWh in an hour "
            f"({limit_kwh * 1000 * DC_AC_RATIO:.0f} Wp / {DC_AC_RATIO:g}, the DC/AC ratio of Enphase "
            f"micro-inverters): the panels could give more"
        )
    return "\n".join(out) + "\n"


def run_forecast(argv: Sequence[str], settings: Solar3pSettings) -> int:
    from solar3p.api import calibrated, daily, hourly, read_calibration, resolve_file
    from solar3p.meteo import read_meteo_file

    args = forecast_parser(settings).parse_args(argv)
    pv = roof_settings(args, settings.pv)
    from solar3p.site import check

    if misfit := check(pv.latitude, pv.longitude, settings.timezone):
        logging.getLogger(__name__).warning("%s", misfit)
    path = args.calibration
    if path is None and settings.pv_calibration is not None:
        # PV_CALIBRATION is used whether or not it exists (a missing one is an error); the default only if it does.
        default = settings.state_dir / CALIBRATION_NAME
        if settings.pv_calibration != default or default.exists():
            path = settings.pv_calibration
    calibration = read_calibration(path) if path is not None else None
    if calibration is not None:
        from solar3p.calibrate import plant_of, settings_changed

        changed = settings_changed(calibration, plant_of(pv))
        if changed:
            logging.getLogger(__name__).warning(
                "calibration file %s was fitted under other PV_* settings (%s changed since); kwh_fc still "
                "uses it as fitted: run %s again",
                path,
                ", ".join(changed),
                command("history_collector.py --calibrate"),
            )
    document = read_meteo_file(resolve_file(args.file, settings.forecast.meteo_file))
    rows = document.rows
    lines = hourly(rows, pv, settings.timezone)
    if args.quantiles and calibration is None:
        raise ConfigError(
            f"--quantiles needs a calibration and there is none yet: run {command('history_collector.py --calibrate')} "
            "first (it needs 10 days of history for the spread), or give --calibration PATH"
        )
    if calibration is not None:
        try:
            lines = calibrated(lines, rows, calibration, document.issued, args.quantiles or ())
        except ValueError as exc:  # a calibration without a learned spread
            raise ConfigError(f"--quantiles: {exc}") from exc
    if args.format == "evcc":
        return write_evcc(lines, calibration, args)
    if args.gran == "day":
        lines = daily(lines)
    from solar3p.model import ac_limit_w

    sys.stdout.write(render(lines, args.format, args.gran, ac_limit_w(pv.rating_w) / 1000.0))
    return 0


def _run_pv_fetch(args: argparse.Namespace, settings: Solar3pSettings, history: bool) -> int:
    """``fetch --source forecast.solar|solcast``: the roof's forecast from a PV forecast service."""
    from solar3p.environment import read_environment
    from solar3p.providers.fetch import ServiceSettings, fetch_forecast_solar, fetch_solcast

    if history or args.location:
        raise UsageError(f"--source {args.source} takes no --from/--to or --location (the roof is PV_* / --lat --lon)")
    services = ServiceSettings.from_env(read_environment())
    out = _target(Path(args.out) if args.out else settings.state_dir / f"pv-forecast-{args.source}.json", "--out")
    pv = settings.pv
    lat = pv.latitude if args.lat is None else args.lat
    lon = pv.longitude if args.lon is None else args.lon
    if args.source == "forecast.solar":
        written = fetch_forecast_solar(services, pv.planes, lat, lon, pv.horizon, settings.timezone, out, args.timeout)
    else:
        written = fetch_solcast(services, settings.timezone, out, args.timeout)
    print(written.line())
    return 0


def write_evcc(lines: Sequence[Forecast], calibration: Calibration | None, args: argparse.Namespace) -> int:
    """``--format evcc``: the calibrated median per hour from now on, for evcc's custom solar forecast."""
    from datetime import datetime, timezone

    from solar3p.evcc import evcc_forecast

    if calibration is None:
        raise ConfigError(
            "--format evcc gives the calibrated forecast and there is no calibration yet: run "
            f"{command('history_collector.py --calibrate')} (it needs 3 days of history), or give --calibration PATH"
        )
    if args.gran == "day":
        raise UsageError("--format evcc is hourly: leave out --gran day")
    now = datetime.now(timezone.utc)
    if args.now:
        try:
            now = datetime.fromisoformat(args.now)
        except ValueError:
            raise UsageError(f"--now {args.now!r} is not an ISO 8601 time") from None
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    slots = evcc_forecast(lines, now)
    if not slots:
        # evcc reads [] as "no forecast"; the owner must learn why, or the plan silently goes without one.
        ends = max((line.start for line in lines), default=None)
        logging.getLogger(__name__).warning(
            "--format evcc: the forecast file has no hour from now on (%s): run `%s` for a newer one",
            f"its last hour starts {ends.isoformat(timespec='minutes')}" if ends else "it has no hours",
            command("python -m solar3p fetch"),
        )
    sys.stdout.write(json.dumps(slots) + "\n")
    return 0


def run_fetch(argv: Sequence[str], settings: Solar3pSettings) -> int:
    from solar3p.api import location_file_name
    from solar3p.fetch import fetch, fetch_history

    args = fetch_parser(settings).parse_args(argv)
    if (args.lat is None) != (args.lon is None):
        raise UsageError("give both --lat and --lon, or neither")
    history = args.first is not None or args.end is not None
    if history and (args.first is None or args.end is None):
        raise UsageError("give both --from and --to (local days [FROM, TO)), or neither")
    if args.source in PV_PROVIDERS:
        return _run_pv_fetch(args, settings, history)
    source = args.source or ("meteoserver" if settings.forecast.meteoserver_key and not history else "open-meteo")
    if history and source != "open-meteo":
        raise UsageError("past forecasts (--from/--to) come from Open-Meteo only: use --source open-meteo")
    if source == "meteoserver" and args.location and args.lat is not None:
        raise UsageError("Meteoserver takes --location or --lat/--lon, not both")
    lat = settings.pv.latitude if args.lat is None else args.lat
    lon = settings.pv.longitude if args.lon is None else args.lon
    if history:
        out = Path(args.out) if args.out else settings.state_dir / f"forecast-history-{args.first}-{args.end}.json"
        out = _target(out, "--out")
        hours = fetch_history(
            out,
            args.first,
            args.end,
            lat,
            lon,
            settings.timezone,
            place=args.location,
            timeout=args.timeout,
        )
        store = command("history_collector.py")
        print(f"wrote {hours} past forecast hours to {out}; store them with: {store} --archive {out}")
        return 0
    location = args.location
    if source == "meteoserver" and not location and args.lat is None:
        # METEO_FILE named data.<place> says where the user gets forecasts for.
        name = settings.forecast.meteo_file.name
        location = name[len("data.") :] if name.startswith("data.") else None
    if args.out:
        out = _target(Path(args.out), "--out")
    elif args.location:
        out = _target(settings.forecast.meteo_file.parent / location_file_name(args.location), "--location")
    else:
        out = _target(settings.forecast.meteo_file, "METEO_FILE")
    fetched = fetch(
        source,
        out,
        location=location,
        lat=lat,
        lon=lon,
        key=settings.forecast.meteoserver_key,
        tz=settings.timezone,
        timeout=args.timeout,
    )
    print(f"wrote {fetched.summary()} from {source} to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        settings = load()
        setup_logging(settings.log_level)
        try:
            if argv[:1] == ["fetch"]:
                with held_logs():  # a failed fetch is its one line; the retries it logged go with it
                    return run_fetch(argv[1:], settings)
            return run_forecast(argv, settings)
        except BrokenPipeError:  # `python -m solar3p | head`
            return 0

    return run(body, "solar3p")
