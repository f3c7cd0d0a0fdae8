"""``pv_report.py --publish``: the calibrated forecast where the owner plans, over MQTT.

Reads (never writes) the database: the archived forecasts of today and later, the newest calibration, the
last ``pvhistory`` row; asks ``status`` (the code behind ``pv_report.py --status``) whether anything is
wrong; builds the messages (``publish``, pure) and sends them (``mqtt``).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence
from zoneinfo import ZoneInfo

from homepower import publish as P
from homepower.cli import one_line
from homepower.errors import ConfigError, HomepowerError
from homepower.forecast_join import ArchivedForecast
from homepower.settings import MQTT_URL_EXAMPLE, Settings
from solar3p.environment import command

if TYPE_CHECKING:
    from homepower.store import Store

log = logging.getLogger(__name__)

REASON_CHARS = 400  # the problem's reason: one line, bounded whatever the status says


class NoCalibration(ConfigError):
    """No calibration stored yet: the forecast sensors wait for ``history_collector.py --calibrate`` (78)."""


@dataclass(frozen=True)
class Published:
    """What a run sent: the days (for the one line printed) and how many messages."""

    days: list[P.DaySummary]
    messages: int


def newest_per_hour(forecasts: Sequence[ArchivedForecast]) -> list[ArchivedForecast]:
    """The forecast hours to publish: from the first hour given to the end of the newest issue, each
    hour from the newest forecast of it (past hours of today from the last forecast that covered them)."""
    if not forecasts:
        return []
    newest_issue = max(f.issued_utc for f in forecasts)
    end = max(f.ts_utc for f in forecasts if f.issued_utc == newest_issue)
    best: dict[datetime, ArchivedForecast] = {}
    for f in forecasts:
        if f.ts_utc <= end and (
            f.ts_utc not in best or (f.issued_utc, f.provider) > (best[f.ts_utc].issued_utc, best[f.ts_utc].provider)
        ):
            best[f.ts_utc] = f
    return [best[t] for t in sorted(best)]


BAND = (0.1, 0.9)  # P10 and P90 beside the median


def hour_forecasts(rows: Sequence[ArchivedForecast], calibration: Any, tz: ZoneInfo) -> list[P.HourForecast]:
    """The calibrated forecast (median, P10, P90) of each archived forecast hour that has irradiance and
    temperature; the lead time of each is its own issue's. A calibration that learned no spread yet (too
    few days) gives the median alone: the bands are left out, never invented."""
    import numpy as np

    from solar3p.calibrate import features_at
    from solar3p.quantiles import calibrated_kwh

    gaps = [r for r in rows if r.gr_w is None or r.temp is None]
    if gaps:
        first = gaps[0].ts_utc.replace(tzinfo=timezone.utc).astimezone(tz)
        log.warning(
            "%d forecast hour(s) without irradiance or temperature (the first %s) are left out: their day's "
            "totals are short of them",
            len(gaps),
            first.isoformat(timespec="minutes"),
        )
    rows = [r for r in rows if r.gr_w is not None and r.temp is not None]
    if not rows:
        return []

    def unix(t: datetime) -> int:
        return int(t.replace(tzinfo=timezone.utc).timestamp())

    starts = [unix(r.ts_utc) for r in rows]
    feat = features_at(
        calibration,
        np.asarray(starts),
        [r.gr_w for r in rows],
        [r.temp for r in rows],
        tc=[r.tc for r in rows],
        issued=[unix(r.issued_utc) for r in rows],
    )
    local = [datetime.fromtimestamp(s, timezone.utc).astimezone(tz) for s in starts]
    if calibration.spread is None:
        log.warning(
            "the calibration has learned no P10/P90 yet (it needs more days of history): the forecast is "
            "published without its band until %s has them",
            command("history_collector.py --calibrate"),
        )
        return [P.HourForecast(t, q[0]) for t, q in zip(local, calibrated_kwh(calibration, feat), strict=True)]
    # The median as the collector's kwh_fc and python -m solar3p give it (one function makes all three).
    table = calibrated_kwh(calibration, feat, BAND)
    return [P.HourForecast(t, q[0], q[1], q[2]) for t, q in zip(local, table, strict=True)]


def problem_now(conf: Settings, now: datetime) -> P.Problem:
    """``pv_report.py --status``'s verdict: its exit code and the line it would print on stderr."""
    from homepower import status

    out, err = io.StringIO(), io.StringIO()
    try:
        code = status.run_status(conf, now, out=out, err=err)  # reads only, like publishing
    except HomepowerError as exc:
        return P.Problem(exc.exit_code, one_line(exc)[:REASON_CHARS])
    reason = " ".join(err.getvalue().split())[:REASON_CHARS] if code else ""
    return P.Problem(code, reason)


def last_hour(store: Store, tz: ZoneInfo) -> P.LastHour | None:
    """The newest pvhistory row's hour and kwh_pv (None before the first row)."""
    newest = store.newest("pvhistory")
    if newest is None:
        return None
    (row,) = store.hour_states(newest, newest + timedelta(hours=1))
    return P.LastHour(newest.replace(tzinfo=timezone.utc).astimezone(tz), row.kwh_pv)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.replace(tzinfo=timezone.utc).astimezone(tz).date()


def run_publish(conf: Settings, now: datetime) -> Published:
    """Publish; ``now`` naive UTC. Raises the contract's errors (78 no MQTT_URL or no calibration, 69/77
    from the broker, 75 the database)."""
    from homepower import mqtt
    from homepower.calibration import load_calibrations
    from homepower.store import Store

    pub = conf.publish
    if pub.broker is None:
        raise ConfigError(
            f"MQTT_URL is not set: set it to your broker (e.g. MQTT_URL={MQTT_URL_EXAMPLE} in .env) and run "
            f"{command('pv_report.py --publish')} again"
        )
    tz = conf.timezone
    today = local_today(now, tz)
    day_start = datetime(today.year, today.month, today.day, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
    problem = problem_now(conf, now)
    checked = now.replace(tzinfo=timezone.utc)
    messages = [] if pub.discovery_prefix is None else P.discovery_messages(pub.prefix, pub.discovery_prefix)
    try:
        with Store.connect(conf.database, tz, create=False, existing=True) as store:
            store.require_schema()
            forecasts = store.read_forecasts(
                day_start, day_start + timedelta(days=len(P.DAY_SENSORS) + 1), conf.forecast.provider
            )
            calibrations = load_calibrations(store)
            last = last_hour(store, tz)
    except HomepowerError as exc:
        # The database is down or refuses: Home Assistant still learns that something is wrong.
        if not problem.on:
            problem = P.Problem(exc.exit_code, one_line(exc)[:REASON_CHARS])
        try:
            mqtt.send(pub.broker, messages + [P.problem_message(pub.prefix, tz, problem, checked)])
        except HomepowerError as also:
            exc.add_note(f"nor could the problem be published: {one_line(also)}")
        raise
    if not calibrations:
        # The other sensors still go out (Home Assistant shows the problem and the last hour); the forecast
        # sensors are left as they were rather than filled with an uncalibrated number.
        mqtt.send(pub.broker, messages + P.health_messages(pub.prefix, tz, last, problem, checked))
        raise NoCalibration(
            "no calibration yet, so no forecast was published (the problem and last-hour sensors were): "
            f"run {command('history_collector.py --calibrate')} once there are 3 days of history"
        )
    calibration = max(calibrations, key=lambda pair: pair[0])[1]
    hours = hour_forecasts(newest_per_hour(forecasts), calibration, tz)
    days = P.day_summaries(hours, today, tz)
    messages += P.state_messages(pub.prefix, days, tz, last, problem, checked)
    mqtt.send(pub.broker, messages)
    return Published(days, len(messages))


def summary_line(published: Published, where: str) -> str:
    parts = []
    for day in published.days:
        if day.kwh is None:
            parts.append(f"{day.day}: no forecast")
            continue
        band = f" (P10 {day.p10:.1f}, P90 {day.p90:.1f})" if day.p10 is not None and day.p90 is not None else ""
        parts.append(f"{day.day}: {day.kwh:.1f} kWh{band}")
    return f"published to {where} ({published.messages} retained messages): " + "; ".join(parts)
