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
    assert [r.serial for r in got.reports] == ["1", "4"] and got.skipped == []
    assert got.reports[0].report_utc == datetime(2025, 6, 15, 15, 6, 40) and got.reports[0].watts == 200.0


@pytest.mark.parametrize("body", ["{}", "[" * 100_000, "[1, 2", '{"serialNumber": "1"}'])
def test_an_answer_that_is_no_list_of_inverters_is_not_understood(body):
    with pytest.raises(DataError):
        inverters.parse_inverters(body)


@pytest.mark.parametrize(
    "bad, named, why",
    [
        (entry("9", watts="200"), "9", "not a number"),
        (entry("9", watts=-500), "9", "below -50"),
        (entry("9", watts=350), "9", "above its maxReportWatts=300"),
        (entry("9", watts=5000, maxReportWatts=6000), "9", "beyond the plausible"),
        (entry("9", watts=1e9), "9", "beyond the plausible"),
        (entry("9", date=-5), "9", "not a plausible report time"),
        (entry("9", date=99_999_999_999), "9", "not a plausible report time"),
        (entry("9", date="soon"), "9", "not a number"),
        ({"serialNumber": "9"}, "9", "no lastReportDate"),
        (entry(serial=""), "an entry", "not an inverter serial"),
        (entry(serial="x" * 40), "an entry", "not an inverter serial"),
        (1, "an entry", "not an object"),
    ],
)
def test_one_implausible_entry_is_left_out_and_named_the_others_kept(bad, named, why):
    got = inverters.parse_inverters(json.dumps([entry("1"), bad, entry("2")]))
    assert [r.serial for r in got.reports] == ["1", "2"]
    (skipped,) = got.skipped
    assert skipped.startswith(named) and why in skipped and "nothing stored" not in skipped


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


@pytest.mark.parametrize("body", ["[]", {"1": device("A"), "deviceCount": "many"}])
def test_malformed_device_data_is_not_understood(body):
    with pytest.raises(DataError):
        device_data.parse_device_data(body if isinstance(body, str) else json.dumps(body))


@pytest.mark.parametrize(
    "bad, named",
    [
        ("pcu", "has a device '9'"),
        (device("X", reading={"endDate": 1_750_000_000, "duration": 900}), "X: has no joulesProduced"),
        (device("X", reading={"endDate": 1_750_000_000, "duration": 1e9, "joulesProduced": 1}), "X: gave duration"),
        ({"devName": "pcu", "sn": "X", "channels": "x"}, "gives X no list of channels"),
    ],
)
def test_one_malformed_device_is_left_out_and_named_the_others_kept(bad, named):
    got = device_data.parse_device_data({"1": device("A"), "9": bad, "2": device("B")})
    assert [i.serial for i in got.intervals] == ["A", "B"]
    (skipped,) = got.skipped
    assert skipped.startswith(named), skipped


def test_device_data_asked_only_from_8_2_4345():
    assert not device_data.offered((8, 2, 4286)) and device_data.offered((8, 2, 4345)) and device_data.offered((8, 3))


def test_a_micro_inverter_drawing_a_few_watts_at_dusk_is_a_report_not_a_fault():
    # Seen on real gateways (-7 and -15 W after sunset): no nightly warning, the value kept as reported.
    got = inverters.parse_inverters(json.dumps([entry("1", watts=-7), entry("2", watts=0)]))
    assert [(r.serial, r.watts) for r in got.reports] == [("1", -7.0), ("2", 0.0)] and got.skipped == []
