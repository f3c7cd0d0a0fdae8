"""The poller's use cases: poll once, dry run, replay. ``get_enphase_hour_measure.py`` only parses
arguments and calls these.

Poll once = under the run lock: open the store, read the gateway, store the spooled readings and the new
one in one transaction, empty the spool. A database that is down does not lose the reading: it goes to
the spool and the run exits 75. A gateway that fails still lets the spool be stored first.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, NoReturn

from homepower import lock, spool
from homepower.enlighten import Credentials, TokenSource
from homepower.errors import AuthError, DataError, HomepowerError, StoreUnavailable, UsageError
from homepower.gateway.client import GatewayClient, Unauthorized
from homepower.gateway import parse
from homepower.reading import TABLE, Reading, from_line, from_record
from homepower.settings import Settings

log = logging.getLogger(__name__)

PARSERS = {
    "production.json": parse.parse_production_json,
    "api_v1_production": parse.parse_api_v1_production,
    "ivp_pdm_energy": parse.parse_pdm_energy,
    "production": parse.parse_production_html,
}


# -- reading the gateway ----------------------------------------------------------------------------


class GatewayReader:
    """One run's conversation with the gateway: /info, the token, the source rule, the export meter."""

    def __init__(self, settings: Settings, client: GatewayClient | None = None, tokens: TokenSource | None = None):
        self.settings = settings
        self.client = client or GatewayClient(
            settings.envoy_url,
            settings.envoy_tls,
            settings.state_dir,
            settings.envoy_timeout,
            settings.envoy_retry_s,
            http_fallback=not settings.envoy_scheme_given,
        )
        self.tokens = tokens or TokenSource(
            Credentials(settings.envoy_user, settings.envoy_password, settings.enlighten_url, settings.entrez_url),
            settings.state_dir,
            pasted=settings.envoy_token,
        )
        self.info: parse.GatewayInfo | None = None
        self.serial: str | None = None
        self.refused: list[str] = []  # endpoints an old (< 7) gateway refused

    def read(self) -> Reading:
        try:
            return self._read()
        except Unauthorized as exc:  # /info, or a firmware < 7 gateway that refuses where no renewal helps
            raise AuthError(
                f"gateway {self.settings.envoy_url} refused {exc.answer.path} "
                f"(HTTP {exc.answer.status}): check ENVOY_HOST, ENVOY_SERIAL and the token"
            ) from None
        finally:
            self.client.close()

    def _info(self) -> parse.GatewayInfo:
        """``/info`` (no authentication): which gateway and firmware, or DataError if ENVOY_HOST is not one."""
        answer = self.client.get("/info", auth=False)
        if 300 <= answer.status < 400:  # firmware 7+ sends http:// to https://
            raise DataError(
                f"gateway {self.client.base_url}/info answered a redirect (HTTP {answer.status}): "
                f"give ENVOY_HOST as https://host (or host alone)"
            )
        if answer.status != 200:
            raise DataError(
                f"gateway {self.client.base_url}/info answered HTTP {answer.status}; is ENVOY_HOST an IQ Gateway?"
            )
        return parse.parse_info(answer.text)

    def _read(self) -> Reading:
        info = self.info = self._info()
        self.serial = self.settings.envoy_serial or info.serial
        if self.settings.envoy_serial and self.settings.envoy_serial != info.serial:
            log.warning(
                "ENVOY_SERIAL=%s but the gateway at ENVOY_HOST reports serial %s; a token (or the "
                "digest password) is for ENVOY_SERIAL",
                self.settings.envoy_serial,
                info.serial,
            )
        log.debug("gateway serial %s firmware %s metered %s", info.serial, info.firmware_text, info.imeter)
        if info.needs_token:
            self.client.set_token(self.tokens.token(self.serial))
            self._call(self.client.check_jwt)
        else:
            self.client.use_digest(self.serial)
        cache: dict[str, object] = {}

        def get(name: str):
            if name not in cache:
                cache[name] = self._fetch(name)
            return cache[name]

        chosen = parse.choose_source(info, get)
        ts = datetime.now(timezone.utc)
        if chosen is None:
            if self.refused:
                raise AuthError(
                    f"gateway (firmware {info.firmware_text}) refused "
                    f"{', '.join(self.refused)} and gave no reading: check ENVOY_SERIAL "
                    f"(digest password = its last 6 digits)"
                )
            raise DataError(
                f"gateway (firmware {info.firmware_text}) gave no production reading from "
                f"/production.json, /api/v1/production, /ivp/pdm/energy or /production; "
                f"nothing stored"
            )
        source, values = chosen
        exported = self._exported()
        reading = Reading.of(ts, source, values, exported)
        log.info(
            "gateway %s firmware %s: source %s, lifetime %s Wh, now %s W",
            self.serial,
            info.firmware_text,
            source,
            values.wattHoursLifetime,
            values.wattsNow,
        )
        return reading

    def _call(self, fn):
        """Run ``fn``; on a 401 renew the token once and retry once (firmware 7+)."""
        try:
            return fn()
        except Unauthorized as exc:
            if not self.info.needs_token:
                raise
            log.info("gateway answered %s to %s; renewing the token once", exc.answer.status, exc.answer.path)
            self.client.set_token(self.tokens.renew_after_rejection(self.serial))
            try:
                self.client.check_jwt()
                return fn()
            except Unauthorized as again:
                raise self.tokens.fresh_token_refused(self.serial, again.answer.path) from again

    def _get(self, path: str, renew: bool = True):
        """An answer, or None when the gateway refuses the path: firmware < 7 (no token to renew), or an
        optional path (the meters) that a token good for production data may not open."""
        try:
            return self._call(lambda: self.client.get(path)) if renew else self.client.get(path)
        except Unauthorized as exc:
            self.refused.append(exc.answer.path)
            return None

    def _text(self, name: str, renew: bool = True) -> str | None:
        """The body of endpoint ``name``, or None when the gateway lacks it, refuses it or answers other
        than 200 (the source rule, or the export meter, then goes without it)."""
        answer = self._get(parse.PATHS[name], renew)
        if answer is None or parse.is_missing(answer.status, answer.text, self.info.firmware):
            return None
        if answer.status != 200:
            log.debug("gateway %s answered HTTP %s; skipped", answer.path, answer.status)
            return None
        return answer.text

    def _fetch(self, name: str):
        text = self._text(name)
        return None if text is None else PARSERS[name](text)

    def _exported(self) -> float | None:
        """Lifetime Wh sent to the grid: actEnergyRcvd of the enabled net-consumption meter, else None."""
        meters = self._text("ivp_meters", renew=False)
        eid = None if meters is None else parse.parse_meters(meters)
        if eid is None:
            return None
        readings = self._text("ivp_meters_readings", renew=False)
        return None if readings is None else parse.parse_meter_readings(readings, eid)


def read_gateway(settings: Settings) -> Reading:
    return GatewayReader(settings).read()


# -- storing --------------------------------------------------------------------------------------


def _connect(settings: Settings):
    from homepower.store import Store  # after argument parsing: keeps --help light

    return Store.connect(settings.database, settings.timezone)


def store_readings(store, readings: Iterable[Reading], tz) -> int:
    """Upsert readings (last one wins within a second) in one transaction."""
    rows = {}
    for reading in readings:
        rows[reading.ts_utc] = reading.to_row(tz)
    return store.upsert(TABLE, list(rows.values()))


def poll_once(settings: Settings) -> Reading:
    """Read the gateway and store the reading (and the spool first). Raises HomepowerError."""
    with lock.hold(settings.state_dir):
        try:
            store = _connect(settings)
        except StoreUnavailable as exc:
            _spool_instead(settings.state_dir, read_gateway(settings), exc)
        with store:
            return _poll_into(store, settings)


def _poll_into(store, settings: Settings) -> Reading:
    """The spool and a new reading into ``store``; a gateway that fails still lets the spool be stored."""
    spooled, bad = spool.read(settings.state_dir)
    gateway_error, reading, store_error = None, None, None
    try:
        reading = read_gateway(settings)
    except HomepowerError as exc:
        gateway_error = exc
    batch = spooled + ([reading] if reading else [])
    if batch or bad:
        try:
            store_readings(store, batch, settings.timezone)
            spool.clear(settings.state_dir, bad)
            if spooled:
                log.info("stored %d spooled reading(s)", len(spooled))
        except StoreUnavailable as exc:
            store_error = exc
    if gateway_error is not None:
        raise gateway_error
    if store_error is not None:
        _spool_instead(settings.state_dir, reading, store_error)
    return reading


def _spool_instead(state_dir: Path, reading: Reading, store_error: StoreUnavailable) -> NoReturn:
    """The database did not take ``reading``: keep it in the spool for the next run, and say so (exit 75)."""
    try:
        path = spool.append(state_dir, [reading])
    except HomepowerError as exc:
        raise type(exc)(f"{store_error} - and the reading could not be spooled: {exc}") from None
    raise StoreUnavailable(
        f"{store_error} - the reading of {reading.ts_utc:%Y-%m-%d %H:%M:%S} UTC "
        f"was spooled in {path} and will be stored by the next run"
    )


# -- replay ----------------------------------------------------------------------------------------


def parse_start(text: str, tz) -> datetime:
    """``YYYY-MM-DD HH:MM`` in SITE_TIMEZONE -> aware datetime. A time the spring clock change skips is bad
    usage (as the collector's skipped hour); the repeated autumn hour means its first pass."""
    from homepower import hours  # replay only: the poll's start-up does not need it

    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            naive = datetime.strptime(text.strip().replace("T", " "), fmt)
        except ValueError:
            continue
        if not hours.exists(naive, tz):
            raise UsageError(f"--start {text!r} does not exist in {tz} (the clock skips it in spring)")
        return naive.replace(tzinfo=tz)
    raise UsageError(f"--start {text!r} is not 'YYYY-MM-DD HH:MM' (local time in SITE_TIMEZONE)")


def read_replay(path: Path, tz, start: str | None = None, step: float | None = None) -> list[Reading]:
    """Every reading of a replay file, or DataError (nothing is stored from a file with a bad line)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM from a Windows editor is not data
    except FileNotFoundError:
        raise UsageError(f"--replay {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--replay {path} cannot be read: {exc.__class__.__name__}; nothing stored") from None
    whole = None
    if text.lstrip().startswith("{"):
        try:
            whole = json.loads(text)
        except ValueError:
            whole = None  # JSON lines, not one document
    if isinstance(whole, dict) and "data" in whole and "body" not in whole:
        return _recapture(path, whole, tz, start, step)
    if start is not None or step is not None:
        raise UsageError('--start and --step apply only to the recapture layout {"data": [...]}')
    if isinstance(whole, dict):  # one record, pretty-printed over several lines
        try:
            return [from_record(whole)]
        except DataError as exc:
            raise DataError(f"{path}: {_why(exc)}; nothing stored from this file") from None
    readings = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            readings.append(from_line(line))
        except DataError as exc:
            raise DataError(f"{path} line {number}: {_why(exc)}; nothing stored from this file") from None
    if not readings:
        raise DataError(f"{path} holds no readings; nothing stored")
    return readings


def _why(exc: Exception) -> str:
    return str(exc).removesuffix("; nothing stored")  # the file's message says it once


def _recapture(path: Path, whole: dict, tz, start: str | None, step: float | None) -> list[Reading]:
    """The original recapture layout ``{"data": [<pdm/energy bodies>]}``, one body every ``step`` minutes
    from ``start`` (local)."""
    if start is None or step is None:
        raise UsageError(
            f'{path} is in the recapture layout {{"data": [...]}}: give --start '
            f'"YYYY-MM-DD HH:MM" (local) and --step MINUTES'
        )
    if not 0 < step < float("inf"):  # also NaN
        raise UsageError("--step must be a positive number of minutes")
    bodies = whole["data"]
    if not isinstance(bodies, list) or not bodies:
        raise DataError(f"{path}: data is not a non-empty list; nothing stored")
    first = parse_start(start, tz).astimezone(timezone.utc)
    readings = []
    for index, body in enumerate(bodies):
        try:
            readings.append(from_record(body, ts=first + timedelta(minutes=step * index)))
        except DataError as exc:
            raise DataError(f"{path} data[{index}]: {_why(exc)}; nothing stored from this file") from None
    return readings


def replay(settings: Settings, path: Path, start: str | None = None, step: float | None = None) -> int:
    """Store every reading of ``path``; returns how many. The spool is stored first."""
    readings = read_replay(path, settings.timezone, start, step)
    with lock.hold(settings.state_dir):
        try:
            with _connect(settings) as store:  # closed (quietly) on the way out
                spooled, bad = spool.read(settings.state_dir)
                store_readings(store, spooled + readings, settings.timezone)
                spool.clear(settings.state_dir, bad)
        except StoreUnavailable as exc:  # one transaction: none of the file went in
            raise StoreUnavailable(f"{exc} - nothing stored from {path}; replay it again later") from None
    log.info("replayed %d reading(s) from %s", len(readings), path)
    return len(readings)
