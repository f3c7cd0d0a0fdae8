"""Where the settings come from, and how one value is read: the real environment over a ``.env`` file
(python-dotenv), and the typed readers every setting goes through (a bad value is a ConfigError, exit 78,
naming the setting and what it accepts).

Where the files live:
- in a checkout (the packages run from a clone, or were installed editable): ``.env`` beside the scripts,
  relative paths from the checkout, STATE_DIR ``var/`` in it;
- installed (``pip install .`` / ``pipx install .``: the packages sit in a ``site-packages`` folder): the
  XDG folders, ``$XDG_CONFIG_HOME/homepower/.env`` (``~/.config/homepower/.env``), relative paths from that
  folder, STATE_DIR ``$XDG_STATE_HOME/homepower`` (``~/.local/state/homepower``).
``HOMEPOWER_ENV_FILE`` names another ``.env`` in either case ("none": read no file).

Light (stdlib + python-dotenv): the poller imports it through homepower.settings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from solar3p.errors import ConfigError

APP = "homepower"  # the distribution's name: its folders under the XDG dirs
# Names another file to read instead of the default ``.env``; "none" reads no file. The test suite, the
# demo and the bench set "none" so that the owner's .env cannot change what they show.
ENV_FILE = "HOMEPOWER_ENV_FILE"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_CODE_DIR = Path(__file__).resolve().parent.parent  # the folder that holds the solar3p package


def installed(code_dir: Path = _CODE_DIR) -> bool:
    """Whether the packages were installed (they sit in site-packages), rather than run from a checkout."""
    return code_dir.name in ("site-packages", "dist-packages")


def checkout_dir() -> Path | None:
    """The checkout the packages run from; None when installed."""
    return None if installed() else _CODE_DIR


def _xdg(variable: str, fallback: str, environ: Mapping[str, str]) -> Path:
    raw = (environ.get(variable) or "").strip()
    base = Path(raw) if raw and Path(raw).is_absolute() else Path.home() / fallback  # the spec: absolute only
    return base / APP


def default_base_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``.env`` is looked for and relative paths start: the checkout, else the XDG config folder."""
    checkout = checkout_dir()
    return checkout if checkout is not None else _xdg("XDG_CONFIG_HOME", ".config", environ or os.environ)


def default_state_dir(base_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    """STATE_DIR when unset: ``var/`` in ``base_dir`` for a checkout, else the XDG state folder."""
    if checkout_dir() is not None or base_dir != default_base_dir(environ):
        return base_dir / "var"
    return _xdg("XDG_STATE_HOME", ".local/state", environ or os.environ)


def env_file(base_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """The .env file to read: HOMEPOWER_ENV_FILE, else ``.env`` in ``base_dir``; None for "none"."""
    named = (environ.get(ENV_FILE) or "").strip()
    if named.lower() == "none":
        return None
    return path(base_dir, named) if named else base_dir / ".env"


def env_file_exists(base_dir: Path, environ: Mapping[str, str] | None) -> bool:
    found = env_file(base_dir, os.environ if environ is None else environ)
    return found is not None and found.is_file()


def read_environment(base_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The real environment over the .env file (``env_file``)."""
    from dotenv import dotenv_values  # here: the rest of this module serves an edge that lacks it (missing_module)

    environ = os.environ if environ is None else environ
    found = env_file(default_base_dir(environ) if base_dir is None else base_dir, environ)
    merged = {k: v for k, v in dotenv_values(found).items() if v is not None} if found else {}
    merged.update(environ)
    return merged


def merged_environment(
    overrides: Mapping[str, object] | None, base_dir: Path, environ: Mapping[str, str] | None
) -> dict[str, str]:
    """The real environment over .env, with ``overrides`` (CLI flags, None: not given) over both."""
    env = read_environment(base_dir, environ)
    env.update({k: str(v) for k, v in (overrides or {}).items() if v is not None})
    return env


def state_dir_of(env: Mapping[str, str], base_dir: Path) -> Path:
    """STATE_DIR, relative to ``base_dir``; its default is ``default_state_dir``."""
    raw = text(env, "STATE_DIR")
    return path(base_dir, raw) if raw else default_state_dir(base_dir, env)


def text(env: Mapping[str, str], name: str) -> str | None:
    """The setting ``name`` stripped; None when unset or blank."""
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def path(base_dir: Path, raw: str) -> Path:
    """A path setting: ``~`` expanded, relative to ``base_dir``."""
    found = Path(raw).expanduser()
    return found if found.is_absolute() else base_dir / found


def number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float, integer: bool = False) -> float:
    """The number setting ``name`` in [lo, hi], else ``default`` when unset or blank."""
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


def http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """The http(s) base URL setting ``name`` (no trailing slash), else ``default``."""
    value = (env.get(name) or default).strip().rstrip("/")
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a port that is no number, or beyond 65535
    except ValueError:  # also a bracketed host that is no IPv6 address ([zz], [::1 unclosed)
        ok = False
    if not ok:
        raise ConfigError(f"{name}={value!r} is not an http(s) URL (https://host[:port][/path])")
    return value


def log_level(env: Mapping[str, str]) -> str:
    """LOG_LEVEL, upper case; INFO when unset."""
    level = (text(env, "LOG_LEVEL") or "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def timezone(raw: str | None) -> ZoneInfo:
    """SITE_TIMEZONE (an IANA name), else the system's local zone."""
    if raw:
        try:
            return ZoneInfo(raw.strip())
        except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
            raise ConfigError(f"SITE_TIMEZONE={raw!r} is not an IANA time zone (e.g. Europe/Amsterdam, UTC)") from None
    return system_timezone()


def system_timezone() -> ZoneInfo:
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


# How messages name a command: the checkout's form, or the console script pip/pipx installed for it
# (pyproject's [project.scripts]); an installed copy has no .venv/bin/python and no top-level scripts.
_INSTALLED_NAMES = (
    (".venv/bin/python -m solar3p", "solar3p"),
    ("python -m solar3p", "solar3p"),
    (".venv/bin/python ", ""),
    ("get_enphase_hour_measure.py", "homepower-poll"),
    ("history_collector.py", "homepower-collect"),
    ("pv_report.py", "homepower-report"),
)


def command(in_checkout: str) -> str:
    """``in_checkout`` (e.g. ``.venv/bin/python -m solar3p fetch``) as the owner types it here: unchanged in
    a checkout, the console script's name when installed (``solar3p fetch``)."""
    if not installed():
        return in_checkout
    for checkout_form, console in _INSTALLED_NAMES:
        in_checkout = in_checkout.replace(checkout_form, console)
    return in_checkout
