"""``python -m solar3p fetch --source forecast.solar|solcast``: download a PV forecast service's estimate for
the roof through the project's HTTP client (``netio``), convert it to hourly kWh and write the PV forecast
file (``pvfile``) atomically, stamped with the moment of the download. Nothing is written on any error.

The conversions are pure (``forecast_solar``, ``solcast``); this module is the edge: settings, requests,
what each HTTP status means for the owner, and the one line a run prints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo

import netio
from netio.client import Conversation, Reply
from solar3p.environment import http_url
from solar3p.errors import ConfigError
from solar3p.providers import forecast_solar as fs
from solar3p.providers import pvfile
from solar3p.providers import solcast as sc

DEADLINE_S = 60.0  # one fetch, every plane or site included
CAP_BYTES = 1024 * 1024  # a week of Solcast half-hours is ~50 KB, a Forecast.Solar estimate a few KB
FORECAST_SOLAR_KEY_HELP = (
    "leave FORECAST_SOLAR_KEY empty for the public plan, or copy the key of your subscription from forecast.solar"
)
SOLCAST_KEY_HELP = "get a free hobbyist key at toolkit.solcast.com.au (Register, Home User: Your API Key)"
SOLCAST_SITE_HELP = (
    "add your roof as a rooftop site at toolkit.solcast.com.au and copy its Resource Id (several: comma-separated)"
)


class PlaneLike(Protocol):
    # Read-only (properties): solar3p.plant.Plane is a frozen dataclass.
    @property
    def panels(self) -> int: ...

    @property
    def panel_wp(self) -> float: ...

    @property
    def azimuth(self) -> float: ...  # degrees from north

    @property
    def tilt(self) -> float: ...


@dataclass(frozen=True)
class ServiceSettings:
    """FORECAST_SOLAR_URL, FORECAST_SOLAR_KEY, SOLCAST_URL, SOLCAST_KEY, SOLCAST_SITE."""

    forecast_solar_url: str = fs.DEFAULT_URL
    forecast_solar_key: str | None = field(default=None, repr=False)
    solcast_url: str = sc.DEFAULT_URL
    solcast_key: str | None = field(default=None, repr=False)
    solcast_sites: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceSettings:
        def text(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def url(name: str, default: str) -> str:
            return http_url(env, name, default)

        key = text("FORECAST_SOLAR_KEY")
        if key is not None and not key.isalnum():
            raise ConfigError(
                f"FORECAST_SOLAR_KEY is not a Forecast.Solar key (letters and digits only): {FORECAST_SOLAR_KEY_HELP}"
            )
        try:
            sites = tuple(sc.site_ids(text("SOLCAST_SITE")))
        except ValueError as exc:
            raise ConfigError(f"SOLCAST_SITE: {exc}") from None
        return cls(
            url("FORECAST_SOLAR_URL", fs.DEFAULT_URL),
            key,
            url("SOLCAST_URL", sc.DEFAULT_URL),
            text("SOLCAST_KEY"),
            sites,
        )


@dataclass(frozen=True)
class Written:
    """What a fetch wrote, and the one line that says so."""

    service: str
    path: Path
    forecast: pvfile.PVForecast
    parts_word: str  # "plane" or "site"
    tz: ZoneInfo
    left_out: int = 0
    calls_left: str | None = None

    def line(self) -> str:
        hours = self.forecast.hours
        span = ""
        if hours:
            first = datetime.fromtimestamp(hours[0].time, self.tz).strftime("%Y-%m-%d %H:%M")
            last = datetime.fromtimestamp(hours[-1].time, self.tz).strftime("%Y-%m-%d %H:%M")
            span = f" ({first} to {last} {self.tz.key}, {self.forecast.total_kwh:.1f} kWh)"
        parts = self.forecast.parts
        summed = f", {parts} {self.parts_word}s summed" if parts > 1 else ""
        extra = [f"{self.left_out} hour(s) with only part of their half-hours left out"] if self.left_out else []
        if self.calls_left:
            extra.append(self.calls_left)
        tail = f"; {'; '.join(extra)}" if extra else ""
        return f"wrote {len(hours)} forecast hours{span} from {self.service}{summed} to {self.path}{tail}"


def _at(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {tz.key}"


def _scrub(text: str | None, secret: str | None) -> str | None:
    return text.replace(secret, "***") if text and secret else text


def _bad(err_service: str, reply: Reply, why: str) -> netio.BadAnswer:
    return netio.BadAnswer(why, service=err_service, url=reply.url, status=reply.status, hint="nothing written")


# -- Forecast.Solar -----------------------------------------------------------------------------------
def _ask(
    talk: Conversation,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    limit: Callable[[netio.ServerError], netio.ServerError],
) -> Reply:
    """One GET of a PV service: a 429 told by ``limit`` (the quota and when to try again), any other
    server error as it is, with nothing written."""
    try:
        return talk.get(url, cap=CAP_BYTES, params=params, headers=headers)
    except netio.ServerError as err:
        if err.status == 429:
            raise limit(err) from err
        raise err.with_hint("nothing written; try again later") from None


def _no_hours(service: str, url: str, what: str) -> netio.BadAnswer:
    """An answer that parsed but held no forecast hour: nothing is written over the last good file."""
    return netio.BadAnswer(
        f"answered no {what}", service=service, url=url, status=200, hint="nothing written; try again later"
    )


def _forecast_solar_limit(err: netio.ServerError, tz: ZoneInfo, key: str | None) -> netio.ServerError:
    """A 429 told as the limit and when to try again."""
    try:
        document = fs.decode(err.body)
    except fs.AnswerError:
        document = {}
    limit = fs.parse_ratelimit(document, err.headers)
    retry_at = limit.retry_at if limit else None
    if retry_at is None and err.retry_after is not None:
        retry_at = datetime.fromtimestamp(time.time() + err.retry_after, timezone.utc)
    plan = limit.describe() if limit else f"{fs.PUBLIC_LIMIT} calls per hour"
    zone = f" for {limit.zone}" if limit and limit.zone else ""
    when = f"try again after {_at(retry_at, tz)}" if retry_at else "try again within the hour"
    said = _scrub(fs.message_text(document), key)
    why = f"refused the call (HTTP 429{': ' + said if said else ''}): its rate limit of {plan}{zone} is used up"
    return netio.ServerError(
        why,
        retry_after=err.retry_after,
        service=fs.SERVICE,
        url=err.url,
        status=429,
        reason="rate limit",
        hint=f"{when}; the cron lines in crontab.example stay within it",
    )


def _forecast_solar_short(limit: fs.Ratelimit, planes: int, asked: int, url: str, tz: ZoneInfo) -> netio.ServerError:
    """Too few calls left for the planes still to ask: stop before the service refuses them."""
    zone = f" for {limit.zone}" if limit.zone else ""
    return netio.ServerError(
        f"has {limit.remaining} of its {limit.describe()}{zone} left, too few for the {planes - asked} more "
        f"plane(s) of {planes} (one call each)",
        service=fs.SERVICE,
        url=url,
        reason="rate limit",
        hint=f"nothing written; try again within the hour ({limit.period_s or 3600} s window)"
        if limit.retry_at is None
        else f"nothing written; try again after {_at(limit.retry_at, tz)}",
    )


def _forecast_solar_too_many(planes: int, plan: str) -> ConfigError:
    """More planes than the plan has calls in its window: no run can ever download them all."""
    return ConfigError(
        f"PV_ARRAYS has {planes} planes, one Forecast.Solar call each, but the plan allows {plan}: join planes of "
        "the same orientation and tilt in PV_ARRAYS, or set FORECAST_SOLAR_KEY of a plan with more calls"
    )


def _forecast_solar_reply(reply: Reply, key: str | None) -> fs.Estimate:
    said = None
    if reply.status != 200:
        try:
            said = _scrub(fs.message_text(fs.decode(reply.body)), key)
        except fs.AnswerError:
            said = None
    detail = f"HTTP {reply.status}" + (f": {said}" if said else "")
    if reply.status in (401, 403):
        raise netio.Refused(
            f"refused the key ({detail})",
            service=fs.SERVICE,
            url=reply.url,
            status=reply.status,
            hint=FORECAST_SOLAR_KEY_HELP,
        )
    if reply.status in (400, 404, 422):
        raise netio.Misconfigured(
            f"refused the request ({detail})",
            service=fs.SERVICE,
            url=reply.url,
            status=reply.status,
            hint="check FORECAST_SOLAR_URL, PV_LATITUDE, PV_LONGITUDE, PV_ARRAYS (or PV_TILT, PV_ORIENTATION)",
        )
    if reply.status != 200:
        raise _bad(fs.SERVICE, reply, f"answered HTTP {reply.status}, not an estimate" + (f" ({said})" if said else ""))
    try:
        return fs.parse_estimate(fs.decode(reply.body))
    except fs.AnswerError as exc:
        looks = " (an HTML page?)" if reply.body.lstrip()[:1] == b"<" else ""
        raise _bad(fs.SERVICE, reply, f"sent an answer that is no estimate: it {exc}{looks}") from exc


def fetch_forecast_solar(
    services: ServiceSettings,
    planes: Sequence[PlaneLike],
    latitude: float,
    longitude: float,
    horizon: Sequence[float] | None,
    tz: ZoneInfo,
    out: Path,
    timeout: float | None = None,
) -> Written:
    pvfile.check_writable(out)
    key = services.forecast_solar_key
    if not key and len(planes) > fs.PUBLIC_LIMIT:
        raise _forecast_solar_too_many(len(planes), f"{fs.PUBLIC_LIMIT} calls per hour (the public plan)")
    base = services.forecast_solar_url + (f"/{key}" if key else "")
    params = fs.query(horizon)
    per_plane: list[dict[int, float]] = []
    last: fs.Estimate | None = None
    with Conversation(fs.SERVICE, timeout or DEADLINE_S, secrets=(key,) if key else ()) as talk:
        for number, plane in enumerate(planes):
            if last is not None and last.ratelimit is not None and last.ratelimit.limit is not None:
                if last.ratelimit.limit < len(planes):  # never whole, however long one waits
                    raise _forecast_solar_too_many(len(planes), last.ratelimit.describe())
            if last is not None and last.ratelimit is not None and last.ratelimit.remaining is not None:
                if last.ratelimit.remaining < len(planes) - number:  # the rest would end in a 429: spare them
                    raise _forecast_solar_short(last.ratelimit, len(planes), number, talk.shown(base), tz)
            request = fs.plane_request(plane.panels, plane.panel_wp, plane.azimuth, plane.tilt)
            reply = _ask(
                talk,
                f"{base}/{request.path(latitude, longitude)}",
                params,
                {"Accept": "application/json"},
                lambda err: _forecast_solar_limit(err, tz, key),
            )
            last = _forecast_solar_reply(reply, key)
            per_plane.append(fs.hourly_kwh(last.periods))
        issued = int(time.time())
    hours = fs.sum_planes(per_plane)
    if not hours:
        raise _no_hours(fs.SERVICE, talk.shown(f"{base}/estimate"), "forecast hour (an empty watt_hours_period)")
    forecast = pvfile.PVForecast(
        fs.PROVIDER, issued, tuple(pvfile.PVHour(t, kwh) for t, kwh in hours.items()), len(per_plane)
    )
    pvfile.write(out, forecast)
    left = None
    if last is not None and last.ratelimit is not None and last.ratelimit.remaining is not None:
        left = f"{last.ratelimit.remaining} of {last.ratelimit.describe()} left"
    return Written(fs.SERVICE, out, forecast, "plane", tz, calls_left=left)


# -- Solcast ------------------------------------------------------------------------------------------
def _solcast_limit(err: netio.ServerError, tz: ZoneInfo, key: str, calls: int) -> netio.ServerError:
    try:
        code, said = sc.error_of(json.loads(err.body))
    except (ValueError, RecursionError):
        code, said = None, None
    said = _scrub(said, key)
    daily = code == "TooManyRequests" or (said is not None and "limit" in said.lower())
    if daily:
        reset = sc.next_reset(datetime.now(timezone.utc))
        why = (
            f"refused the call (HTTP 429{': ' + said if said else ''}): the key's daily limit "
            f"({sc.HOBBYIST_LIMIT} calls a day for a hobbyist key) is used up"
        )
        hint = (
            f"it starts again at 00:00 UTC: try again after {_at(reset, tz)}; each fetch costs {calls} call(s) "
            f"(one per site), and the cron line in crontab.example stays within the limit"
        )
    else:
        why = f"is too busy (HTTP 429{': ' + said if said else ''})"
        when = f"in {err.retry_after:.0f} s" if err.retry_after is not None else "in a few minutes"
        hint = f"try again {when}"
    return netio.ServerError(
        why, retry_after=err.retry_after, service=sc.SERVICE, url=err.url, status=429, reason="rate limit", hint=hint
    )


def _solcast_reply(reply: Reply, key: str, site: str) -> list[sc.HalfHour]:
    said = None
    if reply.status != 200:
        try:
            code, message = sc.error_of(json.loads(reply.body))
            said = _scrub(message or code, key)
        except (ValueError, RecursionError):
            said = None
    detail = f"HTTP {reply.status}" + (f": {said}" if said else "")
    if reply.status in (401, 403):
        raise netio.Refused(
            f"refused SOLCAST_KEY ({detail})",
            service=sc.SERVICE,
            url=reply.url,
            status=reply.status,
            hint=f"check the key: {SOLCAST_KEY_HELP}",
        )
    if reply.status == 404:
        raise netio.Misconfigured(
            f"knows no rooftop site {site} for this key ({detail})",
            service=sc.SERVICE,
            url=reply.url,
            status=404,
            hint=f"check SOLCAST_SITE: {SOLCAST_SITE_HELP}",
        )
    if reply.status != 200:
        raise _bad(sc.SERVICE, reply, f"answered HTTP {reply.status}, not a forecast" + (f" ({said})" if said else ""))
    try:
        return sc.parse_forecasts(reply.json())
    except netio.BadAnswer as exc:
        looks = " (an HTML page?)" if reply.body.lstrip()[:1] == b"<" else ""
        raise _bad(sc.SERVICE, reply, f"sent an answer that is not JSON{looks}") from exc
    except sc.AnswerError as exc:
        raise _bad(sc.SERVICE, reply, f"sent an answer that is no forecast: it {exc}") from exc


def fetch_solcast(services: ServiceSettings, tz: ZoneInfo, out: Path, timeout: float | None = None) -> Written:
    key = services.solcast_key
    if not key:
        raise ConfigError(f"SOLCAST_KEY is not set: {SOLCAST_KEY_HELP}, then set SOLCAST_KEY and SOLCAST_SITE")
    if not services.solcast_sites:
        raise ConfigError(f"SOLCAST_SITE is not set: {SOLCAST_SITE_HELP}")
    pvfile.check_writable(out)
    sites = services.solcast_sites
    per_site: list[dict[int, sc.HourValue]] = []
    left_out = 0
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    with Conversation(sc.SERVICE, timeout or DEADLINE_S, secrets=(key,)) as talk:
        for site in sites:
            reply = _ask(
                talk,
                f"{services.solcast_url}/{sc.forecasts_path(site)}",
                sc.QUERY,
                headers,
                lambda err: _solcast_limit(err, tz, key, len(sites)),
            )
            hours, dropped = sc.hourly(_solcast_reply(reply, key, site), tz)
            per_site.append(hours)
            left_out = max(left_out, dropped)
        issued = int(time.time())
    hours = sc.sum_sites(per_site)
    if not hours:
        url = talk.shown(f"{services.solcast_url}/rooftop_sites")
        raise _no_hours(sc.SERVICE, url, "whole forecast hour (an empty forecasts list)")
    forecast = pvfile.PVForecast(
        sc.PROVIDER,
        issued,
        tuple(pvfile.PVHour(t, v.kwh, v.kwh_p10, v.kwh_p90) for t, v in hours.items()),
        len(per_site),
    )
    pvfile.write(out, forecast)
    calls = f"{len(sites)} call(s) of the key's {sc.HOBBYIST_LIMIT} a day (hobbyist)"
    return Written(sc.SERVICE, out, forecast, "site", tz, left_out, calls)
