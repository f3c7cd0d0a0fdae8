"""Settings: precedence (CLI > environment > .env > defaults) and one clear line for each bad value."""

import pytest

from homepower import settings
from homepower.errors import ConfigError
from conftest import load_settings


def test_defaults_match_the_contract(tmp_path):
    s = load_settings(tmp_path)
    assert s.envoy_url == "https://envoy.local"
    assert s.enlighten_url == "https://enlighten.enphaseenergy.com"
    assert s.entrez_url == "https://entrez.enphaseenergy.com"
    assert s.envoy_tls == "pin"
    assert (s.envoy_timeout, s.envoy_retry_s) == (10.0, 240.0)
    assert s.database.kind == "sqlite"
    assert s.database.path == tmp_path / "state" / "homepower.db"
    assert s.pv == settings.PVSettings(51.92, 4.48, 12, 405.0, 135.0, 35.0, 14.0)
    assert s.meteo_file == tmp_path / "state" / "forecast.json"
    assert s.log_level == "INFO"


def test_environment_wins_over_dotenv_and_cli_wins_over_both(tmp_path):
    (tmp_path / ".env").write_text("PV_PANELS=20\nPV_TILT=10\nENVOY_HOST=from-dotenv\n")
    s = settings.load(
        base_dir=tmp_path, environ={"PV_TILT": "20", "SITE_TIMEZONE": "UTC"}, overrides={"ENVOY_HOST": "192.0.2.7:8443"}
    )
    assert s.pv.panels == 20  # only in .env
    assert s.pv.tilt == 20.0  # environment beats .env
    assert s.envoy_url == "https://192.0.2.7:8443"  # CLI beats both


@pytest.mark.parametrize(
    "value,url",
    [
        ("envoy.local", "https://envoy.local"),
        ("10.0.0.5:8443", "https://10.0.0.5:8443"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://gw.example", "https://gw.example"),
    ],
)
def test_envoy_host_forms(tmp_path, value, url):
    assert load_settings(tmp_path, ENVOY_HOST=value).envoy_url == url


@pytest.mark.parametrize(
    "value,degrees",
    [
        ("N", 0),
        ("NE", 45),
        ("E", 90),
        ("O", 90),
        ("o", 90),
        ("SE", 135),
        ("S", 180),
        ("SW", 225),
        ("W", 270),
        ("NW", 315),
        ("200", 200),
        (" 12.5 ", 12.5),
    ],
)
def test_every_orientation_spelling(tmp_path, value, degrees):
    assert load_settings(tmp_path, PV_ORIENTATION=value).pv.azimuth == degrees


@pytest.mark.parametrize(
    "name,value,says",
    [
        ("PV_ORIENTATION", "SSE", "N NE E O SE S SW W NW"),
        ("PV_ORIENTATION", "400", "0 to 360"),
        ("DATABASE_URL", "postgres://x@h/db", "mysql://user:password@host:port/database"),
        ("DATABASE_URL", "mysql://root@127.0.0.1:3306/", "database name"),
        ("DATABASE_URL", "mysql://root@127.0.0.1:99999/test", "port"),
        ("SITE_TIMEZONE", "Mars/Olympus", "IANA"),
        ("SITE_TIMEZONE", "CEST+2", "IANA"),
        ("PV_PANELS", "twelve", "whole number"),
        ("PV_TILT", "120", "out of range"),
        ("ENVOY_TIMEOUT", "-1", "out of range"),
        ("ENVOY_TLS", "/no/such/bundle.pem", "pin, insecure or an existing CA bundle"),
        ("ENVOY_HOST", "ftp://gw", "host:port"),
        ("ENLIGHTEN_URL", "enlighten", "http(s) URL"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_bad_values_name_the_setting_and_what_is_accepted(tmp_path, name, value, says):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, **{name: value})
    message = str(err.value)
    assert err.value.exit_code == 78
    assert name in message and says in message
    assert "\n" not in message


def test_mysql_url_is_parsed_and_password_never_shown(tmp_path):
    s = load_settings(tmp_path, DATABASE_URL="mysql://hp:p%40ss@db.lan:3307/homepowerdb")
    db = s.database
    assert (db.kind, db.user, db.password, db.host, db.port, db.database) == (
        "mysql",
        "hp",
        "p@ss",
        "db.lan",
        3307,
        "homepowerdb",
    )
    assert "p@ss" not in repr(s) and "p@ss" not in db.describe()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://hp:p%40ss%3Aw%2Frd@db.lan:3307/homepowerdb",
        "mysql://root@127.0.0.1:3306/test",
        "sqlite:////srv/hp/homepower.db",
    ],
)
def test_a_database_config_gives_back_the_url_it_was_read_from(url):
    # The scripts' children (bench, tests, demo) get DATABASE_URL from a config: a password with
    # "@", ":" or "/" must survive the trip.
    config = settings.parse_database_url(url)
    assert config.url() == url and settings.parse_database_url(config.url()) == config


def test_secrets_are_not_in_repr(tmp_path):
    s = load_settings(tmp_path, ENVOY_PASSWORD="hunter2", ENVOY_TOKEN=" eyJ.abc.def \n", METEOSERVER_KEY="k3y")
    assert s.envoy_token == "eyJ.abc.def"  # white space stripped
    text = repr(s)
    assert "hunter2" not in text and "eyJ.abc.def" not in text and "k3y" not in text


def test_relative_paths_are_beside_the_scripts(tmp_path):
    s = load_settings(tmp_path, STATE_DIR="mystate", DATABASE_URL="sqlite:///data/x.db")
    assert s.state_dir == tmp_path / "mystate"
    assert s.database.path == tmp_path / "data" / "x.db"


def test_ca_bundle_path_is_accepted(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_settings(tmp_path, ENVOY_TLS=str(bundle)).envoy_tls == str(bundle)


def test_system_timezone_is_used_when_unset(tmp_path):
    s = settings.load(base_dir=tmp_path, environ={})
    assert s.timezone.key  # a real zone, whatever the machine's
