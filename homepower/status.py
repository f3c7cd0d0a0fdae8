"""``pv_report.py --status``: the installation's health in a few lines, for a person or a monitor.

Exit 0 when readings and forecasts are fresh, 69 when either is stale (which, and since when, on stderr),
75 when the database does not answer (the files' part is printed first: a growing spool says why).
Nothing secret is printed: the token's expiry is read from its JWT claims, never the token.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from homepower.errors import EX_UNAVAILABLE, HomepowerError, StoreRejected, StoreUnavailable
from homepower.settings import Settings
from solar3p.environment import command

if TYPE_CHECKING:
    from homepower.store import Store

READING_STALE = timedelta(hours=2)  # polls run every 5 minutes (or hourly); the nightly outage lasts minutes
FORECAST_STALE = timedelta(hours=36)  # a forecast fetched at least daily
HISTORY_BEHIND = timedelta(hours=3)  # the collector runs hourly
RECENT_HOURS = 48
COLLECT_GRACE = timedelta(minutes=30)  # the collector runs at minute 3: an hour that just ended is not late yet


def age(delta: timedelta) -> str:
    """A duration as a person says it: 40 s, 12 min, 5.2 h, 3 days."""
    s = delta.total_seconds()
    sign = "-" if s < 0 else ""  # a time in the future: the clock of this box or of the data is wrong
    s = abs(s)
    if s < 90:
        return f"{sign}{s:.0f} s"
    if s < 90 * 60:
        return f"{sign}{s / 60:.0f} min"
    if s < 48 * 3600:
        return f"{sign}{s / 3600:.1f} h"
    return f"{sign}{s / 86400:.0f} days"


def utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@dataclass
class Status:
    lines: list[tuple[str, str]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)  # a panel silent or low, by name

    def add(self, title: str, text: str) -> None:
        self.lines.append((title, text))

    def render(self) -> str:
        return "".join(f"  {title:<20}{text}\n" for title, text in self.lines)


# -- the files in STATE_DIR -------------------------------------------------------------------------
def spool_text(state_dir: Path) -> str:
    from homepower.spool import spool_path

    path = spool_path(state_dir)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "empty"
    except OSError as exc:
        return f"cannot be read ({exc.strerror}): {path}"
    if size == 0:
        return "empty"
    lines = 0
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                lines += chunk.count(b"\n")
    except OSError as exc:
        return f"{size} bytes, cannot be read ({exc.strerror}): {path}"
    return f"{lines} reading(s) waiting for the database ({size / 1024:.1f} KiB) in {path}"


def token_text(conf: Settings, now: datetime) -> str:
    from homepower.enlighten import cache_path, jwt_exp

    parts = []
    if conf.gateway.token:
        parts.append("ENVOY_TOKEN " + _expiry(jwt_exp(conf.gateway.token), now))
    path = cache_path(conf.state_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        data = None
    except (OSError, ValueError):
        parts.append(f"the cache {path} cannot be read")
        data = None
    if isinstance(data, dict) and isinstance(data.get("token"), str):
        parts.append("cached token " + _expiry(jwt_exp(data["token"]), now))
    elif data is not None:
        parts.append(f"the cache {path} holds no token")
    if not parts:
        return "none yet (the first poll of a firmware 7+ gateway obtains one)"
    return "; ".join(parts)


def _expiry(exp: float | None, now: datetime) -> str:
    if exp is None:
        return "has no readable expiry"
    moment = datetime.fromtimestamp(exp, timezone.utc).replace(tzinfo=None)
    if moment <= now:
        return f"EXPIRED at {utc(moment)} ({age(now - moment)} ago)"
    return f"valid until {utc(moment)} ({age(moment - now)} left)"


def pin_text(conf: Settings) -> str:
    from homepower.tls import pin_path, read_pin

    if conf.gateway.tls == "insecure":
        return "none: ENVOY_TLS=insecure (the certificate is not checked)"
    if conf.gateway.tls != "pin":
        return f"none: verified against the CA bundle {conf.gateway.tls}"
    try:
        pin = read_pin(conf.state_dir)
    except HomepowerError as err:
        return str(err)
    if pin is None:
        return "none yet (the next poll pins the gateway's certificate)"
    return f"SHA-256 {pin[:11]}...{pin[-8:]} ({pin_path(conf.state_dir)})"


# -- the database -----------------------------------------------------------------------------------
def recent_hours(
    status: Status, store: Store, conf: Settings, now: datetime, first: datetime, newest: datetime | None
) -> None:
    """The last RECENT_HOURS hours without kwh_pv, told apart by why: before the first reading (day one),
    ones the stored readings could give (the collector is behind: stale), and the rest (gaps, resets)."""
    rows = {h.ts_utc: h for h in store.hour_states(first, first + timedelta(hours=RECENT_HOURS))}
    oldest = store.newest("enphase_production", oldest=True) if newest is not None else None
    before, could, other = 0, [], 0
    for k in range(RECENT_HOURS):
        start = first + timedelta(hours=k)
        row = rows.get(start)
        if row is not None and row.kwh_pv is not None:
            continue
        end = start + timedelta(hours=1)
        flags = row.flags if row is not None else frozenset()
        if oldest is None or oldest > start:
            before += 1
        elif newest is not None and newest >= end and now - end >= COLLECT_GRACE and "reset" not in flags:
            could.append(start)
        else:
            other += 1
    unknown = before + len(could) + other
    nulls = sum(1 for r in rows.values() if r.kwh_pv is None)
    parts = [f"{nulls} NULL, {unknown - nulls} without a row"]
    if before:
        parts.append(f"{before} before the first reading")
    if could:
        parts.append(f"{len(could)} the stored readings could give")
    if other:
        parts.append(f"{other} without readings to give it (a gap, a counter reset, or the hour just ended)")
    detail = f" ({'; '.join(parts)})" if unknown else ""
    status.add(f"last {RECENT_HOURS} hours", f"{unknown} without kwh_pv{detail}")
    if could:
        local = could[0].replace(tzinfo=timezone.utc).astimezone(conf.timezone)
        status.stale.append(
            f"pvhistory: {len(could)} of the last {RECENT_HOURS} hours lack kwh_pv the stored readings could give "
            f"(from hour {local:%Y-%m-%d %H}:00 local): {command('history_collector.py')} has not built them "
            f"(run it; with the documented cron line its log is {conf.state_dir / 'collector.log'})"
        )


def database_part(status: Status, store: Store, conf: Settings, now: datetime) -> None:
    from homepower.collect import last_completed_start

    reading = store.newest("enphase_production")
    if reading is None:
        status.add("last reading", "none stored yet")
        status.stale.append("readings: none stored yet")
    else:
        status.add("last reading", f"{utc(reading)} ({age(now - reading)} ago)")
        if now - reading > READING_STALE:
            status.stale.append(f"readings: none since {utc(reading)} ({age(now - reading)} ago)")

    last_hour = store.newest("pvhistory")
    if last_hour is None:
        status.add("last pvhistory row", f"none yet ({command('history_collector.py')} builds them hourly)")
    else:
        ended = last_hour + timedelta(hours=1)
        local = last_hour.replace(tzinfo=timezone.utc).astimezone(conf.timezone)
        note = "; the collector seems not to run" if now - ended > HISTORY_BEHIND else ""
        status.add("last pvhistory row", f"hour {local:%Y-%m-%d %H}:00 local, ended {age(now - ended)} ago{note}")

    last = last_completed_start(now, conf.timezone)
    recent_hours(status, store, conf, now, last - timedelta(hours=RECENT_HOURS - 1), reading)

    forecast = store.newest_forecast()
    if forecast is None:
        status.add("newest forecast", "none archived yet")
        status.stale.append("forecasts: none archived yet")
    else:
        issued = forecast.issued_utc
        until = forecast.last + timedelta(hours=1) if forecast.last else None
        cover = f", covering until {utc(until)}" if until else ""
        status.add("newest forecast", f"issued {utc(issued)} ({age(now - issued)} ago) by {forecast.provider}{cover}")
        if now - issued > FORECAST_STALE:
            status.stale.append(f"forecasts: the newest was issued {utc(issued)} ({age(now - issued)} ago)")
        elif until is not None and until <= now:
            status.stale.append(f"forecasts: the newest covers nothing after {utc(until)}")

    calibration = store.last_calibration()
    if calibration is None:
        status.add("last calibration", f"none yet ({command('history_collector.py --calibrate')})")
    else:
        fitted, nmae, hours = calibration.fitted_utc, calibration.nmae_pct, calibration.hours
        what = f"fitted {utc(fitted)} ({age(now - fitted)} ago)"
        if hours is not None:
            what += f" on {hours} h"
        if nmae is not None:
            what += f", in-sample nMAE {nmae:.1f} %"
        status.add("last calibration", what + calibration_state(calibration.params))
    panel_part(status, store, conf, now)


def calibration_state(params: str | None) -> str:
    """What the newest calibration gives the collector: a band, no band yet, or nothing (it skips a row it
    cannot read, keeping the calibration before it: docs/calibration.md)."""
    from homepower.calibration import usable

    cal = usable(params)
    again = command("history_collector.py --calibrate")
    if isinstance(cal, str):
        return f"; NOT USABLE ({cal}): the collector skips it; run {again}"
    if cal.spread is None:
        from solar3p.quantiles import MIN_SPREAD_DAYS

        if cal.days < MIN_SPREAD_DAYS:
            return f"; no P10-P90 band yet: {cal.days} day(s) of history, a band needs {MIN_SPREAD_DAYS}"
        return f"; no P10-P90 band (an older version's): run {again}"
    return f"; P10-P90 band from {cal.spread.hours} held-out hours"


def panel_part(status: Status, store: Store, conf: Settings, now: datetime) -> None:
    """The micro-inverters (where the poll records them): each one silent, or low against its group."""
    from homepower import panel_check

    if not conf.gateway.inverters:  # ENVOY_INVERTERS=off: an old record stops by choice
        return
    health = panel_check.read(store, now - timedelta(days=panel_check.STATUS_DAYS), now, conf.timezone, conf.pv, now)
    if health is None:
        return
    text, problems = panel_check.status_lines(health, now)
    status.add("panels", text)
    status.panels += problems


def run_status(conf: Settings, now: datetime, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Reads only: a monitor may hold a read-only user, and a DATABASE_URL naming another application's
    database must not gain our tables (a missing or old table is a ConfigError saying what to run)."""
    from homepower.store import connect

    out, err = out or sys.stdout, err or sys.stderr
    status = Status()
    files = Status()
    files.add("spool", spool_text(conf.state_dir))
    files.add("token", token_text(conf, now))
    files.add("certificate pin", pin_text(conf))
    try:
        with connect(conf.database, conf.timezone, create=False, existing=True) as store:
            store.require_schema()
            database_part(status, store, conf, now)
    except StoreUnavailable as exc:
        how = "refusing this connection" if isinstance(exc, StoreRejected) else "not answering"
        out.write(f"status at {utc(now)} (database {conf.database.describe()} {how})\n" + files.render())
        out.flush()
        raise
    status.lines += files.lines
    verdict = "STALE" if status.stale else "PANEL PROBLEM" if status.panels else "all fresh"
    out.write(f"status at {utc(now)}: {verdict}\n" + status.render())
    out.flush()
    if status.stale:
        print("stale: " + "; ".join(status.stale), file=err)
    if status.panels:
        print("panels: " + "; ".join(status.panels), file=err)
    return EX_UNAVAILABLE if status.stale or status.panels else 0
