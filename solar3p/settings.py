"""solar3p's own settings, and only those: the roof (PV_*), the forecast file (METEO_FILE, METEOSERVER_KEY),
the calibration (PV_CALIBRATION), STATE_DIR, SITE_TIMEZONE and LOG_LEVEL. The services' base URLs and keys
are read where they are used (``fetch``). No gateway or database setting is read here, so none can make
``python -m solar3p`` fail. homepower's settings extend these (``homepower.settings.Settings``).

Order of precedence: CLI flags (``overrides``) > the real environment > ``.env`` (see ``environment``) >
defaults. A bad value raises ConfigError (exit 78) naming the setting and what it accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from solar3p.environment import (
    default_base_dir,
    log_level,
    merged_environment,
    path,
    state_dir_of,
    text,
    timezone,
)
from solar3p.plant import PVSettings

# What a forecast file's top-level "provider" may say: the services ``fetch`` writes, and "file" (none said).
# A new weather provider's name goes here: fetch --source, FORECAST_PROVIDER and the reader follow it.
# Here, not in meteo.py, so that homepower's settings (the poller) need not import the reader.
FORECAST_FILE_PROVIDERS = ("meteoserver", "open-meteo", "file")
CALIBRATION_NAME = "solar3p-calibration.json"
METEO_NAME = "forecast.json"  # METEO_FILE's default, in STATE_DIR: fetch never writes into the checkout

# The variables solar3p reads (the contract's table), and the prefixes of their families. The services'
# URLs and keys are read where they are fetched (fetch.py, providers/fetch.py).
SETTING_NAMES = (
    "STATE_DIR",
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
    "FORECAST_SOLAR_URL",
    "FORECAST_SOLAR_KEY",
    "SOLCAST_URL",
    "SOLCAST_KEY",
    "SOLCAST_SITE",
    "LOG_LEVEL",
)
SETTING_PREFIXES = ("PV_", "METEO", "OPEN_METEO_", "FORECAST_SOLAR_", "SOLCAST_")


@dataclass(frozen=True)
class ForecastFile:
    """Where the forecast file is (METEO_FILE) and the key to download it from Meteoserver."""

    meteo_file: Path
    meteoserver_key: str | None = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path, state_dir: Path) -> ForecastFile:
        meteo = text(env, "METEO_FILE")
        return cls(
            meteo_file=path(base_dir, meteo) if meteo else state_dir / METEO_NAME,
            meteoserver_key=text(env, "METEOSERVER_KEY"),
        )


@dataclass(frozen=True)
class Solar3pSettings:
    pv: PVSettings
    forecast: ForecastFile
    state_dir: Path
    timezone: ZoneInfo
    log_level: str
    # the calibration: PV_CALIBRATION, else STATE_DIR/solar3p-calibration.json (read when it exists)
    pv_calibration: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_dir: Path) -> Solar3pSettings:
        """Every solar3p setting from ``env`` (the environment already merged with .env and overrides)."""
        state_dir = state_dir_of(env, base_dir)
        return cls(
            pv=PVSettings.from_env(env),
            forecast=ForecastFile.from_env(env, base_dir, state_dir),
            state_dir=state_dir,
            timezone=timezone(text(env, "SITE_TIMEZONE")),
            log_level=log_level(env),
            pv_calibration=calibration_of(env, base_dir, state_dir),
        )


def calibration_of(env: Mapping[str, str], base_dir: Path, state_dir: Path) -> Path:
    """PV_CALIBRATION, else the default file in STATE_DIR (used only when it exists, see the readers)."""
    raw = text(env, "PV_CALIBRATION")
    return path(base_dir, raw) if raw else state_dir / CALIBRATION_NAME


def load(
    overrides: Mapping[str, object] | None = None,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Solar3pSettings:
    """Read, validate and return solar3p's settings. ``overrides`` (CLI flags) win over the environment."""
    base = default_base_dir(environ) if base_dir is None else base_dir
    return Solar3pSettings.from_env(merged_environment(overrides, base, environ), base)
