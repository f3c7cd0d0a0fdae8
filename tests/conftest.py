"""Shared fixtures: a store on each backend (SQLite file, fresh MariaDB database), settings in a tmp dir,
and the path to ../shared fixtures (skipped cleanly where a clone has none)."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from homepower import settings as settings_mod
from homepower.settings import DatabaseConfig, parse_database_url

ROOT = Path(__file__).resolve().parent.parent

SHARED = ROOT.parent / "shared"
ENVOY_FIXTURES = SHARED / "fixtures" / "envoy"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306/test")
REQUIRE_MYSQL = os.environ.get("REQUIRE_MYSQL") == "1"

# The suite sees only the settings each test sets: the owner's shell and the .env beside the scripts are
# shut out here, for this process and every script a test starts with (a copy of) os.environ.
_isolated = settings_mod.isolated_environ(os.environ)
os.environ.clear()
os.environ.update(_isolated)
_popen_init = subprocess.Popen.__init__


def _popen_reading_no_dotenv(self, *args, env=None, **kwargs):
    """A test that builds a child's environment from scratch still gets no .env: HOMEPOWER_ENV_FILE=none
    unless the test set it itself ("" means the .env beside the scripts, as for an owner)."""
    if env is not None and settings_mod.ENV_FILE not in env:
        env = {**env, settings_mod.ENV_FILE: "none"}
    _popen_init(self, *args, env=env, **kwargs)


subprocess.Popen.__init__ = _popen_reading_no_dotenv  # type: ignore[method-assign]


def shared_fixture(*parts: str) -> Path:
    """A path under ../shared/fixtures, or skip the test with the reason."""
    path = SHARED.joinpath("fixtures", *parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (recorded fixtures live in ../shared beside the project)")
    return path


def _mysql_admin_config() -> DatabaseConfig:
    return parse_database_url(TEST_DATABASE_URL, ROOT)


def _admin_store():
    """A connection to the test server's own database, through the project's store (no tables made)."""
    from homepower.store import Store

    return Store.connect(_mysql_admin_config(), create=False)


_mysql_state: dict = {}


def mysql_available() -> str | None:
    """None when the test server answers, else the reason."""
    if "reason" not in _mysql_state:
        try:
            _admin_store().close()
            _mysql_state["reason"] = None
        except Exception as exc:  # any failure means: no server for these tests
            _mysql_state["reason"] = f"no MySQL/MariaDB at {TEST_DATABASE_URL.split('@')[-1]}: {exc}"
    return _mysql_state["reason"]


def require_mysql() -> None:
    reason = mysql_available()
    if reason:
        if REQUIRE_MYSQL:
            pytest.fail(f"REQUIRE_MYSQL=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def mysql_database():
    """A fresh, empty MariaDB database for one test, dropped afterwards; yields its DatabaseConfig."""
    require_mysql()
    name = f"hp_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_store()
    admin.execute(f"CREATE DATABASE `{name}`")
    try:
        yield replace(admin.config, database=name)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(params=["sqlite", "mysql"])
def db_config(request, tmp_path) -> DatabaseConfig:
    """Each test using it runs on SQLite and on a fresh MariaDB database."""
    if request.param == "sqlite":
        return DatabaseConfig(kind="sqlite", path=tmp_path / "homepower.db")
    return request.getfixturevalue("mysql_database")


@pytest.fixture
def db_url(db_config) -> str:
    """DATABASE_URL for ``db_config`` (for tests that run the scripts)."""
    return db_config.url()


@pytest.fixture
def store(db_config):
    from homepower.store import Store
    from zoneinfo import ZoneInfo

    s = Store.connect(db_config, ZoneInfo("Europe/Amsterdam"))
    yield s
    s.close()


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """An environment with no project settings leaking in from the developer's shell or .env."""
    for name in list(os.environ):
        if settings_mod.is_setting(name) and name != settings_mod.ENV_FILE:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(settings_mod.ENV_FILE, "none")
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SITE_TIMEZONE", "Europe/Amsterdam")
    return tmp_path


def load_settings(tmp_path: Path, **env) -> settings_mod.Settings:
    """Settings from ``env`` only (no os.environ, no .env of the developer)."""
    base = {"STATE_DIR": str(tmp_path / "state"), "SITE_TIMEZONE": "Europe/Amsterdam"}
    base.update({k: str(v) for k, v in env.items()})
    return settings_mod.load(base_dir=tmp_path, environ=base)


# The poller tests' fixtures (`enlighten`, `gateway`: the fake services), shared by test_poll_script and
# test_poll_hostile; a module that defines its own fixture of the same name keeps it.
from poll_support import enlighten, gateway  # noqa: E402, F401
