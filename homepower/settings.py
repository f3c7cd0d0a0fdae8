"""Every setting of the contract, read and validated in one place.

Order of precedence: CLI flags (passed as ``overrides``) > the real environment > ``.env`` beside the
scripts (python-dotenv) > defaults. A bad value raises ``ConfigError`` (exit 78) naming the setting and
what it accepts. This module is light (stdlib + python-dotenv) so the poller can import it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from homepower.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Compass points in degrees from north; "O" is Dutch for east (oost).
ORIENTATIONS = {
    "N": 0.0,
    "NE": 45.0,
    "E": 90.0,
    "O": 90.0,
    "SE": 135.0,
    "S": 180.0,
    "SW": 225.0,
    "W": 270.0,
    "NW": 315.0,
}


def parse_orientation(value: str | float, name: str = "PV_ORIENTATION") -> float:
    """Panel azimuth in degrees from north (0..360) from a compass point or a number of degrees."""
    text = str(value).strip().upper()
    if text in ORIENTATIONS:
        return ORIENTATIONS[text]
    try:
        degrees = float(text)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not valid: use one of {' '.join(ORIENTATIONS)} or degrees from north (0-360)"
        ) from None
    if not 0.0 <= degrees <= 360.0:
        raise ConfigError(f"{name}={value!r} is out of range: degrees from north go from 0 to 360")
    return degrees


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the store lives. ``repr`` never shows the password."""

    kind: str  # "sqlite" or "mysql"
    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = field(default="", repr=False)
    database: str = ""

    def describe(self) -> str:
        """A safe one-line description for messages (no password)."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"

    def url(self) -> str:
        """The DATABASE_URL that ``parse_database_url`` reads back as this config. It carries the
        password: for a child process's environment only, never for a message (use ``describe``)."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        auth = quote(self.user, safe="") + (f":{quote(self.password, safe='')}" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{self.database}"

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path, state_dir: Path) -> DatabaseConfig:
        """DATABASE_URL, else the SQLite file homepower.db in STATE_DIR."""
        return parse_database_url(_text(env, "DATABASE_URL") or f"sqlite:///{state_dir / 'homepower.db'}", base_dir)


def parse_database_url(url: str, base_dir: Path = PROJECT_DIR, name: str = "DATABASE_URL") -> DatabaseConfig:
    """``sqlite:///relative/file.db`` (relative to ``base_dir``), ``sqlite:////absolute/file.db`` or
    ``mysql://user:password@host:port/database``."""
    accepted = "use sqlite:///path/to/file.db or mysql://user:password@host:port/database"
    if url.startswith("sqlite:///"):
        raw = url[len("sqlite:///") :]
        if not raw:
            raise ConfigError(f"{name} has no file path: {accepted}")
        path = Path(raw)
        if not path.is_absolute():
            _refuse_absolute_looking(url, raw, base_dir, name)
            path = base_dir / path
        return DatabaseConfig(kind="sqlite", path=path)
    if url.lower().startswith("sqlite:"):
        rest = url[len("sqlite:") :].lstrip("/") or "var/homepower.db"
        raise ConfigError(
            f"{name}={url!r} is not a SQLite URL (sqlite://NAME would name a server, and SQLite has none): the "
            f"file's path follows three slashes, sqlite:///{rest} for a path inside the checkout, or four, "
            f"sqlite:////{rest} for an absolute path"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb", "mysql+mysqlconnector"):
        raise ConfigError(f"{name} has an unknown scheme {parts.scheme!r}: {accepted}")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ConfigError(f"{name} has a bad port: {accepted}") from None
    database = parts.path.lstrip("/")
    if not parts.hostname or not database or "/" in database:
        raise ConfigError(f"{name} needs a host and a database name: {accepted}")
    return DatabaseConfig(
        kind="mysql",
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
    )


CHECKOUT_FOLDERS = ("var",)  # STATE_DIR's default: sqlite:///var/... is the checkout's, as on a fresh clone


def _refuse_absolute_looking(url: str, raw: str, base_dir: Path, name: str) -> None:
    """``sqlite:///tmp/x.db`` is ``<checkout>/tmp/x.db``, which is seldom what was meant: a relative path
    whose first folder is a folder of the machine's root (/tmp, /home, /srv) and not of the checkout is
    refused with the two spellings that say which one is meant (``./`` keeps a path in the checkout)."""
    first = Path(raw).parts[0]
    if raw.startswith(("./", "../")) or first in CHECKOUT_FOLDERS or (base_dir / first).exists():
        return
    if not (Path("/") / first).is_dir():
        return
    raise ConfigError(
        f"{name}={url!r} names {base_dir / raw}, inside the checkout (three slashes: a relative path), but /{first} "
        f"is a folder of this machine: for the absolute path write four slashes, sqlite:////{raw}; to keep it in "
        f"the checkout write sqlite:///./{raw}"
    )


def parse_envoy_host(value: str, name: str = "ENVOY_HOST") -> str:
    """A base URL without trailing slash from ``host``, ``host:port`` or ``https://host[:port]``."""
    text = value.strip().rstrip("/")
    if not text:
        raise ConfigError(f"{name} is empty: give the gateway's address, e.g. envoy.local or 192.0.2.10")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    try:
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise ConfigError(f"{name}={value!r} has a bad port: use host, host:port or https://host:port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={value!r} is not valid: use host, host:port or https://host:port")
    return text


def _setting_number(
    env: Mapping[str, str], name: str, default: float, lo: float, hi: float, integer: bool = False
) -> float:
    raw = env.get(name)
    if raw is None or str(raw).strip() == "":
        return int(default) if integer else default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={raw!r} is not {kind} (accepted: {lo:g} to {hi:g})") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={raw!r} is out of range (accepted: {lo:g} to {hi:g})")
    return value


def _timezone(raw: str | None) -> ZoneInfo:
    if raw:
        try:
            return ZoneInfo(raw.strip())
        except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
            raise ConfigError(f"SITE_TIMEZONE={raw!r} is not an IANA time zone (e.g. Europe/Amsterdam, UTC)") from None
    return _system_timezone()


def _system_timezone() -> ZoneInfo:
    tz = os.environ.get("TZ")
    if tz:
        try:
            return ZoneInfo(tz.lstrip(":"))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        match = re.search(r"zoneinfo/(.+)$", target)
        if match:
            return ZoneInfo(match.group(1))
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    timezone_file = Path("/etc/timezone")
    if timezone_file.exists():
        try:
            return ZoneInfo(timezone_file.read_text().strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class Plane:
    """Panels that all face the same way at the same tilt (one line of ``PV_ARRAYS``)."""

    panels: int
    panel_wp: float  # W at 1000 W/m² and 25 °C, each
    azimuth: float  # degrees from north (180 = south)
    tilt: float  # degrees from horizontal

    @property
    def rating_w(self) -> float:
        return self.panels * self.panel_wp


@dataclass(frozen=True)
class PVSettings:
    """The PV installation, shared by ``python -m solar3p`` and the collector.

    One plane is ``panels``/``panel_wp``/``azimuth``/``tilt``. A roof of several planes (PV_ARRAYS) is
    ``arrays``; then those four fields only summarise it (all panels, their mean Wp, the first plane's
    way): read ``planes``, and build a new roof with ``with_planes``, not ``dataclasses.replace``."""

    latitude: float = 51.92
    longitude: float = 4.48
    panels: int = 12
    panel_wp: float = 405.0
    azimuth: float = 135.0  # degrees from north
    tilt: float = 35.0
    losses_pct: float = 14.0
    arrays: tuple[Plane, ...] | None = None  # two or more planes on one inverter system (None: one plane)
    horizon: tuple[float, ...] | None = None  # degrees above the horizontal at evenly spaced azimuths from north

    @property
    def planes(self) -> tuple[Plane, ...]:
        if self.arrays:
            return self.arrays
        return (Plane(self.panels, self.panel_wp, self.azimuth, self.tilt),)

    @property
    def rating_w(self) -> float:
        """The whole installation's watt-peak."""
        return sum(plane.rating_w for plane in self.planes)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PVSettings:
        pv = cls(
            latitude=_setting_number(env, "PV_LATITUDE", 51.92, -90, 90),
            longitude=_setting_number(env, "PV_LONGITUDE", 4.48, -180, 180),
            panels=int(_setting_number(env, "PV_PANELS", 12, 1, 100000, integer=True)),
            panel_wp=_setting_number(env, "PV_PANEL_WP", 405.0, 1, 100000),
            azimuth=parse_orientation(_text(env, "PV_ORIENTATION") or "SE"),
            tilt=_setting_number(env, "PV_TILT", 35.0, 0, 90),
            losses_pct=_setting_number(env, "PV_LOSSES_PCT", 14.0, 0, 99),
        )
        arrays, horizon = _text(env, "PV_ARRAYS"), _text(env, "PV_HORIZON")
        if arrays:  # replaces PV_PANELS, PV_PANEL_WP, PV_ORIENTATION, PV_TILT
            pv = pv.with_planes(parse_arrays(arrays))
        if horizon:
            pv = replace(pv, horizon=parse_horizon(horizon))
        return pv

    def with_planes(self, planes: Sequence[Plane]) -> PVSettings:
        """This installation with the roof ``planes``; one plane is stored the old way (``arrays`` None),
        so it models exactly as PV_PANELS/PV_PANEL_WP/PV_ORIENTATION/PV_TILT would."""
        planes = tuple(planes)
        if not planes:
            raise ValueError("a roof needs at least one plane")
        first = planes[0]
        if len(planes) == 1:
            return replace(
                self, panels=first.panels, panel_wp=first.panel_wp, azimuth=first.azimuth, tilt=first.tilt, arrays=None
            )
        panels = sum(p.panels for p in planes)
        return replace(
            self,
            panels=panels,
            panel_wp=sum(p.rating_w for p in planes) / panels,
            azimuth=first.azimuth,
            tilt=first.tilt,
            arrays=planes,
        )


ARRAYS_EXAMPLE = "8x405@E/30;8x405@W/30"
MAX_PLANES = 50
MAX_HORIZON_VALUES = 3600


def parse_arrays(value: str, name: str = "PV_ARRAYS") -> tuple[Plane, ...]:
    """Planes from ``8x405@E/30;8x405@W/30``: panels x watt-peak @ orientation / tilt, ``;`` between planes.
    A ConfigError names the plane and the part of it that is wrong."""
    text = str(value).strip()
    how = f"write panels x Wp @ orientation / tilt for each plane, ';' between planes, e.g. {ARRAYS_EXAMPLE}"
    if not text:
        raise ConfigError(f"{name} is empty: {how}")
    parts = text.split(";")
    if len(parts) > MAX_PLANES:
        raise ConfigError(f"{name} has {len(parts)} planes, at most {MAX_PLANES}: {how}")
    return tuple(_plane(f"{name} plane {number} {part.strip()!r}", part, how) for number, part in enumerate(parts, 1))


def _plane(where: str, part: str, how: str) -> Plane:
    size, at, way_tilt = part.partition("@")
    if not part.strip():
        raise ConfigError(f"{where} is empty: {how}")
    if not at or "@" in way_tilt:
        raise ConfigError(f"{where} needs one '@' between the size and the orientation: {how}")
    counts = re.split(r"[x×*]", size, flags=re.IGNORECASE)
    if len(counts) != 2:
        raise ConfigError(f"{where} needs one 'x' between the number of panels and their watt-peak: {how}")
    way, slash, tilt_text = way_tilt.partition("/")
    if not slash or "/" in tilt_text:
        raise ConfigError(f"{where} needs one '/' between the orientation and the tilt: {how}")
    panels_text = counts[0].strip()
    if not panels_text:
        raise ConfigError(f"{where} has no number of panels before the 'x': {how}")
    try:
        panels = int(panels_text)
    except ValueError:
        raise ConfigError(f"{where}: the number of panels {panels_text!r} is not a whole number") from None
    if not 1 <= panels <= 100000:
        raise ConfigError(f"{where}: the number of panels {panels_text!r} is out of range (1 to 100000)")
    wp = _plane_number(where, "watt-peak", counts[1], 1, 100000, "W")
    if not way.strip():
        raise ConfigError(f"{where} has no orientation: use one of {' '.join(ORIENTATIONS)} or degrees from north")
    try:
        azimuth = parse_orientation(way.strip(), "orientation")
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    tilt = _plane_number(where, "tilt", tilt_text, 0, 90, "degrees")
    return Plane(panels, wp, azimuth, tilt)


def _plane_number(where: str, what: str, text: str, lo: float, hi: float, unit: str) -> float:
    text = text.strip()
    if not text:
        raise ConfigError(f"{where} has no {what}: write panels x Wp @ orientation / tilt, e.g. 8x405@E/30")
    try:
        number = float(text)
    except ValueError:
        raise ConfigError(f"{where}: the {what} {text!r} is not a number") from None
    if not lo <= number <= hi:  # also refuses nan
        raise ConfigError(f"{where}: the {what} {text!r} is out of range ({lo:g} to {hi:g} {unit})")
    return number


def parse_horizon(value: str, name: str = "PV_HORIZON") -> tuple[float, ...] | None:
    """Horizon heights (degrees, 0-90) at evenly spaced azimuths from north, clockwise:
    ``0,0,15,30,45,30,15,0`` puts 0 at N, 0 at NE, 15 at E, ... None for a flat horizon (all 0)."""
    text = str(value).strip()
    how = "give heights in degrees (0 to 90) at evenly spaced azimuths from north, e.g. 0,0,15,30,45,30,15,0"
    if not text:
        raise ConfigError(f"{name} is empty: {how}")
    parts = text.split(",")
    if len(parts) > MAX_HORIZON_VALUES:
        raise ConfigError(f"{name} has {len(parts)} values, at most {MAX_HORIZON_VALUES}: {how}")
    heights = []
    for number, part in enumerate(parts, start=1):
        try:
            height = float(part)
        except ValueError:
            raise ConfigError(f"{name} value {number} {part.strip()!r} is not a number: {how}") from None
        if not 0.0 <= height <= 90.0:
            raise ConfigError(f"{name} value {number} {part.strip()!r} is out of range: {how}")
        heights.append(height)
    return tuple(heights) if any(heights) else None


@dataclass(frozen=True)
class GatewaySettings:
    """How to reach the gateway and, for its token, Enlighten/Entrez (ENVOY_*, ENLIGHTEN_URL, ENTREZ_URL)."""

    url: str
    user: str | None
    password: str | None = field(repr=False)
    serial: str | None
    token: str | None = field(repr=False)
    enlighten_url: str
    entrez_url: str
    tls: str  # "pin", "insecure" or a CA bundle path
    timeout: float
    retry_s: float
    scheme_given: bool = True  # ENVOY_HOST named http:// or https:// (else the poller may fall back to http)
    host_unset: bool = False  # no .env beside the scripts and no ENVOY_HOST: the default is a guess
    inverters: bool = True  # ENVOY_INVERTERS: read the per-panel endpoints after the reading is stored

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path, dotenv_found: bool) -> GatewaySettings:
        host = _text(env, "ENVOY_HOST")
        tls = _text(env, "ENVOY_TLS") or "pin"
        if tls.lower() in ("pin", "insecure"):
            tls = tls.lower()
        elif not _path(base_dir, tls).is_file():
            raise ConfigError(f"ENVOY_TLS={tls!r} is not pin, insecure or an existing CA bundle file")
        else:
            tls = str(_path(base_dir, tls))
        token = env.get("ENVOY_TOKEN")
        return cls(
            url=parse_envoy_host(host or "envoy.local"),
            user=_text(env, "ENVOY_USER"),
            password=env.get("ENVOY_PASSWORD") or None,
            serial=_text(env, "ENVOY_SERIAL"),
            token="".join(token.split()) if token and token.strip() else None,
            enlighten_url=http_url(env, "ENLIGHTEN_URL", "https://enlighten.enphaseenergy.com"),
            entrez_url=http_url(env, "ENTREZ_URL", "https://entrez.enphaseenergy.com"),
            tls=tls,
            timeout=_setting_number(env, "ENVOY_TIMEOUT", 45.0, 0.1, 600),
            retry_s=_setting_number(env, "ENVOY_RETRY_S", 240.0, 0, 3600),
            scheme_given="://" in (host or ""),
            host_unset=not host and not dotenv_found,
            inverters=_on_off(env, "ENVOY_INVERTERS", True),
        )


@dataclass(frozen=True)
class ForecastSettings:
    """Where the forecast file is and which archived forecast an hour joins (METEO*, FORECAST_*)."""

    meteo_file: Path
    meteoserver_key: str | None = field(repr=False)
    min_lead_h: float = 0.0  # pvhistory joins the last forecast issued at least this long before the hour
    provider: str | None = None  # join only this provider's forecasts (None: any)

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path, state_dir: Path) -> ForecastSettings:
        provider = (_text(env, "FORECAST_PROVIDER") or "any").lower()
        if provider not in FORECAST_PROVIDERS + ("any",):
            raise ConfigError(f"FORECAST_PROVIDER={provider!r} is not one of any, {', '.join(FORECAST_PROVIDERS)}")
        meteo = _text(env, "METEO_FILE")
        return cls(
            meteo_file=_path(base_dir, meteo) if meteo else state_dir / METEO_NAME,
            meteoserver_key=_text(env, "METEOSERVER_KEY"),
            min_lead_h=_setting_number(env, "FORECAST_MIN_LEAD_H", 0.0, 0, 24 * 30),
            provider=None if provider == "any" else provider,
        )


@dataclass(frozen=True)
class MqttBroker:
    """Where ``pv_report.py --publish`` sends the forecast (MQTT_URL). ``repr`` and ``describe`` never show
    the password."""

    host: str
    port: int
    tls: bool = False  # mqtts://: TLS checked against the system's CAs
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """A safe one-line description for messages (no password)."""
        who = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{who}{host}:{self.port}"


MQTT_URL_EXAMPLE = "mqtt://user:password@homeassistant.local:1883"


def _redacted_url(value: str) -> str:
    """``value`` with everything between ``user:`` and the last ``@`` (the password, whatever it holds)
    replaced by ``***``, for a message."""
    text = value.strip()
    at = text.rfind("@")
    if at < 0:
        return text
    head = text[:at]
    start = head.find("://") + 3 if "://" in head else 0
    colon = head.find(":", start)
    return text if colon < 0 else f"{head[:colon]}:***{text[at:]}"


def parse_mqtt_url(value: str, name: str = "MQTT_URL") -> MqttBroker:
    """``mqtt://[user[:password]@]host[:port]`` (port 1883) or ``mqtts://...`` (port 8883); user and
    password percent-encoded where they hold ``@ : /``."""
    shown = _redacted_url(value)
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name}={shown!r} is not a URL like {MQTT_URL_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"{name}={shown!r} must start with mqtt:// or mqtts://, e.g. {MQTT_URL_EXAMPLE}")
    if not parts.hostname:
        raise ConfigError(f"{name}={shown!r} names no broker host, e.g. {MQTT_URL_EXAMPLE}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{name}={shown!r} has a path or query; give only mqtt[s]://[user:password@]host[:port]")
    tls = scheme == "mqtts"
    return MqttBroker(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _topic_prefix(env: Mapping[str, str], name: str, default: str) -> str | None:
    """An MQTT topic prefix: no wildcards, no empty levels at the ends; set but empty means none."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().strip("/")
    if not value:
        return None
    if any(c in value for c in "+#\x00") or "//" in value:
        raise ConfigError(f"{name}={raw!r} is not a topic prefix: no + # or empty levels (e.g. {default})")
    return value


@dataclass(frozen=True)
class PublishSettings:
    """Where the forecast is published (MQTT_URL, MQTT_PREFIX, HA_DISCOVERY_PREFIX)."""

    broker: MqttBroker | None = None  # None: MQTT_URL not set
    prefix: str = "homepower"  # topic prefix of the published states
    discovery_prefix: str | None = "homeassistant"  # Home Assistant's discovery prefix; None: no discovery

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PublishSettings:
        url = _text(env, "MQTT_URL")
        prefix = _topic_prefix(env, "MQTT_PREFIX", "homepower")
        if prefix is None:
            raise ConfigError("MQTT_PREFIX is empty: give the topic prefix of the published states, e.g. homepower")
        return cls(
            broker=parse_mqtt_url(url) if url else None,
            prefix=prefix,
            discovery_prefix=_topic_prefix(env, "HA_DISCOVERY_PREFIX", "homeassistant"),
        )


@dataclass(frozen=True)
class Settings:
    gateway: GatewaySettings
    database: DatabaseConfig
    pv: PVSettings
    forecast: ForecastSettings
    state_dir: Path
    timezone: ZoneInfo
    log_level: str
    # solar3p's calibration: PV_CALIBRATION, else STATE_DIR/solar3p-calibration.json (read when it exists)
    pv_calibration: Path | None = None
    publish: PublishSettings = field(default_factory=PublishSettings)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORECAST_PROVIDERS = ("meteoserver", "open-meteo", "file")
CALIBRATION_NAME = "solar3p-calibration.json"
METEO_NAME = "forecast.json"  # METEO_FILE's default, in STATE_DIR: fetch never writes into the checkout


# Names another file to read instead of ``.env`` beside the scripts; "none" reads no file. The test
# suite, the demo and the bench set "none" so that the owner's .env cannot change what they show.
ENV_FILE = "HOMEPOWER_ENV_FILE"
# Every variable the product reads (the contract's table), and the prefixes of its families.
SETTING_NAMES = (
    "ENVOY_HOST",
    "ENVOY_USER",
    "ENVOY_PASSWORD",
    "ENVOY_SERIAL",
    "ENVOY_TOKEN",
    "ENLIGHTEN_URL",
    "ENTREZ_URL",
    "ENVOY_TLS",
    "ENVOY_TIMEOUT",
    "ENVOY_RETRY_S",
    "ENVOY_INVERTERS",
    "STATE_DIR",
    "DATABASE_URL",
    "SITE_TIMEZONE",
    "METEO_FILE",
    "PV_LATITUDE",
    "PV_LONGITUDE",
    "PV_PANELS",
    "PV_PANEL_WP",
    "PV_ARRAYS",
    "PV_HORIZON",
    "PV_ORIENTATION",
    "PV_TILT",
    "PV_LOSSES_PCT",
    "PV_CALIBRATION",
    "METEOSERVER_KEY",
    "METEOSERVER_URL",
    "OPEN_METEO_URL",
    "OPEN_METEO_HISTORY_URL",
    "FORECAST_MIN_LEAD_H",
    "FORECAST_PROVIDER",
    "LOG_LEVEL",
    ENV_FILE,
    "MQTT_URL",
    "MQTT_PREFIX",
    "HA_DISCOVERY_PREFIX",
)
SETTING_PREFIXES = ("ENVOY_", "ENLIGHTEN_", "ENTREZ_", "PV_", "METEO", "OPEN_METEO_", "FORECAST_", "SOLCAST_")


def is_setting(name: str) -> bool:
    return name in SETTING_NAMES or name.startswith(SETTING_PREFIXES)


def isolated_environ(environ: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """``environ`` (default: this process's) without any project setting and reading no ``.env``, then
    ``settings``: for a child process that must see exactly the settings its caller chose."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if not is_setting(k)}
    env[ENV_FILE] = "none"
    env.update(settings)
    return env


def env_file(base_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """The .env file to read: HOMEPOWER_ENV_FILE, else ``.env`` in ``base_dir``; None for "none"."""
    named = (environ.get(ENV_FILE) or "").strip()
    if named.lower() == "none":
        return None
    return _path(base_dir, named) if named else base_dir / ".env"


def _env_file_exists(base_dir: Path, environ: Mapping[str, str] | None) -> bool:
    path = env_file(base_dir, os.environ if environ is None else environ)
    return path is not None and path.is_file()


def read_environment(base_dir: Path = PROJECT_DIR, environ: Mapping[str, str] | None = None) -> dict:
    """The real environment over the .env file (``env_file``)."""
    environ = os.environ if environ is None else environ
    path = env_file(base_dir, environ)
    merged = {k: v for k, v in dotenv_values(path).items() if v is not None} if path else {}
    merged.update(environ)
    return merged


def http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """The http(s) base URL setting ``name`` (no trailing slash), else ``default``."""
    value = (env.get(name) or default).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL")
    return value


def _on_off(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (_text(env, name) or ("on" if default else "off")).lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{name}={value!r} is not on or off")
    return value == "on"


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def _path(base_dir: Path, raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def load(
    overrides: Mapping[str, object] | None = None,
    base_dir: Path = PROJECT_DIR,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, validate and return every setting. ``overrides`` (CLI flags) win over the environment."""
    env = read_environment(base_dir, environ)
    env.update({k: str(v) for k, v in (overrides or {}).items() if v is not None})

    state_dir = _path(base_dir, _text(env, "STATE_DIR") or "var")
    level = (_text(env, "LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    calibration = _text(env, "PV_CALIBRATION")
    return Settings(
        gateway=GatewaySettings.from_env(env, base_dir, _env_file_exists(base_dir, environ)),
        database=DatabaseConfig.from_env(env, base_dir, state_dir),
        pv=PVSettings.from_env(env),
        forecast=ForecastSettings.from_env(env, base_dir, state_dir),
        state_dir=state_dir,
        timezone=_timezone(_text(env, "SITE_TIMEZONE")),
        log_level=level,
        # Unset: the default file, used only when it exists (see the calibration's readers).
        pv_calibration=_path(base_dir, calibration) if calibration else state_dir / CALIBRATION_NAME,
        publish=PublishSettings.from_env(env),
    )
