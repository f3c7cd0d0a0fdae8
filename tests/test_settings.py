"""Settings: precedence (CLI > environment > .env > defaults) and one clear line for each bad value."""

import pytest

from homepower import settings
from homepower.errors import ConfigError
from conftest import load_settings


def test_defaults_match_the_contract(tmp_path):
    s = load_settings(tmp_path)
    assert s.gateway.url == "https://envoy.local"
    assert s.gateway.enlighten_url == "https://enlighten.enphaseenergy.com"
    assert s.gateway.entrez_url == "https://entrez.enphaseenergy.com"
    assert s.gateway.tls == "pin"
    assert (s.gateway.timeout, s.gateway.retry_s) == (45.0, 240.0)
    assert s.database.kind == "sqlite"
    assert s.database.path == tmp_path / "state" / "homepower.db"
    assert s.pv == settings.PVSettings(51.92, 4.48, 12, 405.0, 135.0, 35.0, 14.0)
    assert s.forecast.meteo_file == tmp_path / "state" / "forecast.json"
    assert s.log_level == "INFO"


def test_environment_wins_over_dotenv_and_cli_wins_over_both(tmp_path):
    (tmp_path / ".env").write_text("PV_PANELS=20\nPV_TILT=10\nENVOY_HOST=from-dotenv\n")
    s = settings.load(
        base_dir=tmp_path, environ={"PV_TILT": "20", "SITE_TIMEZONE": "UTC"}, overrides={"ENVOY_HOST": "192.0.2.7:8443"}
    )
    assert s.pv.panels == 20  # only in .env
    assert s.pv.tilt == 20.0  # environment beats .env
    assert s.gateway.url == "https://192.0.2.7:8443"  # CLI beats both


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
    assert load_settings(tmp_path, ENVOY_HOST=value).gateway.url == url


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
    assert s.gateway.token == "eyJ.abc.def"  # white space stripped
    text = repr(s)
    assert "hunter2" not in text and "eyJ.abc.def" not in text and "k3y" not in text


def test_relative_paths_are_beside_the_scripts(tmp_path):
    s = load_settings(tmp_path, STATE_DIR="mystate", DATABASE_URL="sqlite:///data/x.db")
    assert s.state_dir == tmp_path / "mystate"
    assert s.database.path == tmp_path / "data" / "x.db"


def test_ca_bundle_path_is_accepted(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert load_settings(tmp_path, ENVOY_TLS=str(bundle)).gateway.tls == str(bundle)


def test_system_timezone_is_used_when_unset(tmp_path):
    s = settings.load(base_dir=tmp_path, environ={})
    assert s.timezone.key  # a real zone, whatever the machine's


# ---------------------------------------------------------------- PV_ARRAYS and PV_HORIZON


def test_pv_arrays_replaces_the_one_plane_settings(tmp_path):
    s = load_settings(
        tmp_path, PV_ARRAYS="8x405@E/30; 6 X 300 @ 200 / 12.5", PV_PANELS="3", PV_ORIENTATION="N", PV_TILT="80"
    )
    assert s.pv.planes == (settings.Plane(8, 405.0, 90.0, 30.0), settings.Plane(6, 300.0, 200.0, 12.5))
    # The one-plane fields summarise the roof: every panel, the rating, the first plane's way.
    assert s.pv.panels == 14 and s.pv.panels * s.pv.panel_wp == pytest.approx(8 * 405 + 6 * 300)
    assert s.pv.rating_w == 8 * 405 + 6 * 300
    assert (s.pv.azimuth, s.pv.tilt) == (90.0, 30.0)


def test_one_plane_in_pv_arrays_is_the_same_installation_as_the_old_settings(tmp_path):
    old = load_settings(tmp_path, PV_PANELS="8", PV_PANEL_WP="405", PV_ORIENTATION="E", PV_TILT="30").pv
    assert load_settings(tmp_path, PV_ARRAYS="8x405@E/30").pv == old
    assert old.planes == (settings.Plane(8, 405.0, 90.0, 30.0),) and old.arrays is None


@pytest.mark.parametrize(
    "spelling,planes",
    [
        ("8x405@E/30;8x405@W/30", [(8, 405, 90, 30), (8, 405, 270, 30)]),
        ("8X405@o/30;8*405@w/30", [(8, 405, 90, 30), (8, 405, 270, 30)]),
        ("8×405@90/30 ; 8 x 405 @ 270 / 30", [(8, 405, 90, 30), (8, 405, 270, 30)]),
        ("4x400@SE/0;4x400@SW/90;2x380.5@202.5/45", [(4, 400, 135, 0), (4, 400, 225, 90), (2, 380.5, 202.5, 45)]),
    ],
)
def test_every_pv_arrays_spelling(tmp_path, spelling, planes):
    assert load_settings(tmp_path, PV_ARRAYS=spelling).pv.planes == tuple(settings.Plane(*p) for p in planes)


@pytest.mark.parametrize(
    "value,says",
    [
        (";", "plane 1 '' is empty"),
        ("8x405@E/30;", "plane 2 '' is empty"),
        ("8x405@E/30;;8x405@W/30", "plane 2 '' is empty"),
        ("8x405E/30", "plane 1 '8x405E/30' needs one '@'"),
        ("8x405@E@W/30", "needs one '@'"),
        ("8405@E/30", "needs one 'x'"),
        ("8x4x5@E/30", "needs one 'x'"),
        ("8x405@E", "plane 1 '8x405@E' needs one '/'"),
        ("8x405@E/30/5", "needs one '/'"),
        ("x405@E/30", "has no number of panels"),
        ("eight x405@E/30", "number of panels 'eight' is not a whole number"),
        ("8.5x405@E/30", "number of panels '8.5' is not a whole number"),
        ("0x405@E/30", "number of panels '0' is out of range"),
        ("8x@E/30", "has no watt-peak"),
        ("8xbig@E/30", "watt-peak 'big' is not a number"),
        ("8x0@E/30", "watt-peak '0' is out of range"),
        ("8xnan@E/30", "watt-peak 'nan' is out of range"),
        ("8x405@/30", "has no orientation"),
        ("8x405@SSE/30", "orientation='SSE' is not valid: use one of N NE E O SE S SW W NW"),
        ("8x405@361/30", "out of range: degrees from north go from 0 to 360"),
        ("8x405@E/", "has no tilt"),
        ("8x405@E/steep", "tilt 'steep' is not a number"),
        ("8x405@E/91", "tilt '91' is out of range (0 to 90 degrees)"),
        ("8x405@W/30;8x405@E/-5", "plane 2 '8x405@E/-5': the tilt '-5' is out of range"),
        (";".join(["1x400@S/30"] * 51), "at most 50"),
    ],
)
def test_a_malformed_pv_arrays_names_the_plane_and_the_part(tmp_path, value, says):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, PV_ARRAYS=value)
    message = str(err.value)
    assert err.value.exit_code == 78
    assert message.startswith("PV_ARRAYS") and says in message, message
    assert "\n" not in message


def test_pv_horizon(tmp_path):
    assert load_settings(tmp_path).pv.horizon is None
    assert load_settings(tmp_path, PV_HORIZON="0,0,15,30,45,30,15,0").pv.horizon == (0, 0, 15, 30, 45, 30, 15, 0)
    assert load_settings(tmp_path, PV_HORIZON=" 10 , 12.5,90 ").pv.horizon == (10.0, 12.5, 90.0)
    assert load_settings(tmp_path, PV_HORIZON="20").pv.horizon == (20.0,)  # the same height all round
    assert load_settings(tmp_path, PV_HORIZON="0,0,0,0").pv.horizon is None  # flat: no horizon at all
    # The horizon and the planes are independent settings.
    both = load_settings(tmp_path, PV_HORIZON="5,10", PV_ARRAYS="8x405@E/30;8x405@W/30").pv
    assert both.horizon == (5.0, 10.0) and len(both.planes) == 2


@pytest.mark.parametrize(
    "value,says",
    [
        ("0,0,,15", "value 3 '' is not a number"),
        ("0,0,15,", "value 4 '' is not a number"),
        ("0;0;15", "value 1 '0;0;15' is not a number"),
        ("0 0 15", "value 1 '0 0 15' is not a number"),
        ("low,high", "value 1 'low' is not a number"),
        ("0,-5", "value 2 '-5' is out of range"),
        ("0,91", "value 2 '91' is out of range"),
        ("nan", "value 1 'nan' is out of range"),
        ("inf", "value 1 'inf' is out of range"),
        (",".join(["1"] * 3601), "at most 3600"),
    ],
)
def test_a_malformed_pv_horizon_names_the_value(tmp_path, value, says):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, PV_HORIZON=value)
    message = str(err.value)
    assert err.value.exit_code == 78
    assert message.startswith("PV_HORIZON") and says in message, message
    assert "0,0,15,30,45,30,15,0" in message and "\n" not in message


# -- MQTT (pv_report.py --publish) -------------------------------------------------------------------
def test_mqtt_defaults_and_url_forms(tmp_path):
    s = load_settings(tmp_path)
    assert s.publish.broker is None  # --publish says to set MQTT_URL (78)
    assert (s.publish.prefix, s.publish.discovery_prefix) == ("homepower", "homeassistant")
    b = load_settings(tmp_path, MQTT_URL="mqtts://ha%40home:p%3Ass@broker.lan").publish.broker
    assert (b.host, b.port, b.tls, b.user, b.password) == ("broker.lan", 8883, True, "ha@home", "p:ss")
    b = load_settings(tmp_path, MQTT_URL="mqtt://[::1]:1884").publish.broker
    assert (b.host, b.port, b.tls, b.user, b.password) == ("::1", 1884, False, None, None)
    s = load_settings(tmp_path, MQTT_URL="mqtt://h", MQTT_PREFIX="home/pv/", HA_DISCOVERY_PREFIX="")
    assert (s.publish.broker.port, s.publish.prefix, s.publish.discovery_prefix) == (1883, "home/pv", None)


@pytest.mark.parametrize(
    "env",
    [
        {"MQTT_URL": "http://me:hunter2@h"},
        {"MQTT_URL": "mqtt://me:hunter2@h:99999"},
        {"MQTT_URL": "mqtt://me:hunter2@"},
        {"MQTT_URL": "mqtt://me:hun@ter2@h/topic"},
        {"MQTT_URL": "me:hunter2@h"},
        {"MQTT_PREFIX": "home/#"},
        {"MQTT_PREFIX": " "},
        {"HA_DISCOVERY_PREFIX": "home+assistant"},
    ],
)
def test_bad_mqtt_settings_are_78_naming_the_setting_never_the_password(tmp_path, env):
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, **env)
    assert list(env)[0] in str(err.value)
    assert "hunter2" not in str(err.value) and "ter2" not in str(err.value)


def test_the_broker_password_never_shows(tmp_path):
    s = load_settings(tmp_path, MQTT_URL="mqtt://me:hunter2@h")
    assert "hunter2" not in repr(s) and "hunter2" not in s.publish.broker.describe()
    assert s.publish.broker.describe() == "mqtt://me@h:1883"
    at = load_settings(tmp_path, MQTT_URL="mqtt://u%40x:hunter2@h")  # a user with an @, written as in the URL
    assert at.publish.broker.describe() == "mqtt://u%40x@h:1883"


@pytest.mark.parametrize("name", ["ENVOY_HOST", "DATABASE_URL", "ENLIGHTEN_URL", "ENTREZ_URL"])
@pytest.mark.parametrize("host", ["[zz]", "[::1"])
def test_a_bracketed_host_that_is_no_address_is_a_setting_to_fix(tmp_path, name, host):
    """Found in review: urllib's ValueError for these ended every script with 70."""
    value = {"ENVOY_HOST": host, "DATABASE_URL": f"mysql://u:pw@{host}/db"}.get(name, f"https://{host}")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, **{name: value})
    assert name in str(err.value) and "pw" not in str(err.value)


@pytest.mark.parametrize("name", ["METEOSERVER_URL", "OPEN_METEO_URL", "FORECAST_SOLAR_URL", "SOLCAST_URL"])
def test_a_service_url_with_a_broken_host_is_a_setting_to_fix(name):
    from solar3p.environment import http_url
    from solar3p.errors import ConfigError as Solar3pConfigError
    from solar3p.providers.fetch import ServiceSettings

    for value in ("https://[zz]", "https://[::1", "https://host:99999"):
        with pytest.raises(Solar3pConfigError, match=name):
            if name in ("FORECAST_SOLAR_URL", "SOLCAST_URL"):
                ServiceSettings.from_env({name: value})
            else:
                http_url({name: value}, name, "https://default.example")
