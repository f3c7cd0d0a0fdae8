"""Pure parsing of gateway answers and the source rule: every recorded firmware folder (skipped cleanly
without ../shared) and the project's own small bodies in the same shapes."""

from __future__ import annotations

import json

import pytest

from conftest import ENVOY_FIXTURES, shared_fixture
from homepower.errors import DataError
from homepower.gateway import parse
from homepower.gateway.parse import Values

FOLDERS = sorted(p.name for p in ENVOY_FIXTURES.iterdir() if p.is_dir()) if ENVOY_FIXTURES.is_dir() else []

# What a careful reading of each recorded gateway gives (source, lifetime Wh, export Wh or None).
EXPECTED = {
    "3.7.0": ("html", 133_000_000.0, None),
    "3.9.36_bad_auth": ("v1", 14_578_520.0, None),
    "4.10.35": ("eim", 26_785_327.351, 17_357_690.272),
    "4.2.27": ("v1", 10_279_087.0, None),  # eim present but inactive
    "7.3.466_metered_disabled_cts": ("inverters", 702_919.0, None),  # v1 answers 0
    "7.6.175_total": ("inverters", 1_152_866.0, None),
    "7.6.114_without_cts": ("v1", 1_544_282.0, None),
    "8.2.4264_metered_noct": ("inverters", 32_465_106.0, None),  # v1 stalls at 1583 Wh
    "8.3.5167_3rd-pv": ("eim", 569_121.609, 415_089.21),  # no /api/v1/production at all
    "8.3.5433_tot_is_net_cons": ("eim", 14_405_465.109, None),  # no net-consumption meter
    "8.3.1598_collar": ("eim", 47_077.959, 22_728.922),
    "8.3.5289_modGone": ("eim", 10_251_307.181, None),  # net-consumption meter disabled
}


def read_folder(folder):
    """The reading a gateway answering with this folder gives, through the pure rule only (what the
    poller does, without the network): a path with no recorded file answers 404."""
    info = parse.parse_info((folder / "info").read_text())

    def answer(endpoint):
        path = folder / endpoint.name
        if not path.exists():
            return parse.Answer(404, "", info.firmware)
        return parse.Answer(200, path.read_text(), info.firmware, token_accepted=info.needs_token)

    found = parse.read(info, answer)
    return info, found.source, found.values, found.grid.exported


@pytest.mark.parametrize("name", FOLDERS or ["(no ../shared)"])
def test_every_recorded_firmware_gives_a_reading(name):
    folder = shared_fixture("envoy", name)
    info, source, values, exported = read_folder(folder)
    assert source in parse.SOURCES
    assert values.wattHoursLifetime and values.wattHoursLifetime > 0
    assert info.serial
    if name in EXPECTED:
        want_source, want_lifetime, want_export = EXPECTED[name]
        assert (source, values.wattHoursLifetime, exported) == (want_source, pytest.approx(want_lifetime), want_export)


def test_recorded_pdm_energy_and_recapture_day_parse():
    body = json.loads(shared_fixture("envoy", "8.3.5169_with_generator", "ivp_pdm_energy").read_text())
    assert parse.parse_pdm_energy(body) == Values(2806, 229167, 11764258, 2682)
    day = json.loads(shared_fixture("pdm_energy", "recapture_2025-03-05.json").read_text())["data"]
    sources = {parse.values_from_body(b)[0] for b in day}
    assert sources == {"pdm"}


# -- the project's own small bodies ------------------------------------------------------------------


def info(software="D8.2.4345", imeter=True, serial="122233445566"):
    meter = "" if imeter is None else f"<imeter>{str(imeter).lower()}</imeter>"
    return parse.parse_info(
        f"<?xml version='1.0'?><envoy_info><device><sn>{serial}</sn>"
        f"<software>{software}</software>{meter}</device></envoy_info>"
    )


def production_json(eim_active=1, eim_lifetime=5000.5, inverters_lifetime=4000):
    return json.dumps(
        {
            "production": [
                {
                    "type": "inverters",
                    "activeCount": 12,
                    "readingTime": 1,
                    "wNow": 100,
                    "whLifetime": inverters_lifetime,
                },
                {
                    "type": "eim",
                    "activeCount": eim_active,
                    "measurementType": "production",
                    "wNow": 110.5,
                    "whLifetime": eim_lifetime,
                    "whToday": 12.5,
                    "whLastSevenDays": 700.5,
                },
            ],
            "consumption": [],
        }
    )


def v1(lifetime):
    return json.dumps({"wattHoursToday": 10, "wattHoursSevenDays": 70, "wattHoursLifetime": lifetime, "wattsNow": 90})


def choose(gateway, bodies, token_accepted=False):
    """The source the rule picks from ``bodies`` (endpoint name -> body, or (status, body)) and the
    endpoints it asked, in order."""
    asked = []

    def answer(endpoint):
        asked.append(endpoint.name)
        body = bodies.get(endpoint.name, (404, ""))
        status, text = body if isinstance(body, tuple) else (200, body)
        return parse.Answer(status, text, gateway.firmware, token_accepted)

    try:
        found = parse.read(gateway, answer)
    except parse.NoReading:
        return None, asked
    asked = [a for a in asked if not a.startswith("ivp_meters")]
    return found.source, asked


def test_info_gives_serial_firmware_and_meter():
    gw = info("R3.9.36", None, "121426016034")
    assert (gw.serial, gw.firmware, gw.imeter, gw.needs_token) == ("121426016034", (3, 9, 36), None, False)
    assert info("D7.0.1").needs_token


def test_info_that_is_not_xml_is_a_data_error():
    with pytest.raises(DataError):
        parse.parse_info("<html><body>router login</body></html>")


def test_active_eim_wins_and_nothing_else_is_asked():
    source, asked = choose(info(), {"production.json": production_json(), "api_v1_production": v1(9)})
    assert (source, asked) == ("eim", ["production.json"])


def test_inactive_eim_falls_to_v1_then_inverters_when_v1_is_zero():
    assert choose(info("D7.6.175"), {"production.json": production_json(0), "api_v1_production": v1(9)})[0] == "v1"
    assert (
        choose(info("D7.6.175"), {"production.json": production_json(0), "api_v1_production": v1(0)})[0] == "inverters"
    )


@pytest.mark.parametrize(
    "software,imeter,expected",
    [
        ("D8.2.4264", True, "inverters"),  # metered, no active eim, stalls from 8.2.4264
        ("D8.3.5167", True, "inverters"),
        ("D8.2.4263", True, "v1"),  # just before
        ("D8.2.4264", False, "v1"),  # not metered
        ("D8.2.4264", None, "v1"),
    ],
)
def test_v1_stall_exception(software, imeter, expected):
    bodies = {"production.json": production_json(0), "api_v1_production": v1(1583)}
    assert choose(info(software, imeter), bodies)[0] == expected


def test_pdm_then_html_as_last_resorts():
    pdm = json.dumps(
        {"production": {"pcu": {"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": 3, "wattsNow": 4}}}
    )
    assert choose(info("D8.3.5169"), {"api_v1_production": v1(0), "ivp_pdm_energy": pdm})[0] == "pdm"
    html = (
        "<tr><td>Currently</td>    <td> 512 W</td></tr><tr><td>Today</td>     <td> 1.25 kWh</td></tr>"
        "<tr><td>Past Week</td>    <td>  40.5 kWh</td></tr>"
        "<tr><td>Since Installation</td>  <td>  2.5 MWh</td></tr>"
    )
    assert parse.parse_production_html(html) == Values(1250, 40500, 2_500_000, 512)
    assert choose(info("D3.7.0", None), {"production": html})[0] == "html"
    assert choose(info("D3.7.0", None), {}) == (
        None,
        ["production.json", "api_v1_production", "ivp_pdm_energy", "production"],
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"production": [{"type": "eim", "activeCount": 1, "whLifetime": "1234"}]}',  # string where a number belongs
        '{"production": [{"type": "eim", "activeCount": 1, "whLifetime": true}]}',
        '{"production": [{"type": "eim", "activeCount": 1, "whLifetime": null}]}',
        '{"production": [{"type": "eim", "activeCount": 1, "whLifetime": -5.0}]}',  # a lifetime is never negative
        '{"production": [{"type": "inverters", "activeCount": 3, "whLifetime": -1}]}',
        '{"production": [{"type": "eim", "activeCount": 1, "whLif',  # truncated
        '{"production": {"type": "eim"}}',
        "[]",
        "<!DOCTYPE html><html><head><title>Envoy</title></head><body>maintenance</body></html>",
    ],
)
def test_malformed_production_json_is_a_data_error(body):
    with pytest.raises(DataError):
        parse.parse_production_json(body)


def test_a_negative_lifetime_is_a_data_error_but_negative_power_is_night():
    with pytest.raises(DataError):
        parse.parse_api_v1_production('{"wattHoursLifetime": -3, "wattsNow": 0}')
    eim = parse.parse_production_json(
        '{"production": [{"type": "eim", "activeCount": 1, "whLifetime": 10.5, '
        '"wNow": -3.8, "whToday": 0, "whLastSevenDays": 0}]}'
    ).eim
    assert eim.wattsNow == -3.8 and eim.wattHoursLifetime == 10.5
    beside = parse.parse_production_json(
        '{"production": [{"type": "inverters", "whLifetime": -1}, {"type": "eim", '
        '"activeCount": 1, "whLifetime": 10.5}]}'
    )
    assert beside.eim.wattHoursLifetime == 10.5  # a bad entry that is not the reading does not matter


def test_html_where_json_belongs_is_missing_only_on_firmware_3():
    page = "<!DOCTYPE html><html><body><h2>Page Not Found</h2></body></html>"
    v1_endpoint = parse.API_V1

    def interpret(status, text, firmware, accepted=False):
        return v1_endpoint.interpret(parse.Answer(status, text, firmware, accepted))

    assert interpret(200, page, (3, 9, 36)) == parse.ABSENT
    with pytest.raises(DataError):
        interpret(200, page, (7, 6, 175))
    assert interpret(404, "", (8, 1, 41)) == parse.ABSENT
    assert interpret(200, '{ "error" : "404 - Not Found" }', (5, 0, 62)) == parse.ABSENT


def test_a_401_after_an_accepted_token_is_absent_not_refused():
    """Firmware 7.0.88 without meters: /production.json answers 401 although check_jwt took the token
    (pyenphase PR #304): the rule goes on to v1. Without a token check (firmware < 7) it is a refusal."""
    bodies = {"production.json": (401, fakes_html_401()), "api_v1_production": v1(9)}
    assert choose(info("D7.0.88", False), bodies, token_accepted=True)[0] == "v1"
    endpoint = parse.PRODUCTION_JSON
    assert endpoint.interpret(parse.Answer(401, "", (7, 0, 88), True)) == parse.ABSENT
    assert endpoint.interpret(parse.Answer(401, "", (5, 0, 62), False)) == parse.REFUSED
    assert endpoint.interpret(parse.Answer(200, "Error: 401", (3, 8, 10), False)) == parse.REFUSED


def fakes_html_401():
    return "<html><head><title>401 Authorization Required</title></head></html>"


def test_401_pages_are_recognised():
    def refused(text):
        return parse.unauthorized(parse.Answer(200, text, (8,)))

    assert refused("Error: 401\n")  # firmware 3.x, status 200
    assert refused(fakes_html_401())
    assert not refused('{"wattHoursLifetime": 1}')


def test_grid_and_house_come_from_the_enabled_consumption_meters():
    meters = json.dumps(
        [
            {"eid": 1, "state": "enabled", "measurementType": "production"},
            {"eid": 2, "state": "enabled", "measurementType": "net-consumption"},
            {"eid": 3, "state": "enabled", "measurementType": "total-consumption"},
        ]
    )
    readings = json.dumps(
        [
            {"eid": 1, "actEnergyDlvd": 5.0, "actEnergyRcvd": 0.1},
            {"eid": 2, "actEnergyDlvd": 7.0, "actEnergyRcvd": 1234.5},
            {"eid": 3, "actEnergyDlvd": 9000.25, "actEnergyRcvd": 3.0},
        ]
    )
    found = parse.parse_meters(meters)
    assert found == parse.Meters(net=2, total=3)
    assert parse.parse_meter_readings(readings, found) == parse.Grid(1234.5, 7.0, 9000.25)
    disabled = meters.replace('"enabled", "measurementType": "net', '"disabled", "measurementType": "net')
    assert parse.parse_meter_readings(readings, parse.parse_meters(disabled)) == parse.Grid(None, None, 9000.25)


@pytest.mark.parametrize(
    "name,grid",
    [
        ("7.6.175_with_cts", (1776768.769, 3738205.282, None)),
        ("8.2.4345_with_device_data", (883899.646, 648203.353, None)),
        ("8.3.5433_tot_is_net_cons", (None, None, 20055053.325)),  # only a total-consumption meter
        ("7.6.175_total", (None, None, None)),  # both meters disabled
    ],
)
def test_recorded_meters_give_export_import_and_consumption(name, grid):
    folder = shared_fixture("envoy", name)
    inf = parse.parse_info((folder / "info").read_text())

    def answer(endpoint):
        path = folder / endpoint.name
        text = path.read_text() if path.exists() else ""
        return parse.Answer(200 if path.exists() else 404, text, inf.firmware, True)

    assert tuple(parse.read(inf, answer).grid) == tuple(pytest.approx(g) if g else g for g in grid)


@pytest.mark.parametrize(
    "value",
    ["1e20", "1e300", "123456789012345678901234567890", "NaN", "Infinity", "-Infinity", "1e400", "100000000001"],
)
def test_values_no_column_can_hold_are_not_understood(value):
    body = '{"wattHoursToday": 1, "wattHoursSevenDays": 2, "wattHoursLifetime": %s, "wattsNow": 3}' % value
    with pytest.raises(DataError):
        parse.parse_api_v1_production(body)
    watts = '{"wattHoursLifetime": 5, "wattsNow": %s}' % value
    with pytest.raises(DataError):
        parse.parse_api_v1_production(watts)


def test_json_nested_too_deep_is_not_understood():
    deep = "[" * 100_000 + "]" * 100_000
    for endpoint in (parse.PRODUCTION_JSON, parse.API_V1, parse.PDM_ENERGY, parse.METERS):
        with pytest.raises(DataError, match="nested too deep"):
            endpoint.interpret(parse.Answer(200, deep, (8, 2, 4345), True))


def test_body_kinds_are_told_apart_by_shape():
    assert parse.values_from_body(json.loads(production_json()))[0] == "eim"
    assert parse.values_from_body(json.loads(production_json(0)))[0] == "inverters"
    assert parse.values_from_body(json.loads(v1(5)))[0] == "v1"
    with pytest.raises(DataError):
        parse.values_from_body({"something": "else"})
