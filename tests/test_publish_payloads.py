"""What --publish sends, built from hours: the local days, the Solcast/Predbat shape, the discovery configs
and the size bound (pure functions; the broker tests are in test_publish_mqtt)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from homepower import publish as P

TZ = ZoneInfo("Europe/Amsterdam")
PREDBAT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # what Predbat's strptime takes for period_start


def hours_from(first_local: datetime, n: int, kwh=lambda i: 0.1 * i, spread: float | None = 0.5):
    start = first_local.astimezone(timezone.utc)
    out = []
    for i in range(n):
        k = kwh(i)
        p10 = None if spread is None else k * (1 - spread)
        p90 = None if spread is None else k * (1 + spread)
        out.append(P.HourForecast((start + timedelta(hours=i)).astimezone(TZ), k, p10, p90))
    return out


def test_days_are_local_days_with_all_their_hours_and_nothing_else():
    hours = hours_from(datetime(2026, 6, 1, 0, tzinfo=TZ), 24 * 4)
    days = P.day_summaries(hours, date(2026, 6, 1), TZ)
    assert [d.day for d in days] == [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)]
    assert [len(d.hours) for d in days] == [24, 24, 24]
    assert all(h.start.date() == d.day for d in days for h in d.hours)
    assert days[0].hours[0].start.hour == 0 and days[0].hours[-1].start.hour == 23


def test_the_autumn_day_has_25_hours_and_each_keeps_its_own_offset():
    hours = hours_from(datetime(2026, 10, 25, 0, tzinfo=TZ), 30)
    today = P.day_summaries(hours, date(2026, 10, 25), TZ)[0]
    assert len(today.hours) == 25
    starts = [e["period_start"] for e in P.detailed_forecast(today, TZ)]
    assert starts[2:4] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert len(set(starts)) == 25


def test_a_day_beyond_the_forecast_is_empty_and_its_state_unknown():
    hours = hours_from(datetime(2026, 6, 1, 0, tzinfo=TZ), 30)  # today and 6 hours of tomorrow
    days = P.day_summaries(hours, date(2026, 6, 1), TZ)
    assert [len(d.hours) for d in days] == [24, 6, 0]
    state = P.day_state(days[2], TZ)
    assert state["estimate"] is None and state["detailedForecast"] == [] and state["hours"] == 0
    assert P.day_state(days[1], TZ)["hours"] == 6  # partly covered: says how far


def test_state_is_exactly_the_sum_predbat_adds_up_and_the_bands_are_sums_of_the_hourly_quantiles():
    hours = hours_from(datetime(2026, 6, 1, 0, tzinfo=TZ), 24, kwh=lambda i: 1 / 3 + i / 7)
    state = P.day_state(P.day_summaries(hours, date(2026, 6, 1), TZ)[0], TZ)
    entries = state["detailedForecast"]
    assert len(entries) == 24
    # Predbat: factor = round(sum of pv_estimate / sensor state, 1) must be 1.0 (kWh per slot)
    assert round(sum(e["pv_estimate"] for e in entries) / state["estimate"], 1) == 1.0
    assert state["estimate"] == pytest.approx(sum(e["pv_estimate"] for e in entries), abs=1e-9)
    assert state["estimate10"] == pytest.approx(sum(e["pv_estimate10"] for e in entries), abs=1e-9)
    assert state["estimate90"] == pytest.approx(sum(e["pv_estimate90"] for e in entries), abs=1e-9)
    assert state["estimate10"] < state["estimate"] < state["estimate90"]
    # Predbat detects the slot length from the first two entries, parsed with its TIME_FORMAT
    t0, t1 = (datetime.strptime(e["period_start"], PREDBAT_TIME_FORMAT) for e in entries[:2])
    assert (t1 - t0) == timedelta(minutes=60)
    assert state["dayname"] == "Monday" and state["date"] == "2026-06-01"


def test_without_quantiles_the_bands_are_left_out_not_invented():
    hours = hours_from(datetime(2026, 6, 1, 0, tzinfo=TZ), 24, spread=None)
    state = P.day_state(P.day_summaries(hours, date(2026, 6, 1), TZ)[0], TZ)
    assert "estimate10" not in state and "estimate90" not in state
    assert all(set(e) == {"period_start", "pv_estimate"} for e in state["detailedForecast"])


def test_every_message_stays_under_the_bound_on_the_longest_day_with_the_largest_numbers():
    huge = hours_from(datetime(2026, 10, 25, 0, tzinfo=TZ), 25, kwh=lambda i: 123456.789012 + i)
    summaries = P.day_summaries(huge, date(2026, 10, 25), TZ)
    problem = P.Problem(69, "x" * 500)
    last = P.LastHour(datetime(2026, 10, 25, 3, tzinfo=TZ), 99999.99999)
    now = datetime(2026, 10, 25, 12, tzinfo=timezone.utc)
    messages = P.state_messages("a/" * 40 + "p", summaries, TZ, last, problem, now)
    messages += P.discovery_messages("a/" * 40 + "p", "homeassistant", "9.9.9")
    assert max(len(m.payload) for m in messages) < P.MAX_PAYLOAD_BYTES < 16 * 1024
    assert len(json.loads(messages[0].payload)["detailedForecast"]) == 25


def test_an_oversized_message_is_refused_before_sending():
    with pytest.raises(P.PayloadTooLarge):
        P.message("t", {"x": "y" * P.MAX_PAYLOAD_BYTES})


def test_discovery_is_one_device_with_the_contract_sensors_reading_their_state_topics():
    messages = P.discovery_messages("homepower", "homeassistant", "1.0")
    configs = {m.topic: json.loads(m.payload) for m in messages}
    assert set(configs) == {
        "homeassistant/sensor/homepower/pv_forecast_today/config",
        "homeassistant/sensor/homepower/pv_forecast_tomorrow/config",
        "homeassistant/sensor/homepower/pv_forecast_d3/config",
        "homeassistant/sensor/homepower/pv_energy_last_hour/config",
        "homeassistant/binary_sensor/homepower/problem/config",
    }
    assert all(m.retain for m in messages)
    devices = [c["device"] for c in configs.values()]
    assert all(d == devices[0] for d in devices) and devices[0]["name"] == "homepower"
    assert devices[0]["identifiers"] == ["homepower"]
    today = configs["homeassistant/sensor/homepower/pv_forecast_today/config"]
    assert today["state_topic"] == today["json_attributes_topic"] == "homepower/pv_forecast_today"
    assert today["unique_id"] == "homepower_pv_forecast_today"
    assert today["default_entity_id"] == "sensor.homepower_pv_forecast_today"
    assert (today["unit_of_measurement"], today["device_class"]) == ("kWh", "energy")
    problem = configs["homeassistant/binary_sensor/homepower/problem/config"]
    assert problem["device_class"] == "problem"
    assert (problem["payload_on"], problem["payload_off"]) == ("ON", "OFF")
    assert problem["expire_after"] >= 3 * 3600  # unavailable once publishing stops, not before the next run
    assert len({c["unique_id"] for c in configs.values()}) == 5


def test_another_prefix_is_another_device_with_its_own_ids():
    configs = [json.loads(m.payload) for m in P.discovery_messages("home/Power-2", "ha")]
    assert all(c["device"]["identifiers"] == ["home_power_2"] for c in configs)
    assert all(c["unique_id"].startswith("home_power_2_") for c in configs)
    assert all(c["state_topic"].startswith("home/Power-2/") for c in configs)


def test_problem_and_last_hour_states():
    now = datetime(2026, 6, 1, 10, 5, tzinfo=timezone.utc)
    messages = P.state_messages(
        "hp",
        P.day_summaries([], date(2026, 6, 1), TZ),
        TZ,
        P.LastHour(datetime(2026, 6, 1, 11, tzinfo=TZ), 1.23456789),
        P.Problem(69, "readings: none since 2026-06-01 02:00 UTC"),
        now,
    )
    by_topic = {m.topic: json.loads(m.payload) for m in messages}
    assert by_topic["hp/pv_energy_last_hour"] == {"kwh": 1.2346, "hour_start": "2026-06-01T11:00:00+02:00"}
    assert by_topic["hp/problem"]["problem"] == "ON" and by_topic["hp/problem"]["exit_code"] == 69
    assert "readings" in by_topic["hp/problem"]["reason"]
    fine = P.state_messages("hp", P.day_summaries([], date(2026, 6, 1), TZ), TZ, None, P.Problem(0), now)
    assert json.loads(fine[-1].payload)["problem"] == "OFF"
    assert json.loads(fine[-2].payload) == {"kwh": None, "hour_start": None}
