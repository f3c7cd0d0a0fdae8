"""The PV forecast services' conventions, converted to hourly kWh (pure functions, no network)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from solar3p.providers import forecast_solar as fs
from solar3p.providers import pvfile
from solar3p.providers import solcast as sc

AMS = ZoneInfo("Europe/Amsterdam")


def unix(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


# -- Forecast.Solar ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "from_north, expected",
    [(180, 0), (90, -90), (270, 90), (0, -180), (360, -180), (135, -45), (225, 45), (112.4, -68), (200.6, 21)],
)
def test_azimuth_is_forecast_solar_convention(from_north, expected):
    assert fs.azimuth(from_north) == expected


def test_plane_path_has_integer_angles_and_kwp():
    plane = fs.plane_request(8, 405, 90, 30.4)  # east, 3.24 kWp
    assert plane.path(51.92, 4.48) == "estimate/51.9200/4.4800/30/-90/3.24"


def test_query_asks_offsets_and_passes_the_horizon():
    assert fs.query(None) == {"time": "iso8601"}
    assert fs.query((0, 0, 15, 30.5)) == {"time": "iso8601", "horizon": "0,0,15,30.5"}


def answer(periods: dict, tz: str = "Europe/Amsterdam", remaining: int = 11) -> bytes:
    return json.dumps(
        {
            "result": {"watts": {}, "watt_hours_period": periods, "watt_hours": {}, "watt_hours_day": {}},
            "message": {
                "code": 0,
                "type": "success",
                "text": "",
                "info": {"timezone": tz},
                "ratelimit": {"zone": "IP", "period": 3600, "limit": 12, "remaining": remaining},
            },
        }
    ).encode()


def test_periods_keyed_by_end_go_to_the_hour_they_end_in():
    body = answer(
        {
            "2026-06-01T05:21:07+02:00": 0,  # sunrise: off the hour
            "2026-06-01T06:00:00+02:00": 40,  # 05:21-06:00 -> hour 05
            "2026-06-01T07:00:00+02:00": 250,  # hour 06
            "2026-06-01T21:00:00+02:00": 90,  # hour 20
            "2026-06-01T21:47:30+02:00": 12,  # sunset, off the hour -> hour 21
        }
    )
    estimate = fs.parse_estimate(fs.decode(body))
    hours = fs.hourly_kwh(estimate.periods)
    assert hours[unix("2026-06-01T05:00:00+02:00")] == pytest.approx(0.040)
    assert hours[unix("2026-06-01T06:00:00+02:00")] == pytest.approx(0.250)
    assert hours[unix("2026-06-01T20:00:00+02:00")] == pytest.approx(0.090)
    assert hours[unix("2026-06-01T21:00:00+02:00")] == pytest.approx(0.012)
    # the hours between without a key are 0 (the service expects nothing there), none beyond the last
    assert hours[unix("2026-06-01T12:00:00+02:00")] == 0.0
    assert max(hours) == unix("2026-06-01T21:00:00+02:00")
    assert len(hours) == 17
    assert estimate.ratelimit == fs.Ratelimit("IP", 3600, 12, 11, None)


def test_night_between_two_days_is_zero_and_the_dst_day_has_its_25_hours():
    body = answer(
        {
            "2026-10-24T18:00:00+02:00": 30,  # hour 17 local, 15 UTC
            "2026-10-24T18:40:00+02:00": 5,  # sunset -> hour 18 local
            "2026-10-25T08:00:00+01:00": 20,  # after the clocks went back: hour 07 local = 06 UTC
            "2026-10-25T09:00:00+01:00": 80,
        }
    )
    hours = fs.hourly_kwh(fs.parse_estimate(fs.decode(body)).periods)
    first, last = min(hours), max(hours)
    assert datetime.fromtimestamp(first, timezone.utc) == datetime(2026, 10, 24, 15, tzinfo=timezone.utc)
    assert datetime.fromtimestamp(last, timezone.utc) == datetime(2026, 10, 25, 7, tzinfo=timezone.utc)
    # 17:00 on the 24th to 08:00 on the 25th local is 16 clock hours, but 17 real ones (02:00 twice)
    assert len(hours) == 17
    assert hours[unix("2026-10-25T07:00:00+01:00")] == pytest.approx(0.020)
    assert sum(hours.values()) == pytest.approx(0.135)


def test_bare_local_keys_use_the_answers_zone_and_a_repeated_key_is_the_autumn_hour():
    # Without ?time=iso8601 the keys have no offset; in the autumn hour the same text comes twice.
    body = (
        b'{"result": {"watt_hours_period": {"2026-10-25 01:00:00": 100, "2026-10-25 02:00:00": 200,'
        b' "2026-10-25 02:00:00": 300, "2026-10-25 03:00:00": 400}},'
        b' "message": {"info": {"timezone": "Europe/Amsterdam"}}}'
    )
    hours = fs.hourly_kwh(fs.parse_estimate(fs.decode(body)).periods)
    utc_hours = {datetime.fromtimestamp(t, timezone.utc).hour: v for t, v in hours.items()}
    # ends: 01:00 CEST = 23 UTC, 02:00 CEST = 00 UTC, 02:00 CET = 01 UTC, 03:00 CET = 02 UTC; each the hour before
    assert utc_hours == {22: 0.1, 23: 0.2, 0: 0.3, 1: 0.4}


def test_empty_forecast_is_no_hour_and_php_empty_map_is_accepted():
    assert fs.hourly_kwh(fs.parse_estimate(fs.decode(answer([]))).periods) == {}  # type: ignore[arg-type]
    assert fs.hourly_kwh(fs.parse_estimate(fs.decode(answer({}))).periods) == {}


@pytest.mark.parametrize(
    "body, words",
    [
        (b"<html><body>Bad Gateway</body></html>", "not JSON"),
        (b'{"message": {"text": "Wrong plane"}}', "Wrong plane"),
        (b'{"result": {"watts": {}}}', "watt_hours_period"),
        (b'{"result": {"watt_hours_period": {"yesterday": 5}}}', "no time"),
        (b'{"result": {"watt_hours_period": {"2026-06-01T07:00:00+02:00": -5}}}', "-5"),
        (b'{"result": {"watt_hours_period": {"2026-06-01T07:00:00+02:00": "5"}}}', "not Wh"),
        (b'{"result": {"watt_hours_period": {"2026-06-01 07:00:00": 5}}}', "time zone"),
        # Found in review: a period far off made 10 GB of empty hours between, or ended the fetch with 70.
        (b'{"result": {"watt_hours_period": {"2026-06-01T07:00:00+02:00": 5, "2030-06-01T12:00+02:00": 1}}}', "spans"),
        (b'{"result": {"watt_hours_period": {"9999-12-31T23:59:59+14:00": 1}}}', "no time"),
        (b'{"result": {"watt_hours_period": {"0001-01-01T00:00:00-12:00": 1}}}', "no time"),
        (b'{"result": {"watt_hours_period": {"99999999999999999999": 1}}}', "no time"),
    ],
)
def test_bad_answers_say_what_is_wrong(body, words):
    with pytest.raises(fs.AnswerError, match=words):
        fs.parse_estimate(fs.decode(body))


def test_rate_limit_block_of_a_429_answer_has_retry_at():
    body = (
        b'{"result": "Rate limit for API calls reached.", "message": {"code": 429, "type": "error",'
        b' "text": "Rate limit for API calls reached.", "ratelimit": {"zone": "IP", "period": 3600,'
        b' "limit": 12, "retry-at": "2026-12-07T14:48:53+01:00"}}}'
    )
    document = fs.decode(body)
    limit = fs.parse_ratelimit(document)
    assert limit is not None and limit.limit == 12 and limit.remaining is None
    assert limit.retry_at == datetime(2026, 12, 7, 13, 48, 53, tzinfo=timezone.utc)
    assert fs.message_text(document) == "Rate limit for API calls reached."
    headers_only = fs.parse_ratelimit({}, {"X-Ratelimit-Limit": "60", "X-Ratelimit-Period": "3600"})
    assert headers_only is not None and headers_only.limit == 60 and headers_only.period_s == 3600


def test_planes_are_summed_over_the_hours_all_cover():
    east = {1: 0.5, 2: 0.25, 3: 0.0}
    west = {2: 0.125, 3: 0.5, 4: 0.75}
    assert fs.sum_planes([east, west]) == {2: 0.375, 3: 0.5}
    assert fs.sum_planes([east]) == east


# -- Solcast ----------------------------------------------------------------------------------------
def half_hours(start_utc: str, kws: list[float], p10: float = 0.8, p90: float = 1.2) -> bytes:
    t0 = datetime.fromisoformat(start_utc)
    items = []
    for i, kw in enumerate(kws):
        end = datetime.fromtimestamp(t0.timestamp() + 1800 * (i + 1), timezone.utc)
        items.append(
            {
                "pv_estimate": kw,
                "pv_estimate10": kw * p10,
                "pv_estimate90": kw * p90,
                "period_end": end.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
                "period": "PT30M",
            }
        )
    return json.dumps({"forecasts": items}).encode()


def test_half_hours_stamped_at_their_end_in_mean_kw_make_hourly_kwh():
    # 10:30-11:00 and 12:00-12:30 (UTC) are each alone in their hour: those two hours are left out
    periods = sc.parse_forecasts(json.loads(half_hours("2026-06-01T10:30:00+00:00", [1.0, 2.0, 3.0, 4.0])))
    hours, left_out = sc.hourly(periods, ZoneInfo("UTC"))
    assert left_out == 2
    assert list(hours) == [unix("2026-06-01T11:00:00+00:00")]
    hour = hours[unix("2026-06-01T11:00:00+00:00")]
    assert hour.kwh == pytest.approx(2.0 * 0.5 + 3.0 * 0.5)
    assert hour.kwh_p10 == pytest.approx(0.8 * 2.5)
    assert hour.kwh_p90 == pytest.approx(1.2 * 2.5)


def test_local_hours_of_a_half_hour_zone():
    kolkata = ZoneInfo("Asia/Kolkata")  # +05:30: the local hour 10:00-11:00 is 04:30-05:30 UTC
    periods = sc.parse_forecasts(json.loads(half_hours("2026-06-01T04:30:00+00:00", [1.0, 3.0])))
    hours, left_out = sc.hourly(periods, kolkata)
    assert left_out == 0
    assert list(hours) == [unix("2026-06-01T10:00:00+05:30")]
    assert hours[unix("2026-06-01T10:00:00+05:30")].kwh == pytest.approx(2.0)


def test_dst_autumn_day_keeps_both_of_the_repeated_hours():
    # 2026-10-25 00:00-02:00 UTC is 02:00 CEST then 02:00 CET: two local hours "02:00", two rows
    periods = sc.parse_forecasts(json.loads(half_hours("2026-10-25T00:00:00+00:00", [1.0, 1.0, 2.0, 2.0])))
    hours, _ = sc.hourly(periods, AMS)
    assert list(hours) == [unix("2026-10-25T00:00:00+00:00"), unix("2026-10-25T01:00:00+00:00")]
    assert [h.kwh for h in hours.values()] == [pytest.approx(1.0), pytest.approx(2.0)]


def test_quantiles_missing_are_none_and_sites_sum():
    doc = {
        "forecasts": [
            {"period_end": "2026-06-01T12:30:00Z", "period": "PT30M", "pv_estimate": 1.0},
            {"period_end": "2026-06-01T13:00:00Z", "period": "PT30M", "pv_estimate": 1.0},
        ]
    }
    one, _ = sc.hourly(sc.parse_forecasts(doc), ZoneInfo("UTC"))
    t = unix("2026-06-01T12:00:00+00:00")
    assert one[t] == sc.HourValue(1.0, None, None)
    two = {t: sc.HourValue(0.5, 0.25, 0.75), t + 3600: sc.HourValue(1.0, 0.5, 1.5)}
    assert sc.sum_sites([one, two]) == {t: sc.HourValue(1.5, None, None)}
    three = {t: sc.HourValue(0.25, 0.125, 0.5)}
    assert sc.sum_sites([two, three]) == {t: sc.HourValue(0.75, 0.375, 1.25)}


@pytest.mark.parametrize(
    "document, words",
    [
        ({"response_status": {"error_code": "InvalidKey", "message": "Invalid API key."}}, "Invalid API key"),
        ([], "not a JSON object"),
        ({"forecasts": [{"period_end": "2026-06-01T12:30:00", "pv_estimate": 1}]}, "offset"),
        ({"forecasts": [{"period_end": "2026-06-01T12:30:00Z", "pv_estimate": None}]}, "not kW"),
        ({"forecasts": [{"period_end": "2026-06-01T12:30:00Z", "pv_estimate": -1}]}, "not a power"),
        ({"forecasts": [{"period_end": "2026-06-01T12:30:00Z", "period": "P1D", "pv_estimate": 1}]}, "PT30M"),
        ({"forecasts": [{"period_end": "9999-12-31T23:30:00Z", "pv_estimate": 1}]}, "not a time"),
        (
            {
                "forecasts": [
                    {"period_end": "2026-06-01T12:30:00Z", "pv_estimate": 1},
                    {"period_end": "2026-06-30T12:30:00Z", "pv_estimate": 1},
                ]
            },
            "spans 29 days",
        ),
    ],
)
def test_bad_solcast_answers(document, words):
    with pytest.raises(sc.AnswerError, match=words):
        sc.parse_forecasts(document)


def test_site_ids():
    assert sc.site_ids(" abcd-1234, ef56-7890 ,abcd-1234,") == ["abcd-1234", "ef56-7890"]
    assert sc.site_ids("") == []
    with pytest.raises(ValueError, match="resource id"):
        sc.site_ids("abc/../def")


def test_next_reset_is_utc_midnight():
    now = datetime(2026, 12, 7, 23, 30, tzinfo=AMS)  # 22:30 UTC
    assert sc.next_reset(now) == datetime(2026, 12, 8, tzinfo=timezone.utc)


# -- the file ---------------------------------------------------------------------------------------
def test_file_round_trip_and_sniff(tmp_path):
    forecast = pvfile.PVForecast(
        "solcast", 1765108800, (pvfile.PVHour(1765112400, 0.5, 0.25, 0.75), pvfile.PVHour(1765116000, 0.0)), 2
    )
    path = tmp_path / "pv.json"
    pvfile.write(path, forecast)
    assert pvfile.read(path) == forecast
    assert pvfile.sniff(path) == "solcast"
    assert json.loads(path.read_text())["issued"] == "1765108800"
    meteo = tmp_path / "meteo.json"
    meteo.write_text('{"plaatsnaam": [], "forecast": [], "provider": "solcast"}')
    assert pvfile.sniff(meteo) is None


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"provider": "meteoserver", "issued": "1", "hours": []}', "not one of"),
        ('{"provider": "solcast", "issued": "soon", "hours": []}', "unix seconds"),
        ('{"provider": "solcast", "issued": "1", "hours": [{"time": 7, "kwh": 1}]}', "hour starts"),
        ('{"provider": "solcast", "issued": "1", "hours": [{"time": 3600, "kwh": "1"}]}', "not a number"),
        (
            '{"provider": "solcast", "issued": "1", "hours": [{"time": 3600, "kwh": 1}, {"time": 3600, "kwh": 1}]}',
            "repeats",
        ),
        ('{"provider": "solcast", "issued": "1", "hours": [', "truncated"),
    ],
)
def test_bad_files(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(pvfile.PVFileError, match=words) as caught:
        pvfile.read(path)
    assert caught.value.exit_code == 65
