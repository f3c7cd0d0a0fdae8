"""The poller's use cases: poll once, dry run, replay. ``get_enphase_hour_measure.py`` only parses
arguments and calls these.

Poll once = under the run lock: open the store, read the gateway, store the spooled readings and the new
one in one transaction, empty the spool. A database that is down does not lose the reading: it goes to
the spool and the run exits 75. A gateway that fails still lets the spool be stored first.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, NoReturn, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from homepower.cli import AT_ONCE

from homepower import lock, spool
from homepower.enlighten import Credentials, TokenSource
from homepower.errors import AuthError, DataError, HomepowerError, StoreUnavailable, UnreachableError, UsageError
from homepower.gateway import parse
from homepower.gateway.client import NAME_UNKNOWN, Answer, GatewayClient
from homepower.reading import MAX_LINE, TABLE, Reading, from_line, from_record
from solar3p.environment import checkout_dir, default_base_dir, env_file

if TYPE_CHECKING:
    from homepower.poller_settings import PollerSettings
    from homepower.store.core import CoreStore  # all a poll asks of the store: upsert, insert_new, commit

log = logging.getLogger(__name__)


# -- reading the gateway ----------------------------------------------------------------------------


def _to_terminal(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class GatewayReader:
    """One run's conversation with the gateway: /info, the token, the source rule, the grid meters."""

    def __init__(
        self,
        settings: PollerSettings,
        client: GatewayClient | None = None,
        tokens: TokenSource | None = None,
        once: bool = False,
    ):
        self.settings = settings
        self.client = client or GatewayClient(
            settings.gateway.url,
            settings.gateway.tls,
            settings.state_dir,
            settings.gateway.timeout,
            0.0 if once else settings.gateway.retry_s,  # a person's check (--dry-run) does not wait minutes
            http_fallback=not settings.gateway.scheme_given,
            progress=_to_terminal if sys.stderr.isatty() else None,
            unset_hint=unset_hint() if settings.gateway.host_unset else None,
            first_failure=self._say_unreachable,
            no_retry=f"--dry-run tries once; the poll retries for ENVOY_RETRY_S={settings.gateway.retry_s:g} s"
            if once
            else None,
        )
        self.tokens = tokens or TokenSource(
            Credentials(
                settings.gateway.user,
                settings.gateway.password,
                settings.gateway.enlighten_url,
                settings.gateway.entrez_url,
            ),
            settings.state_dir,
            pasted=settings.gateway.token,
        )
        self.info: parse.GatewayInfo | None = None
        self.serial: str | None = None
        self.token_accepted = False  # /auth/check_jwt accepted this run's token
        self.renewed = False  # at most one renewal per run
        self.refused_with_token: list[str] = []  # 401s after /auth/check_jwt accepted the token

    def read(self, keep_open: bool = False) -> Reading:
        """The reading; ``keep_open``: the session stays for ``panels`` (then the caller closes it)."""
        try:
            return self._read()
        except UnreachableError as exc:
            if urlsplit(self.settings.gateway.url).hostname == EXAMPLE_HOST and not self.settings.gateway.host_unset:
                exc.add_note(f"ENVOY_HOST is {EXAMPLE_HOST}, the example's value: set it to the gateway's IP address")
            raise
        finally:
            if not keep_open:
                self.client.close()

    def close(self) -> None:
        self.client.close()

    def panels(self, store: CoreStore, seen: datetime) -> None:
        """After the reading is stored: the per-panel endpoints, one try each, within ENVOY_TIMEOUT and what is
        left of the run's deadline; whatever happens costs at most a warning line."""
        if self.info is None:
            return
        from homepower import panels  # after the reading: its imports cost the reading nothing

        info = self.info
        self.client.finishing(self.settings.gateway.timeout)

        def ask(endpoint: parse.Endpoint) -> parse.Answer:
            answer = self.client.get(endpoint.path, cap=endpoint.cap)
            return parse.Answer(answer.status, answer.text, info.firmware, self.token_accepted)

        panels.poll(ask, info.firmware, store, seen.astimezone(timezone.utc).replace(tzinfo=None))

    def _say_unreachable(self, reason: str, answered: bool) -> None:
        """The first failed attempt, in the log at once (not at the end of minutes of retrying): a wrong
        ENVOY_HOST must not look like a run that hangs."""
        gateway = self.settings.gateway
        host = urlsplit(gateway.url).hostname
        if answered:
            what = f"gateway {gateway.url} accepted the connection but did not answer within {gateway.timeout:g} s"
        elif reason in NAME_UNKNOWN:
            what = f"gateway {gateway.url} cannot be reached: the name {host} does not resolve; check ENVOY_HOST"
        else:
            what = f"gateway {gateway.url} cannot be reached ({reason}); check ENVOY_HOST and the gateway's network"
        if host == EXAMPLE_HOST:
            what += (
                f"; ENVOY_HOST is {EXAMPLE_HOST}, the example's value: where the gateway does not answer to that "
                "name, set ENVOY_HOST to its IP address"
            )
        log.warning(
            "%s; retrying for up to %g s (ENVOY_RETRY_S) before giving up", what, gateway.retry_s, extra=AT_ONCE
        )

    def _info(self) -> parse.GatewayInfo:
        """``/info`` (no authentication): which gateway and firmware, or DataError if ENVOY_HOST is not one."""
        answer = self.client.get(parse.INFO.path, auth=False, cap=parse.INFO.cap)
        if answer.status in (401, 403):
            raise AuthError(
                f"gateway {self.client.base_url} refused /info (HTTP {answer.status}): check ENVOY_HOST, "
                f"ENVOY_SERIAL and the token"
            )
        if 300 <= answer.status < 400:  # firmware 7+ sends http:// to https://
            raise DataError(
                f"gateway {self.client.base_url}/info answered a redirect (HTTP {answer.status}): "
                f"give ENVOY_HOST as https://host (or host alone)"
            )
        if answer.status != 200:
            raise DataError(
                f"gateway {self.client.base_url}/info answered HTTP {answer.status}; is ENVOY_HOST an IQ Gateway?"
            )
        info = parse.parse_info(answer.text)
        self.client.confirm_gateway()  # only now: a wrong host that speaks HTTPS is never pinned
        return info

    def _read(self) -> Reading:
        info = self.info = self._info()
        serial = self.serial = self.settings.gateway.serial or info.serial
        if self.settings.gateway.serial and self.settings.gateway.serial != info.serial:
            log.warning(
                "ENVOY_SERIAL=%s but the gateway at ENVOY_HOST reports serial %s; a token (or the "
                "digest password) is for ENVOY_SERIAL",
                self.settings.gateway.serial,
                info.serial,
            )
        log.debug("gateway serial %s firmware %s metered %s", info.serial, info.firmware_text, info.imeter)
        if info.needs_token:
            with self.client.paused():  # Enlighten's time is not the gateway's
                self.client.set_token(self.tokens.token(serial))
            self._check_jwt()
        else:
            self.client.use_digest(serial)
        try:
            found = self._source_rule(info)
        except parse.NoReading as exc:
            if self.refused_with_token:
                if self.renewed:  # remembered: no new token is asked for within the hour
                    self.tokens.fresh_token_refused(serial, ", ".join(self.refused_with_token))
                raise AuthError(
                    f"gateway (firmware {info.firmware_text}) accepted the token at /auth/check_jwt but refused "
                    f"{', '.join(self.refused_with_token)} and gave no reading: the token's account may not "
                    f"have access to this gateway's data (use the owner's account, or an ENVOY_TOKEN for it)"
                ) from None
            if exc.refused:
                raise AuthError(
                    f"gateway (firmware {info.firmware_text}) refused {', '.join(exc.refused)} and gave no "
                    f"reading: check ENVOY_SERIAL (digest password = its last 6 digits)"
                ) from None
            raise
        reading = Reading.of(datetime.now(timezone.utc), found.source, found.values, found.grid)
        log.info(
            "gateway %s firmware %s: source %s, lifetime %s Wh, now %s W (%.1f s)",
            serial,
            info.firmware_text,
            found.source,
            found.values.wattHoursLifetime,
            found.values.wattsNow,
            self.client.elapsed(),
        )
        return reading

    def _source_rule(self, info: parse.GatewayInfo) -> parse.Found:
        """The source rule. When every production path refused a token /auth/check_jwt had accepted (not
        the one-path quirk of 7.0.88: nothing at all), the token is renewed once and the rule asked again."""
        try:
            return parse.read(info, self._answer)
        except parse.NoReading:
            if not self.refused_with_token or self.renewed:
                raise
        self._renew(parse.Answer(401, "", info.firmware), self.refused_with_token[0])
        self.refused_with_token = []
        self._check_jwt(renew=False)
        return parse.read(info, self._answer)

    def _check_jwt(self, renew: bool = True) -> None:
        """Firmware 7+: the gateway validates the token and answers a session cookie. A 401 here renews the
        token once; a 404 (firmware that has no such path) leaves the token unchecked."""
        answer = self.client.check_jwt()
        if self._refused(answer) and renew and not self.renewed:
            self._renew(answer, answer.path)
            answer = self.client.check_jwt()
        if self._refused(answer):
            assert self.serial is not None
            raise self.tokens.fresh_token_refused(self.serial, answer.path)
        self.token_accepted = answer.status == 200

    def _refused(self, answer: Answer) -> bool:
        assert self.info is not None
        return parse.unauthorized(parse.Answer(answer.status, answer.text, self.info.firmware))

    def _renew(self, answer: Answer | parse.Answer, path: str) -> None:
        log.info("gateway answered %s to %s; renewing the token once", answer.status, path)
        self.renewed = True
        assert self.serial is not None
        with self.client.paused():
            self.client.set_token(self.tokens.renew_after_rejection(self.serial))

    def _answer(self, endpoint: parse.Endpoint) -> parse.Answer:
        """What the gateway answers at ``endpoint``. A 401 where /auth/check_jwt did not vouch for the token
        (firmware 7+ without that path) renews once per run and asks again."""
        assert self.info is not None
        answer = self.client.get(endpoint.path, cap=endpoint.cap)
        if (
            self.info.needs_token
            and not self.token_accepted
            and not self.renewed
            and not endpoint.optional
            and self._refused(answer)
        ):
            self._renew(answer, answer.path)
            answer = self.client.get(endpoint.path, cap=endpoint.cap)
            if self._refused(answer):
                assert self.serial is not None
                raise self.tokens.fresh_token_refused(self.serial, answer.path)
        if self.token_accepted and not endpoint.optional and self._refused(answer):
            log.info(
                "gateway answered %s to %s despite the accepted token: taken as absent", answer.status, answer.path
            )
            self.refused_with_token.append(answer.path)
        return parse.Answer(answer.status, answer.text, self.info.firmware, self.token_accepted)


EXAMPLE_HOST = "envoy.local"  # ENVOY_HOST's default and .env.example's value


def unset_hint() -> str:
    """ENVOY_HOST is the default and no .env was read: name the file the settings go in (beside the scripts
    in a checkout, ~/.config/homepower/.env when installed: docs/install.md)."""
    if checkout_dir() is not None:
        where, target = "beside the scripts", ".env"
    else:
        target = str(env_file(default_base_dir(), os.environ) or ".env")
        where = f"at {target}"
    return (
        f"no .env was found {where} and ENVOY_HOST is the default envoy.local: copy .env.example "
        f"to {target} and set ENVOY_HOST to your gateway's address"
    )


def read_gateway(settings: PollerSettings, once: bool = False) -> Reading:
    """One reading of the gateway; ``once``: no retrying an unreachable gateway (a person's --dry-run)."""
    if settings.gateway.host_unset and sys.stderr.isatty():
        _to_terminal(f"note: {unset_hint()}")
    return GatewayReader(settings, once=once).read()


# -- storing --------------------------------------------------------------------------------------


def _connect(settings: PollerSettings) -> CoreStore:
    # After argument parsing (keeps --help light). The core alone: a poll upserts and inserts, and
    # the query modules of the collector, the report and --status would only cost its start-up.
    from homepower.store.core import Database

    return Database.connect(settings.database, settings.timezone)


def store_readings(store: CoreStore, readings: Iterable[Reading], tz: ZoneInfo, commit: bool = True) -> int:
    """Upsert readings (last one wins within a second), committed unless ``commit`` is False. Stored
    ``BATCH`` at a time in the one transaction: a long spool or replay is never held whole."""
    rows: dict[datetime, dict] = {}
    count = 0
    for reading in readings:
        rows[reading.ts_utc] = reading.to_row(tz)
        if len(rows) >= BATCH:
            count += store.upsert(TABLE, list(rows.values()), commit=False)
            rows = {}
    count += store.upsert(TABLE, list(rows.values()), commit=False)
    if commit:
        store.commit()
    return count


def poll_once(settings: PollerSettings) -> Reading:
    """Read the gateway and store the reading (and the spool first). Raises HomepowerError."""
    with lock.hold(settings.state_dir):
        try:
            store = _connect(settings)
        except StoreUnavailable as exc:
            _spool_instead(settings.state_dir, read_gateway(settings), exc)
        with store:
            return _poll_into(store, settings)


def _poll_into(store: CoreStore, settings: PollerSettings) -> Reading:
    """The spool and a new reading into ``store``; a gateway that fails still lets the spool be stored."""
    found = spool.Found()
    gateway_error: HomepowerError | None = None
    reading: Reading | None = None
    store_error: StoreUnavailable | None = None
    if settings.gateway.host_unset and sys.stderr.isatty():
        _to_terminal(f"note: {unset_hint()}")
    reader = GatewayReader(settings)
    try:
        try:
            reading = reader.read(keep_open=settings.gateway.inverters)
        except HomepowerError as exc:
            gateway_error = exc
        batch = itertools.chain(spool.each(settings.state_dir, found), [reading] if reading else [])
        try:
            with reader.client.paused():  # the database's time, not the gateway's: the panels keep theirs
                store_readings(store, batch, settings.timezone)
            if found.count or found.bad or found.torn:
                spool.clear(settings.state_dir, found.bad, found.torn)
            if found.count:
                log.info("stored %d spooled reading(s)", found.count)
        except StoreUnavailable as exc:
            store_error = exc
        if reading is not None and store_error is None and settings.gateway.inverters:
            reader.panels(store, reading.ts_utc)  # the reading is stored: nothing here can cost it
    finally:
        reader.close()
    if gateway_error is not None:
        raise gateway_error
    assert reading is not None
    if store_error is not None:
        _spool_instead(settings.state_dir, reading, store_error)
    if found.bad:
        raise DataError(
            f"{len(found.bad)} spool line(s) could not be understood and were set aside in "
            f"{settings.state_dir / spool.REJECTED_FILE}; the new reading and the rest of the spool were stored"
        )
    return reading


def _spool_instead(state_dir: Path, reading: Reading, store_error: StoreUnavailable) -> NoReturn:
    """The database did not take ``reading``: keep it in the spool for the next run, and say so (exit 75,
    or 78 when the database rejects the credentials or lacks the database: the same class of error)."""
    try:
        path = spool.append(state_dir, [reading])
    except HomepowerError as exc:
        exc.add_note(f"the reading was not stored either: {store_error}")
        raise exc from store_error
    store_error.add_note(
        f"the reading of {reading.ts_utc:%Y-%m-%d %H:%M:%S} UTC was spooled in {path} "
        "and will be stored by the next run"
    )
    raise store_error


# -- replay ----------------------------------------------------------------------------------------


def parse_start(text: str, tz: ZoneInfo) -> datetime:
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


WHOLE_MAX = 4 * 1024 * 1024  # a pretty-printed record or the recapture layout (a month of 5-minute bodies: 1.3 MB)
BATCH = 2000  # readings per upsert while replaying: memory stays flat however long the file


def read_replay(path: Path | str, tz: ZoneInfo, start: str | None = None, step: float | None = None) -> list[Reading]:
    """Every reading of a replay file, or DataError (nothing is stored from a file with a bad line)."""
    readings = list(iter_replay(path, tz, start, step))
    if not readings:
        raise DataError(f"{path} holds no readings; nothing stored")
    return readings


def iter_replay(
    path: Path | str, tz: ZoneInfo, start: str | None = None, step: float | None = None
) -> Iterator[Reading]:
    """The readings of a replay file one at a time (JSON lines are read a line at a time), raising
    DataError at the first line that is not one."""
    try:
        handle = open(path, encoding="utf-8-sig")  # a BOM from a Windows editor is not data
    except FileNotFoundError:
        raise UsageError(f"--replay {path}: no such file") from None
    except OSError as exc:
        raise DataError(f"--replay {path} cannot be read: {exc.__class__.__name__}; nothing stored") from None
    try:
        with handle:
            yield from _replay_records(path, handle, tz, start, step)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--replay {path} cannot be read: {exc.__class__.__name__}; nothing stored") from None


def _replay_records(
    path: Path | str, handle: TextIO, tz: ZoneInfo, start: str | None, step: float | None
) -> Iterator[Reading]:
    first = _first_line(handle)
    whole = None
    if first.lstrip().startswith("{"):
        try:
            whole = json.loads(first)
        except RecursionError:
            raise DataError(
                f"{path} line 1: JSON nested too deep to be a reading; nothing stored from this file"
            ) from None
        except ValueError:  # the first line is not a whole record: one document over several lines
            whole = _whole_document(path, handle)
    if isinstance(whole, dict) and "data" in whole and "body" not in whole:
        yield from _recapture(path, whole, tz, start, step)
        return
    if start is not None or step is not None:
        raise UsageError('--start and --step apply only to the recapture layout {"data": [...]}')
    if isinstance(whole, dict) and not first.strip().endswith("}"):
        try:
            yield from_record(whole)  # one record, pretty-printed over several lines
        except DataError as exc:
            raise DataError(f"{path}: {_why(exc)}; nothing stored from this file") from None
        return
    handle.seek(0)
    number = 0
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise DataError(f"{path} line {number}: longer than {MAX_LINE // 1024} KiB, not a reading; nothing stored")
        if not line.strip():
            continue
        try:
            yield from_line(line)
        except DataError as exc:
            raise DataError(f"{path} line {number}: {_why(exc)}; nothing stored from this file") from None


def _first_line(handle: TextIO) -> str:
    """The first line that is not blank (at most MAX_LINE characters), the handle left after it."""
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line or line.strip():
            return line


def _whole_document(path: Path | str, handle: TextIO) -> Any:
    handle.seek(0)
    text = handle.read(WHOLE_MAX + 1)
    if len(text) > WHOLE_MAX:
        raise DataError(
            f"{path} is one JSON document larger than {WHOLE_MAX // 1024 // 1024} MiB: split it into JSON "
            f"lines (one reading per line); nothing stored"
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise DataError(f"{path} holds JSON nested too deep to be readings; nothing stored") from None
    except ValueError:
        raise DataError(f"{path} line 1: not JSON; nothing stored from this file") from None


def _why(exc: Exception) -> str:
    return str(exc).removesuffix("; nothing stored")  # the file's message says it once


def _recapture(path: Path | str, whole: dict, tz: ZoneInfo, start: str | None, step: float | None) -> Iterator[Reading]:
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
    for index, body in enumerate(bodies):
        try:
            ts = first + timedelta(minutes=step * index)
        except OverflowError:
            raise UsageError("--step is too large: the readings would fall beyond the calendar") from None
        try:
            yield from_record(body, ts=ts)
        except DataError as exc:
            raise DataError(f"{path} data[{index}]: {_why(exc)}; nothing stored from this file") from None


def replay(settings: PollerSettings, path: Path | str, start: str | None = None, step: float | None = None) -> int:
    """Store every reading of ``path`` in one transaction; returns how many. The spool is stored first.
    The file is read once, a line at a time: a bad line rolls the transaction back, so nothing is stored
    from a file with a bad line (and the spool stays for the next run)."""
    readings = iter_replay(path, settings.timezone, start, step)
    first = next(readings, None)  # a missing file, bad usage or a bad first line: said before any lock
    if first is None:
        raise DataError(f"{path} holds no readings; nothing stored")
    count = 0
    with lock.hold(settings.state_dir):
        try:
            with _connect(settings) as store:  # closed (quietly) on the way out
                found = spool.Found()
                store_readings(store, spool.each(settings.state_dir, found), settings.timezone, commit=False)
                batch: list[Reading] = []
                try:
                    for reading in itertools.chain((first,), readings):
                        batch.append(reading)
                        count += 1
                        if len(batch) >= BATCH:
                            store_readings(store, batch, settings.timezone, commit=False)
                            batch = []
                except HomepowerError:
                    store.rollback()
                    raise
                store_readings(store, batch, settings.timezone, commit=False)
                store.commit()
                spool.clear(settings.state_dir, found.bad, found.torn)
        except StoreUnavailable as exc:  # one transaction: none of the file went in
            exc.add_note(f"nothing stored from {path}; replay it again later")
            raise
    log.info("replayed %d reading(s) from %s", count, path)
    return count
