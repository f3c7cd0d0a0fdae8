"""The poller's settings: the gateway, the database, STATE_DIR, SITE_TIMEZONE and LOG_LEVEL, read and
validated as ``homepower.settings`` reads them (the same readers and messages; that module imports these).

A cron poll every few minutes needs nothing else, so it loads these alone: the roof, the forecast file and
publishing (``homepower.settings.load``) and the solar3p modules behind them would only cost its start-up,
and a mistake in one of them must not stop the readings from being collected. Light: stdlib and
``solar3p.environment`` (python-dotenv when a .env exists).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo

from homepower.errors import ConfigError
from solar3p.environment import (
    checkout_dir,
    default_base_dir,
    env_file_exists,
    http_url,
    log_level,
    merged_environment,
    state_dir_of,
    timezone,
)
from solar3p.environment import number as _setting_number
from solar3p.environment import path as _path
from solar3p.environment import text as _text

# Where .env is looked for and relative paths start: the checkout, or the XDG config folder when installed.
PROJECT_DIR = default_base_dir()


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
            f"file's path follows three slashes, sqlite:///{rest} for a path inside {_folder(base_dir)}, or four, "
            f"sqlite:////{rest} for an absolute path"
        )
    try:
        parts = urlsplit(url)
        hostname = parts.hostname  # a bracketed address that is none ([zz], [::1 unclosed) fails here
    except ValueError:
        raise ConfigError(f"{name} has a bad host (an IPv6 address goes in [brackets]): {accepted}") from None
    if parts.scheme not in ("mysql", "mariadb", "mysql+mysqlconnector"):
        raise ConfigError(f"{name} has an unknown scheme {parts.scheme!r}: {accepted}")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ConfigError(f"{name} has a bad port: {accepted}") from None
    database = parts.path.lstrip("/")
    if not hostname or not database or "/" in database:
        raise ConfigError(f"{name} needs a host and a database name: {accepted}")
    return DatabaseConfig(
        kind="mysql",
        host=hostname,
        port=port,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
    )


def _folder(base_dir: Path) -> str:
    """What relative paths start from, as a message names it: "the checkout", or the folder (installed:
    ~/.config/homepower, docs/install.md)."""
    return "the checkout" if checkout_dir() == base_dir else str(base_dir)


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
        f"{name}={url!r} names {base_dir / raw}, inside {_folder(base_dir)} (three slashes: a relative path), but "
        f"/{first} is a folder of this machine: for the absolute path write four slashes, sqlite:////{raw}; to keep "
        f"it in {_folder(base_dir)} write sqlite:///./{raw}"
    )


def parse_envoy_host(value: str, name: str = "ENVOY_HOST") -> str:
    """A base URL without trailing slash from ``host``, ``host:port`` or ``https://host[:port]``."""
    text = value.strip().rstrip("/")
    if not text:
        raise ConfigError(f"{name} is empty: give the gateway's address, e.g. envoy.local or 192.0.2.10")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        hostname = parts.hostname  # a bracketed address that is none ([zz], [::1 unclosed) fails here
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} has a bad host (an IPv6 address goes in [brackets]): use host, host:port or "
            "https://host:port"
        ) from None
    try:
        _ = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError:
        raise ConfigError(f"{name}={value!r} has a bad port: use host, host:port or https://host:port") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(f"{name}={value!r} is not valid: use host, host:port or https://host:port")
    return text


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


def _on_off(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = (_text(env, name) or ("on" if default else "off")).lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{name}={value!r} is not on or off")
    return value == "on"


@dataclass(frozen=True)
class PollerSettings:
    """What one poll reads: how to reach the gateway and the database, where its state lives, the site's
    time zone and the log level."""

    gateway: GatewaySettings
    database: DatabaseConfig
    state_dir: Path
    timezone: ZoneInfo
    log_level: str


def load(
    overrides: Mapping[str, object] | None = None,
    base_dir: Path = PROJECT_DIR,
    environ: Mapping[str, str] | None = None,
) -> PollerSettings:
    """Read, validate and return the poller's settings. ``overrides`` (CLI flags) win over the environment."""
    env = merged_environment(overrides, base_dir, environ)
    state_dir = state_dir_of(env, base_dir)
    return PollerSettings(
        gateway=GatewaySettings.from_env(env, base_dir, env_file_exists(base_dir, environ)),
        database=DatabaseConfig.from_env(env, base_dir, state_dir),
        state_dir=state_dir,
        timezone=timezone(_text(env, "SITE_TIMEZONE")),
        log_level=log_level(env),
    )
