"""Every setting of the contract, read and validated in one place.

Order of precedence: CLI flags (passed as ``overrides``) > the real environment > ``.env`` beside the
scripts (python-dotenv) > defaults. A bad value raises ``ConfigError`` (exit 78) naming the setting and
what it accepts. This module is light (stdlib + python-dotenv) so the poller can import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit

from homepower.errors import ConfigError
from homepower.poller_settings import (
    PROJECT_DIR,
    DatabaseConfig,
    GatewaySettings,
    parse_database_url,
    parse_envoy_host,
)
from solar3p import settings as solar3p_settings
from solar3p.environment import (
    ENV_FILE,
    LOG_LEVELS,
    env_file,
    env_file_exists,
    http_url,
    read_environment,
)
from solar3p.environment import number as _setting_number
from solar3p.environment import text as _text
from solar3p.plant import (
    ARRAYS_EXAMPLE,
    MAX_HORIZON_VALUES,
    MAX_PLANES,
    ORIENTATIONS,
    Plane,
    PVSettings,
    parse_arrays,
    parse_horizon,
    parse_orientation,
)
from solar3p.settings import CALIBRATION_NAME, FORECAST_FILE_PROVIDERS, METEO_NAME, ForecastFile, Solar3pSettings

# The roof model, the .env reading and solar3p's settings live in solar3p (below homepower); these names
# stay importable from here for homepower's code.
__all__ = [
    "ARRAYS_EXAMPLE",
    "CALIBRATION_NAME",
    "ENV_FILE",
    "LOG_LEVELS",
    "MAX_HORIZON_VALUES",
    "MAX_PLANES",
    "METEO_NAME",
    "ORIENTATIONS",
    "DatabaseConfig",
    "ForecastSettings",
    "GatewaySettings",
    "MqttBroker",
    "PublishSettings",
    "PVSettings",
    "Plane",
    "Settings",
    "env_file",
    "http_url",
    "is_setting",
    "isolated_environ",
    "load",
    "parse_arrays",
    "parse_database_url",
    "parse_envoy_host",
    "parse_horizon",
    "parse_mqtt_url",
    "parse_orientation",
    "read_environment",
]


@dataclass(frozen=True)
class ForecastSettings(ForecastFile):
    """solar3p's forecast file, and which archived forecast an hour joins (FORECAST_MIN_LEAD_H, _PROVIDER)."""

    min_lead_h: float = 0.0  # pvhistory joins the last forecast issued at least this long before the hour
    provider: str | None = None  # join only this provider's forecasts (None: any)

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path, state_dir: Path) -> ForecastSettings:
        provider = (_text(env, "FORECAST_PROVIDER") or "any").lower()
        if provider not in FORECAST_PROVIDERS + ("any",):
            raise ConfigError(f"FORECAST_PROVIDER={provider!r} is not one of any, {', '.join(FORECAST_PROVIDERS)}")
        file = ForecastFile.from_env(env, base_dir, state_dir)
        return cls(
            meteo_file=file.meteo_file,
            meteoserver_key=file.meteoserver_key,
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
        who = f"{quote(self.user, safe='')}@" if self.user else ""  # as it is written in MQTT_URL
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


@dataclass(frozen=True, kw_only=True)
class Settings(Solar3pSettings):
    """solar3p's settings (the roof, the forecast file, STATE_DIR, SITE_TIMEZONE, LOG_LEVEL, the
    calibration) and homepower's own: the gateway, the database, the forecast join and publishing."""

    forecast: ForecastSettings
    gateway: GatewaySettings
    database: DatabaseConfig
    publish: PublishSettings = field(default_factory=PublishSettings)


FORECAST_PROVIDERS = FORECAST_FILE_PROVIDERS  # what FORECAST_PROVIDER may name: the providers a forecast file may say


# Every variable the product reads (the contract's table: solar3p's and homepower's), and the prefixes of
# their families.
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
    "DATABASE_URL",
    "FORECAST_MIN_LEAD_H",
    "FORECAST_PROVIDER",
    *solar3p_settings.SETTING_NAMES,
    ENV_FILE,
    "MQTT_URL",
    "MQTT_PREFIX",
    "HA_DISCOVERY_PREFIX",
)
SETTING_PREFIXES = ("ENVOY_", "ENLIGHTEN_", "ENTREZ_", "FORECAST_", *solar3p_settings.SETTING_PREFIXES)


def is_setting(name: str) -> bool:
    return name in SETTING_NAMES or name.startswith(SETTING_PREFIXES)


def isolated_environ(environ: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """``environ`` (default: this process's) without any project setting and reading no ``.env``, then
    ``settings``: for a child process that must see exactly the settings its caller chose."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if not is_setting(k)}
    env[ENV_FILE] = "none"
    env.update(settings)
    return env


def load(
    overrides: Mapping[str, object] | None = None,
    base_dir: Path = PROJECT_DIR,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, validate and return every setting. ``overrides`` (CLI flags) win over the environment."""
    env = solar3p_settings.merged_environment(overrides, base_dir, environ)
    own = Solar3pSettings.from_env(env, base_dir)
    return Settings(
        pv=own.pv,
        forecast=ForecastSettings.from_env(env, base_dir, own.state_dir),
        state_dir=own.state_dir,
        timezone=own.timezone,
        log_level=own.log_level,
        pv_calibration=own.pv_calibration,
        gateway=GatewaySettings.from_env(env, base_dir, env_file_exists(base_dir, environ)),
        database=DatabaseConfig.from_env(env, base_dir, own.state_dir),
        publish=PublishSettings.from_env(env),
    )
