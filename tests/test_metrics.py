"""The report's arithmetic against numbers worked out by hand (see each test's comment)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from homepower import metrics as M

D1, D2, D3 = date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)


def row(day: date, hour: int, pv, s3p=None, fc=None, lead_h=None, flags=""):
    """An hour of a UTC site: local fields equal the UTC ones."""
    ts = datetime(day.year, day.month, day.day, hour)
    return M.HourRow.from_row(
        {
            "ts_utc": ts,
            "year": day.year,
            "month": day.month,
            "day": day.day,
            "hour": hour,
            "kwh_pv": pv,
            "kwh_s3p": s3p,
            "kwh_fc": fc,
            "forecast_issued": None if lead_h is None else ts - timedelta(hours=lead_h),
            "flags": flags,
        }
    )


# Day 1 only serves persistence (before the period). In the period [D2, D4):
#   D2 10h pv 2 s3p 1.5 | 11h pv 2 s3p 3 | 12h pv 1 s3p 1   (leads 3 h)
#   D2 13h 0/0 (not counting), 14h long_gap, 15h pv unknown, 17h late_forecast: none count
#   D3 10h pv 3 s3p 2 (lead 6 h) | 16h pv 1 s3p 1 (lead 48 h; D2 has no 16h row)
ROWS = [
    row(D1, 10, 1.0),
    row(D1, 11, 2.0),
    row(D1, 12, 1.0),
    row(D2, 10, 2.0, 1.5, lead_h=3),
    row(D2, 11, 2.0, 3.0, lead_h=3),
    row(D2, 12, 1.0, 1.0, lead_h=3),
    row(D2, 13, 0.0, 0.0, lead_h=3),
    row(D2, 14, 1.0, 2.0, lead_h=3, flags="long_gap"),
    row(D2, 15, None, 1.0, lead_h=3),
    row(D2, 17, 0.5, 0.9, lead_h=-1, flags="wrap,late_forecast"),
    row(D3, 10, 3.0, 2.0, lead_h=6),
    row(D3, 16, 1.0, 1.0, lead_h=48),
]


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_hourly_metrics_over_the_counting_hours():
    j = M.judge(ROWS, D2, date(2025, 6, 4), "kwh_s3p")
    assert j is not None
    # errors (forecast - measured): -0.5, +1, 0, -1, 0; measured 2, 2, 1, 3, 1
    assert (j.hours, j.days) == (5, 2)
    assert j.measured_kwh == approx(9.0) and j.forecast_kwh == approx(8.5)
    assert j.hourly.mae == approx(2.5 / 5)
    assert j.hourly.mbe == approx(-0.5 / 5)
    assert j.hourly.rmse == approx(math.sqrt(2.25 / 5))
    assert j.hourly.nmae_pct == approx(100 * 0.5 / 1.8)


def test_hourly_skill_uses_only_hours_whose_previous_day_hour_is_known():
    j = M.judge(ROWS, D2, date(2025, 6, 4), "kwh_s3p")
    # D3 16h has no hour 24 h earlier: left out. Over the other four:
    # forecast errors -0.5, 1, 0, -1 -> RMSE 0.75; persistence 1-2, 2-2, 1-1, 2-3 -> RMSE sqrt(0.5)
    assert j.hourly_skill == approx(1 - 0.75 / math.sqrt(0.5))


def test_daily_metrics_on_local_day_sums_and_daily_skill_on_complete_days_only():
    j = M.judge(ROWS, D2, date(2025, 6, 4), "kwh_s3p")
    # D2: forecast 5.5, measured 5; D3: forecast 3, measured 4 -> errors +0.5, -1
    assert j.daily.mae == approx(0.75)
    assert j.daily.mbe == approx(-0.25)
    assert j.daily.rmse == approx(math.sqrt(0.625))
    assert j.daily.nmae_pct == approx(100 * 0.75 / 4.5)
    # D3's 16h has no row the day before: D3 is out. D2 against D1's 10-12h (4 kWh): 1 - 0.5 / 1
    assert j.daily_skill == approx(0.5)
    assert [(d.day, d.measured, d.forecast) for d in j.worst_days()] == [(D3, 4.0, 3.0), (D2, 5.0, 5.5)]


def test_lead_buckets_lower_bound_inclusive_and_month_buckets():
    j = M.judge(ROWS, D2, date(2025, 6, 4), "kwh_s3p")
    assert list(j.by_lead) == ["0-6", "6-24", "48+"]  # no hour in 24-48: absent
    short = j.by_lead["0-6"]  # -0.5, 1, 0 over measured 2, 2, 1
    assert (short.n, short.mae, short.mbe) == (3, approx(0.5), approx(0.5 / 3))
    assert short.rmse == approx(math.sqrt(1.25 / 3)) and short.nmae_pct == approx(30.0)
    six = j.by_lead["6-24"]  # exactly 6 h: the 6-24 bucket; -1 over 3
    assert (six.n, six.mae, six.mbe, six.rmse) == (1, 1.0, -1.0, 1.0) and six.nmae_pct == approx(100 / 3)
    far = j.by_lead["48+"]
    assert (far.n, far.mae, far.nmae_pct) == (1, 0.0, 0.0)
    assert list(j.by_month) == ["2025-06"] and j.by_month["2025-06"] == j.hourly


def test_the_json_has_the_contracts_keys_and_null_for_a_forecast_without_counting_hours():
    out = M.report(ROWS, D2, date(2025, 6, 4), "2025-06-04").as_dict()
    assert out["from"] == "2025-06-02" and out["to"] == "2025-06-04"
    assert out["forecasts"]["kwh_fc"] is None
    s3p = out["forecasts"]["kwh_s3p"]
    assert set(s3p) == {"hours", "days", "measured_kwh", "forecast_kwh", "hourly", "daily", "by_lead", "by_month"}
    assert set(s3p["hourly"]) == set(s3p["daily"]) == {"mae", "mbe", "rmse", "nmae_pct", "skill"}
    assert set(s3p["by_lead"]["0-6"]) == {"hours", "mae", "mbe", "rmse", "nmae_pct"}
    assert s3p["by_month"]["2025-06"]["hours"] == 5


def test_what_cannot_be_computed_is_none():
    # measured 0 everywhere (forecast above 0, so the hours count): no nMAE; no day before: no skill
    rows = [row(D2, 12, 0.0, 1.0), row(D2, 13, 0.0, 0.5)]
    j = M.judge(rows, D2, D3, "kwh_s3p")
    assert j.hourly.mae == approx(0.75) and j.hourly.nmae_pct is None
    assert j.hourly_skill is None and j.daily_skill is None and j.daily.nmae_pct is None
    assert j.by_lead == {}  # no forecast_issued: no lead bucket
    assert M.judge(rows, D3, date(2025, 6, 4), "kwh_s3p") is None


def test_a_perfect_persistence_gives_no_skill_rather_than_infinity():
    rows = [row(D1, 12, 1.0), row(D2, 12, 1.0, 2.0)]
    assert M.judge(rows, D2, D3, "kwh_s3p").hourly_skill is None


def test_each_forecast_has_its_own_counting_hours():
    rows = [row(D2, 10, 1.0, 2.0, 1.5), row(D2, 11, 1.0, None, 0.5), row(D2, 12, 0.0, 0.0, 0.2)]
    rep = M.report(rows, D2, D3)
    assert rep.judged["kwh_s3p"].hours == 1 and rep.judged["kwh_s3p"].forecast_kwh == approx(2.0)
    fc = rep.judged["kwh_fc"]
    assert fc.hours == 3 and fc.measured_kwh == approx(2.0) and fc.forecast_kwh == approx(2.2)


def test_local_days_and_months_come_from_the_rows_local_fields():
    # 2025-06-30 23:00 UTC is 2025-07-01 01:00 in Amsterdam: a July hour, a July day
    ts = datetime(2025, 6, 30, 23)
    r = M.HourRow(ts, 2025, 7, 1, 1, 1.0, 2.0)
    j = M.judge([r], date(2025, 7, 1), date(2025, 7, 2), "kwh_s3p")
    assert list(j.by_month) == ["2025-07"] and j.day_sums[0].day == date(2025, 7, 1)
    assert M.judge([r], date(2025, 6, 30), date(2025, 7, 1), "kwh_s3p") is None


def test_daily_persistence_needs_every_clock_hour_of_the_previous_day_known():
    rows = [row(D1, 11, 1.0), row(D1, 12, None), row(D2, 11, 2.0, 2.5), row(D2, 12, 1.0, 1.0)]
    assert M.judge(rows, D2, D3, "kwh_s3p").daily_skill is None
    rows[1] = row(D1, 12, 1.0)  # D1 now gives 2 kWh over 11-12h; D2: forecast 3.5, measured 3
    assert M.judge(rows, D2, D3, "kwh_s3p").daily_skill == approx(1 - 0.5 / 1.0)


def test_lead_bucket_edges():
    assert [M.lead_bucket(h) for h in (0, 5.99, 6, 23.9, 24, 47.9, 48, 500)] == [
        "0-6",
        "0-6",
        "6-24",
        "6-24",
        "24-48",
        "24-48",
        "48+",
        "48+",
    ]
    assert M.lead_bucket(-0.5) is None and M.lead_bucket(None) is None
