"""The per-panel endpoints' parsers (pure): what each firmware's quirks mean."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from homepower.errors import DataError
from homepower.gateway import device_data, inverters, parse


def entry(serial="482200000001", date=1_750_000_000, watts=200, **more):
    return {"serialNumber": serial, "lastReportDate": date, "lastReportWatts": watts, "maxReportWatts": 300, **more}


def test_reports_in_utc_and_batteries_and_never_reported_left_out():
    body = json.dumps(
        [
            entry("1", devType=1),
            entry("2", devType=11),  # 8.2.4382_ACB: an AC battery's inverter
            entry("3", date=0),  # listed, never reported
            entry("4"),  # below firmware 4.10: no devType, a micro-inverter
        ]
    )
    got = inverters.parse_inverters(body)
    assert [r.serial for r in got] == ["1", "4"]
    assert got[0].report_utc == datetime(2025, 6, 15, 15, 6, 40) and got[0].watts == 200.0


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        "[1]",
        json.dumps([entry(watts="200")]),
        json.dumps([entry(watts=1e9)]),
        json.dumps([entry(date=-5)]),
        json.dumps([entry(date=99_999_999_999)]),
        json.dumps([entry(serial="")]),
        json.dumps([entry(serial="x" * 40)]),
        json.dumps([{"serialNumber": "1"}]),
        "[" * 100_000,
    ],
)
def test_anything_malformed_is_not_understood(body):
    with pytest.raises(DataError):
        inverters.parse_inverters(body)


def test_a_json_401_of_firmware_3_is_a_refusal():
    answer = parse.Answer(
        200, '{"status": 401, "error": "", "info": "Authentication required", "moreInfo": ""}', (3, 9)
    )
    assert inverters.ENDPOINT.interpret(answer) == parse.REFUSED
    assert inverters.ENDPOINT.interpret(parse.Answer(404, "", (7,))) == parse.ABSENT
    assert inverters.ENDPOINT.interpret(parse.Answer(401, "", (7,), token_accepted=True)) == parse.REFUSED


def device(sn, name="pcu", active=True, reading=None):
    reading = {"endDate": 1_750_000_000, "duration": 900, "joulesProduced": 180_000} if reading is None else reading
    return {"devName": name, "sn": sn, "active": active, "modGone": False, "channels": [{"lastReading": reading}]}


def test_device_data_only_micro_inverters_with_a_reading():
    body = {
        "1": device("A"),
        "2": device("EIM1", name="eim"),
        "3": device("B", name="acb"),
        "4": device("C", active=False),
        "5": device("D", reading={}),  # 8.3.5289: a module gone from the site
        "deviceCount": "5",
        "deviceDataLimit": "50",
    }
    got = device_data.parse_device_data(json.dumps(body))
    assert [(i.serial, i.seconds, i.wh) for i in got.intervals] == [("A", 900, 50.0)]
    assert got.cut is False


@pytest.mark.parametrize(
    "count, limit, cut", [("6", "50", False), ("50", "50", True), (60, 50, True), (None, "50", False)]
)
def test_device_limit_compared_as_numbers(count, limit, cut):
    body = {"1": device("A"), "deviceDataLimit": limit}
    if count is not None:
        body["deviceCount"] = count
    assert device_data.parse_device_data(body).cut is cut


def test_two_channels_of_one_device_are_summed():
    dev = device("A")
    dev["channels"].append({"lastReading": {"endDate": 1_750_000_000, "duration": 900, "joulesProduced": 36_000}})
    (got,) = device_data.parse_device_data({"1": dev}).intervals
    assert got.wh == pytest.approx(60.0)


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        {"1": "pcu"},
        {"1": device("A", reading={"endDate": 1_750_000_000, "duration": 900})},
        {"1": device("A", reading={"endDate": 1_750_000_000, "duration": 1e9, "joulesProduced": 1})},
        {"1": device("A"), "deviceCount": "many"},
        {"1": {"devName": "pcu", "sn": "A", "channels": "x"}},
    ],
)
def test_malformed_device_data_is_not_understood(body):
    with pytest.raises(DataError):
        device_data.parse_device_data(body if isinstance(body, str) else json.dumps(body))


def test_device_data_asked_only_from_8_2_4345():
    assert not device_data.offered((8, 2, 4286)) and device_data.offered((8, 2, 4345)) and device_data.offered((8, 3))
