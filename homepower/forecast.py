"""The forecast side of the collector: the archive (every forecast file's rows, kept with the moment they
were issued), the join of archived forecasts to hours (``forecast_join``, pure), and solar3p's kWh for the
joined rows (modelled once per forecast value and PV settings, remembered in STATE_DIR).

Cron runs the collector every hour against a forecast file fetched far less often: an unchanged
``METEO_FILE`` is recognised by its size and modification time (then its content hash) without being
stored again, and an hour whose forecast was modelled before needs no pandas/pvlib import.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from homepower.hourcache import code_digest, newest, number, read_envelope, write_envelope
from homepower.forecast_join import FILE_PROVIDER, ArchivedForecast, Joined, choose_all
from homepower.settings import PVSettings, Settings
from solar3p.environment import command

if TYPE_CHECKING:
    from homepower.store import Store
    from solar3p.meteostream import MeteoStream

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1)
STATE_NAME = "forecast-archive.json"  # which METEO_FILE content each database has archived
CACHE_NAME = "solar3p-cache.json"  # solar3p's kWh per forecast value, for the PV settings in its head
CACHE_MAX = 20_000  # entries kept, the newest hours (~2 years, ~1 MB read per run)
VALUE_COLS = ("gr_w", "tc", "temp", "gr", "sd", "lc", "mc", "hc", "vis", "prec", "elev", "az")


# -- files -> archive rows -------------------------------------------------------------------------
def utc(unix: float) -> datetime:
    """Unix seconds -> naive UTC, whole seconds (the tables' precision)."""
    return EPOCH + timedelta(seconds=int(unix))


def _unix(t: datetime) -> int:
    return int((t - EPOCH).total_seconds())


class _Counted:
    """Archive rows of an open forecast file, counted as they go by (the file's row count)."""

    def __init__(self, stream: MeteoStream) -> None:
        # The reader has checked the file (solar3p.meteo.RowChecks): a known provider, rows at hour starts.
        self.issued_file = stream.issued if stream.issued is not None else int(stream.mtime)
        self.provider = stream.provider or FILE_PROVIDER
        self.stream, self.rows = stream, 0
        self.last: dict | None = None  # the last row: what tells whether a database still holds the file

    def __iter__(self) -> Iterator[dict]:
        for _, r in self.stream.rows():
            self.rows += 1
            row: dict = {
                "ts_utc": utc(r.time),
                "issued_utc": utc(r.issued if r.issued is not None else self.issued_file),
                "provider": self.provider,
            }
            row.update({c: getattr(r, c) for c in VALUE_COLS})
            self.last = row
            yield row


@dataclass(frozen=True)
class Archived:
    """What storing one file did: its rows, and how many of them were new to the archive."""

    path: Path
    rows: int
    new: int
    last: list | None = None  # the archive key of its last row: [ts_utc unix s, issued_utc unix s, provider]


def archive_file(store: Store, path: Path) -> Archived:
    """Store one forecast file's rows, streamed (memory bounded by a batch, not by the file). A row's own
    ``issued`` wins over the file's; a file with neither counts as issued at its modification time; one
    that names no provider is provider ``file``. Every row is a forecast of its own: rows of one hour
    with different ``issued`` are all kept. A bad file raises MeteoFileError (65) and stores nothing."""
    from solar3p.meteostream import open_meteo_stream

    with open_meteo_stream(path) as stream:
        rows = _Counted(stream)
        new = store.store_forecasts(rows)
    last = rows.last
    key = None if last is None else [_unix(last["ts_utc"]), _unix(last["issued_utc"]), last["provider"]]
    return Archived(Path(path), rows.rows, new, key)


def read_meteo_hours(settings: Settings, first: datetime, last: datetime) -> list[ArchivedForecast]:
    """METEO_FILE's forecasts of the hours starting in [first, last] (naive UTC), as a dry run joins
    them without storing; checked like a file being archived."""
    from solar3p.meteostream import open_meteo_stream

    with open_meteo_stream(settings.forecast.meteo_file) as stream:
        return [
            ArchivedForecast(r["ts_utc"], r["issued_utc"], r["provider"], r["gr_w"], r["tc"], r["temp"])
            for r in _Counted(stream)
            if first <= r["ts_utc"] <= last
        ]


def archive_files(store: Store, paths: Sequence[Path]) -> tuple[list[Archived], list[Exception]]:
    """Store each file's rows (``--archive``): a weather forecast file in ``forecast``, a PV service's
    forecast file (``fetch --source forecast.solar|solcast``) in ``pv_forecast``. A bad file stores
    nothing and is returned among the errors; the good ones are stored all the same."""
    from solar3p.errors import MeteoFileError
    from solar3p.providers.pvfile import PVFileError, sniff

    done: list[Archived] = []
    errors: list[Exception] = []
    for path in paths:
        try:
            if sniff(Path(path)) is not None:
                done.append(archive_pv_file(store, Path(path)))
            else:
                done.append(archive_file(store, Path(path)))
        except (MeteoFileError, PVFileError) as exc:
            errors.append(exc)
    return done, errors


# -- the PV services' forecasts ---------------------------------------------------------------------
PV_FILE_PATTERN = "pv-forecast-{provider}.json"  # fetch's default in STATE_DIR, archived by every run


def archive_pv_file(store: Store, path: Path) -> Archived:
    """Store a PV forecast file's hours in ``pv_forecast`` (kWh, P10/P90), each as issued at the file's
    ``issued``; an hour stored already under the same issue is left as it was. PVFileError (65) for a
    file that is not one, and nothing stored."""
    from solar3p.providers.pvfile import read

    forecast = read(path)
    issued = utc(forecast.issued)
    rows = [
        {
            "ts_utc": utc(h.time),
            "issued_utc": issued,
            "provider": forecast.provider,
            "kwh": h.kwh,
            "kwh_p10": h.kwh_p10,
            "kwh_p90": h.kwh_p90,
        }
        for h in forecast.hours
    ]
    new = store.store_forecasts(rows, table="pv_forecast")
    return Archived(Path(path), len(rows), new)


def archive_pv_files(store: Store, state_dir: Path) -> list[Exception]:
    """Every collector run: the PV services' files fetch writes by default (those that exist). Returns
    the errors of bad files (each stored nothing); the others are stored all the same."""
    from solar3p.providers import PV_PROVIDERS
    from solar3p.providers.pvfile import PVFileError

    errors: list[Exception] = []
    for provider in PV_PROVIDERS:
        path = Path(state_dir) / PV_FILE_PATTERN.format(provider=provider)
        if not path.exists():
            continue
        try:
            done = archive_pv_file(store, path)
        except PVFileError as exc:
            errors.append(exc)
            continue
        if done.new:
            log.info("archived PV forecast file %s: %d new row(s) of %d", path, done.new, done.rows)
    return errors


# -- METEO_FILE, once per content ------------------------------------------------------------------
def _file_stamp(path: Path) -> dict | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _content_hash(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        if not path.is_file():  # a FIFO would block: archive_file refuses it
            return None
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def archive_meteo_file(store: Store, settings: Settings) -> int | None:
    """Store ``METEO_FILE``'s rows in the archive unless this database has them already; returns the
    count of new rows (0 for an unchanged file), None when there is no file (a warning says so).
    A file that is not a forecast raises MeteoFileError (65)."""
    path = Path(settings.forecast.meteo_file)
    if not path.exists():  # a directory or an unreadable file is a bad file (65), not a missing one
        log.warning(
            "forecast file %s does not exist: hours the archive has no forecast for get NULL gr_w, tc, temp "
            "and kwh_s3p (set METEO_FILE or run `%s`)",
            path,
            command(".venv/bin/python -m solar3p fetch"),
        )
        return None
    state_file = settings.state_dir / STATE_NAME
    ident = hashlib.sha256(f"{store.describe()}\0{path.resolve()}".encode()).hexdigest()[:24]
    state = _read_json(state_file)
    entries = state.get("files") if isinstance(state.get("files"), dict) else {}
    assert isinstance(entries, dict)
    known = entries.get(ident) if isinstance(entries.get(ident), dict) else None
    if known is not None and not _still_archived(store, known):
        known = None  # a database restored from a backup, or emptied: the file is stored again
    stamp = _file_stamp(path)
    if known is not None and stamp is not None and all(known.get(k) == v for k, v in stamp.items()):
        log.debug("forecast file %s is archived already (same size and time)", path)
        return 0
    content = _content_hash(path)  # None: archive_file below names the problem
    new = 0
    if known is None or content is None or known.get("sha256") != content:
        done = archive_file(store, path)
        new, last = done.new, done.last
        log.info("archived forecast file %s: %d new row(s) of %d", path, new, done.rows)
    else:
        last = known["last"]
    if stamp is not None and content is not None:
        entries[ident] = dict(stamp, sha256=content, last=last)
        try:
            from homepower.files import write_atomic

            write_atomic(state_file, json.dumps({"files": entries}, sort_keys=True), mode=0o644)
        except OSError as exc:
            log.warning("cannot write %s (%s): the forecast file will be read again next run", state_file, exc)
    return new


def _still_archived(store: Store, known: dict) -> bool:
    """Whether the database still holds the last row of the file ``known`` describes (one indexed read);
    False for an entry that does not say which row that is (written by an older version)."""
    if "last" not in known:
        return False
    last = known["last"]
    if last is None:  # a file of no rows
        return True
    try:
        ts, issued, provider = utc(last[0]), utc(last[1]), str(last[2])
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return any(f.issued_utc == issued for f in store.read_forecasts(ts, ts + timedelta(hours=1), provider))


# -- the join ---------------------------------------------------------------------------------------
def join(
    store: Store,
    starts: Sequence[datetime],
    settings: Settings,
    extra: Iterable[ArchivedForecast] = (),
) -> dict[datetime, Joined]:
    """The forecast each hour start (naive UTC, sorted) joins by the rule, over the archive plus
    ``extra`` (a dry run's unstored METEO_FILE)."""
    if not starts:
        return {}
    provider = settings.forecast.provider
    candidates = store.read_forecasts(starts[0], starts[-1] + timedelta(hours=1), provider)
    candidates.extend(extra)
    return choose_all(candidates, starts, settings.forecast.min_lead_h, provider)


# -- solar3p's kWh ----------------------------------------------------------------------------------
def _value_key(f: ArchivedForecast) -> str:
    # What solar3p's kWh of one hour depends on besides the settings: the hour, its irradiance and
    # temperature (the model treats each hour alone). Two forecasts saying the same share one entry.
    return f"{int((f.ts_utc - EPOCH).total_seconds())}|{f.gr_w!r}|{f.temp!r}"


def model_head(pv: PVSettings) -> str | None:
    """What every modelled number depends on: the PV settings, solar3p's code, the versions of pvlib and of
    the numpy and pandas it computes with."""
    import importlib.metadata

    import solar3p

    code = code_digest(Path(solar3p.__file__).resolve().parent)
    try:
        versions = {name: importlib.metadata.version(name) for name in ("pvlib", "numpy", "pandas")}
    except importlib.metadata.PackageNotFoundError:
        return None
    if code is None:
        return None
    head = {"pv": asdict(pv), "solar3p": code, **versions}
    return hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode()).hexdigest()


def s3p_kwh(
    forecasts: Sequence[ArchivedForecast],
    pv: PVSettings,
    cache_dir: Path | None,
    ahead: Callable[[], Sequence[ArchivedForecast]] = tuple,
) -> dict[str, float | None]:
    """solar3p's kWh for each forecast (keyed by ``kwh_key``), the same number ``python -m solar3p``
    gives for that row of its file. Taken from the cache in ``cache_dir`` (STATE_DIR) when modelled
    before with the same settings, code and pvlib; the rest modelled in one call, with the forecasts
    ``ahead()`` gives (the hours the next runs will ask for), and remembered."""
    wanted = {_value_key(f): f for f in forecasts}
    if not wanted:
        return {}
    head = model_head(pv)
    cache = Path(cache_dir) / CACHE_NAME if cache_dir is not None and head is not None else None
    known: dict[str, float | None] = {}
    if cache is not None and head is not None:
        stored = read_envelope(cache, head)
        if stored is not None and isinstance(stored.get("kwh"), dict):
            known = {k: v for k, v in stored["kwh"].items() if v is None or number(v)}
    missing = {k: f for k, f in wanted.items() if k not in known}
    if missing:
        from solar3p.meteo import MeteoRow
        from solar3p.model import hourly_kwh  # pandas/pvlib load here, only for forecasts not modelled yet

        hours = {f.ts_utc for f in missing.values()}  # one forecast per hour: modelled[] is keyed by the hour
        missing.update({k: f for f in ahead() if (k := _value_key(f)) not in known and f.ts_utc not in hours})
        todo = list(missing.values())
        rows = [
            MeteoRow(
                int((f.ts_utc - EPOCH).total_seconds()), "", None, None, f.temp, None, f.gr_w, None, f.tc, *[None] * 5
            )
            for f in todo
        ]
        modelled = hourly_kwh(rows, pv)
        fresh = {_value_key(f): modelled[r.time] for f, r in zip(todo, rows, strict=True)}
        known = dict(known, **fresh)
        if cache is not None:
            write_envelope(
                cache, {"head": head, "kwh": newest(known, CACHE_MAX)}, "the forecast will be modelled again next run"
            )
    return {k: known.get(k) for k in wanted}


def kwh_key(f: ArchivedForecast) -> str:
    return _value_key(f)
