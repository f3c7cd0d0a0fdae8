"""The PV services judged beside solar3p: the join rule without late fallback, each service's entry in the
report, and the ranking per lead bucket on the hours every ranked forecast has (pure, then pv_report.py
over both databases)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homepower import metrics as M
from homepower.forecast_join import service_picks
from test_report import TZ, hour_row, run

H = timedelta(hours=1)
UTC_ZONE = ZoneInfo("UTC")
NOON = datetime(2025, 6, 10, 10)  # naive UTC, 12:00 local


# -- the join for services ----------------------------------------------------------------------------
def test_service_join_takes_the_last_issued_before_the_lead_and_never_a_late_one():
    issues = [(NOON - 30 * H, 1.0), (NOON - 20 * H, 2.0), (NOON - 2 * H, 3.0), (NOON + H, 9.0)]
    assert service_picks(issues, NOON, 0.0, M.LEAD_BUCKETS).joined == (3.0, NOON - 2 * H)
    assert service_picks(issues, NOON, 24.0, M.LEAD_BUCKETS).joined == (1.0, NOON - 30 * H)
    # only a forecast issued after the hour began: none (no late fallback)
    assert service_picks([(NOON + H, 9.0)], NOON, 0.0, M.LEAD_BUCKETS).joined is None
    assert service_picks(issues[:1], NOON, 48.0, M.LEAD_BUCKETS).joined is None


def test_service_bucket_picks_are_the_last_issue_of_that_lead():
    issues = [(NOON - 30 * H, 1.0), (NOON - 20 * H, 2.0), (NOON - 2 * H, 3.0)]
    picks = service_picks(issues, NOON, 0.0, M.LEAD_BUCKETS).by_bucket
    assert picks == {"0-6": (3.0, NOON - 2 * H), "6-24": (2.0, NOON - 20 * H), "24-48": (1.0, NOON - 30 * H)}
    # nothing issued 6-24 h before: the 6-24 bucket's last issue at least 6 h before is 30 h old: not in it
    sparse = service_picks([issues[0], issues[2]], NOON, 0.0, M.LEAD_BUCKETS).by_bucket
    assert set(sparse) == {"0-6", "24-48"}


# -- metrics ------------------------------------------------------------------------------------------
def row(ts: datetime, pv: float | None, s3p=None, fc=None, issued=None, flags="", services=None) -> M.HourRow:
    local = (ts + 2 * H).replace()  # CEST: enough for one June day
    return M.HourRow(
        ts_utc=ts,
        year=local.year,
        month=local.month,
        day=local.day,
        hour=local.hour,
        kwh_pv=pv,
        kwh_s3p=s3p,
        kwh_fc=fc,
        forecast_issued=issued,
        flags=frozenset(f for f in flags.split(",") if f),
        services=services or {},
    )


def test_a_service_is_judged_with_the_same_keys_and_its_own_lead():
    hours = [NOON + i * H for i in range(4)]
    rows = [
        row(
            t,
            1.0,
            s3p=1.5,
            issued=t - H,
            flags="late_forecast" if i == 0 else "",
            services={"solcast": M.ServiceForecast(0.5, t - 30 * H)},
        )
        for i, t in enumerate(hours)
    ]
    result = M.report(rows, date(2025, 6, 10), date(2025, 6, 11), by_lead={})
    solcast = result.judged["solcast"]
    assert solcast is not None and result.judged["forecast.solar"] is None
    # late_forecast is the row's weather: solcast's four hours all count, solar3p's three
    assert solcast.hours == 4 and result.judged["kwh_s3p"].hours == 3  # type: ignore[union-attr]
    assert solcast.hourly.mbe == pytest.approx(-0.5)
    assert list(solcast.by_lead) == ["24-48"]
    # the keys of kwh_fc's entry: kwh_s3p's and the band ("probabilistic", null without quantiles)
    keys = set(result.as_dict()["forecasts"]["solcast"])
    assert keys == set(result.as_dict()["forecasts"]["kwh_s3p"]) | {"probabilistic"}


def test_ranking_is_on_the_common_hours_best_first():
    hours = [NOON + i * H for i in range(6)]
    rows = [row(t - 24 * H, 1.0) for t in hours]  # the day before: persistence 1.0
    rows += [row(t, 2.0, s3p=2.5, fc=2.1, issued=t - 2 * H) for t in hours]
    by_lead = {
        "0-6": {"solcast": {t: 1.95 for t in hours[:4]}, "forecast.solar": {t: 3.0 for t in hours}},
        "24-48": {"solcast": {t: 1.0 for t in hours}},
    }
    ranking = M.ranking(rows, date(2025, 6, 10), date(2025, 6, 11), by_lead)
    zero_six = ranking["0-6"]
    assert [e.forecast for e in zero_six] == ["solcast", "kwh_fc", "kwh_s3p", "forecast.solar"]
    assert all(e.hours == 4 for e in zero_six)  # solcast has 4 of the 6 hours: all compared on those
    assert zero_six[0].nmae_pct == pytest.approx(2.5)
    assert zero_six[1].mbe == pytest.approx(0.1)
    assert zero_six[0].skill == pytest.approx(1 - 0.05 / 1.0)
    # day-ahead: only solcast has forecasts of that lead; solar3p's issue was 2 h before
    assert [(e.forecast, e.hours) for e in ranking["24-48"]] == [("solcast", 6)]
    assert "6-24" not in ranking


def test_a_forecast_with_a_few_stray_hours_in_a_bucket_is_not_ranked_there():
    hours = [NOON + i * H for i in range(8)]
    rows = [row(t, 2.0, s3p=2.5, issued=t - (8 * H if i == 0 else 2 * H)) for i, t in enumerate(hours)]
    by_lead = {"6-24": {"solcast": {t: 1.9 for t in hours}}}
    ranking = M.ranking(rows, date(2025, 6, 10), date(2025, 6, 11), by_lead)
    assert [(e.forecast, e.hours) for e in ranking["6-24"]] == [("solcast", 8)]  # solar3p's 1 of 8: not ranked


# -- pv_report.py over the databases ------------------------------------------------------------------
def pv_rows(provider: str, issued: datetime, values: dict[datetime, float], band: bool = False) -> list[dict]:
    return [
        {
            "ts_utc": t,
            "issued_utc": issued,
            "provider": provider,
            "kwh": v,
            "kwh_p10": v * 0.8 if band else None,
            "kwh_p90": v * 1.2 if band else None,
        }
        for t, v in values.items()
    ]


def test_report_ranks_solar3p_and_the_services_and_the_page_opens_with_it(store, db_url, tmp_path):
    day = [datetime(2025, 6, 10, h) for h in range(4, 18)]  # 06:00-19:00 local
    measured = {t: 0.2 + 0.1 * abs(10 - t.hour) % 1.5 for t in day}
    store.upsert(
        "pvhistory",
        [hour_row(t, TZ, measured[t], s3p=measured[t] * 1.2, fc=measured[t] * 1.05, issued=t - 3 * H) for t in day],
    )
    evening = datetime(2025, 6, 9, 16)  # the day before: day-ahead forecasts
    store.store_forecasts(pv_rows("solcast", evening, {t: measured[t] * 0.9 for t in day}), table="pv_forecast")
    store.store_forecasts(
        pv_rows("solcast", datetime(2025, 6, 10, 3), {t: measured[t] * 0.98 for t in day}, band=True),
        table="pv_forecast",
    )
    store.store_forecasts(
        pv_rows("forecast.solar", datetime(2025, 6, 10, 2), {t: measured[t] * 1.5 for t in day}), table="pv_forecast"
    )
    # issued after its hours began: judged nowhere (no late fallback)
    store.store_forecasts(pv_rows("forecast.solar", datetime(2025, 6, 10, 20), {day[0]: 99.0}), table="pv_forecast")

    done = run(tmp_path, db_url, "--from", "2025-06-10", "--to", "2025-06-11", "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    forecasts = report["forecasts"]
    assert set(forecasts) == {"kwh_s3p", "kwh_fc", "forecast.solar", "solcast"}
    assert forecasts["solcast"]["hours"] == 14 and set(forecasts["solcast"]) == set(forecasts["kwh_fc"])
    assert forecasts["forecast.solar"]["hourly"]["mbe"] == pytest.approx(0.5 * sum(measured.values()) / 14)
    # Solcast's band judged like the calibrated forecast's: measured = forecast / 0.98, inside [0.8, 1.2] x it
    band = forecasts["solcast"]["probabilistic"]
    assert band["hours"] == 14 and band["coverage_pct"] == 100.0 and band["below_pct"] == 0.0
    assert band["width_kwh"] == pytest.approx(0.4 * 0.98 * sum(measured.values()) / 14)
    assert list(band["by_lead"]) == ["0-6", "6-24"]  # issued 03:00 UTC for 04:00-17:00
    assert forecasts["forecast.solar"]["probabilistic"] is None  # it gives no quantiles
    ranking = report["ranking"]
    assert [e["forecast"] for e in ranking["0-6"]] == ["solcast", "kwh_fc", "kwh_s3p", "forecast.solar"]
    # 6-24 h: Forecast.Solar's 02:00 UTC issue for the hours from 08:00 UTC, Solcast's too: on those 10 hours
    assert [(e["forecast"], e["hours"]) for e in ranking["6-24"]] == [("solcast", 10), ("forecast.solar", 10)]
    assert [(e["forecast"], e["hours"]) for e in ranking["24-48"]] == [("solcast", 2)]  # 16:00, 17:00 UTC
    assert ranking["0-6"][0]["nmae_pct"] == pytest.approx(2.0)

    with_lead = run(
        tmp_path, db_url, "--from", "2025-06-10", "--to", "2025-06-11", "--format", "json", FORECAST_MIN_LEAD_H="6"
    )
    lead6 = json.loads(with_lead.stdout)["forecasts"]
    # the last issue at least 6 h before each hour: 03:00's from 09:00 on, the evening's before
    factor = {t: 0.98 if t - 6 * H >= datetime(2025, 6, 10, 3) else 0.9 for t in day}
    expected = sum((factor[t] - 1) * measured[t] for t in day) / 14
    assert lead6["solcast"]["hourly"]["mbe"] == pytest.approx(expected)
    assert lead6["forecast.solar"]["hours"] == 10  # issued 02:00: at least 6 h before the hours from 08:00 only

    out = tmp_path / "out"
    page = run(tmp_path, db_url, "--from", "2025-06-10", "--to", "2025-06-11", "--out", str(out))
    assert page.returncode == 0, page.stderr
    assert "ranking by lead time" in page.stdout and "Solcast" in page.stdout
    assert "Solcast P10-P90 band          100 % of 14 h inside" in page.stdout
    text = (out / "report.html").read_text()
    first_table = re.search(r"<table[^>]*>", text)
    assert first_table is not None and 'class="ranking"' in first_table.group(0)
    assert text.index("Which forecast to trust") < text.index("<figure")


# -- the whole way: fetch over a socket, the collector's archive, the report's ranking ----------------
def test_a_solcast_download_is_archived_by_the_collector_and_ranked_by_the_report(store, db_url, tmp_path):
    import os
    import subprocess
    import sys

    from test_pv_archive import run_script
    from tests.fakes.pvservices import FakePVServices

    state = tmp_path / "state"
    with FakePVServices() as fake:
        env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
        env.update(
            {
                "HOMEPOWER_ENV_FILE": "none",
                "STATE_DIR": str(state),
                "SITE_TIMEZONE": "Europe/Amsterdam",
                "SOLCAST_URL": fake.url,
                "SOLCAST_KEY": fake.solcast_key,
                "SOLCAST_SITE": next(iter(fake.sites)),
                "NO_PROXY": "127.0.0.1",
            }
        )
        done = subprocess.run(
            [sys.executable, "-m", "solar3p", "fetch", "--source", "solcast"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    collected = run_script(tmp_path, db_url)
    assert collected.returncode == 0, collected.stderr
    archived = store.fetch("pv_forecast", ["ts_utc", "issued_utc", "kwh"])
    assert archived and sum(r["issued_utc"] >= r["ts_utc"] for r in archived) <= 1  # the hour begun, at most
    # the panels then produce 90 % of what Solcast said, and solar3p's forecast (issued 2 h before) is 30 % high
    forecast = {r["ts_utc"]: float(r["kwh"]) for r in archived}
    issued = archived[0]["issued_utc"]
    hours = sorted(t for t, v in forecast.items() if v > 0 and t > issued)[:30]
    store.upsert(
        "pvhistory",
        [hour_row(t, TZ, forecast[t] * 0.9, s3p=forecast[t] * 1.3, issued=t - 2 * H) for t in hours],
    )
    first = min(hours).replace(tzinfo=UTC_ZONE).astimezone(TZ).date()
    last = max(hours).replace(tzinfo=UTC_ZONE).astimezone(TZ).date()
    report = run(tmp_path, db_url, "--from", str(first), "--to", str(last + timedelta(days=1)), "--format", "json")
    assert report.returncode == 0, report.stderr
    result = json.loads(report.stdout)
    assert result["forecasts"]["solcast"]["hours"] == 30
    assert result["forecasts"]["solcast"]["hourly"]["nmae_pct"] == pytest.approx(100 / 9, rel=1e-3)
    assert result["forecasts"]["forecast.solar"] is None
    # in whichever buckets the download's leads fall (it depends on the hour the test runs), Solcast's error
    # is 1/0.9 - 1 and solar3p's 1.3/0.9 - 1 on any set of hours: Solcast first wherever both are ranked
    seen = 0
    for entries in result["ranking"].values():
        nmae = {e["forecast"]: e["nmae_pct"] for e in entries}
        if "solcast" in nmae:
            seen += 1
            assert nmae["solcast"] == pytest.approx(100 / 9, rel=1e-3)
            assert entries[0]["forecast"] == "solcast"
        if "kwh_s3p" in nmae:
            assert nmae["kwh_s3p"] == pytest.approx(100 * 0.4 / 0.9, rel=1e-3)
    assert seen >= 1


def test_the_pages_ranking_shows_an_unknown_nmae_as_n_a_without_a_unit():
    """Hours measured at 0 (a service forecast a little at dawn): nMAE cannot be computed; the page's first
    table said 'n/a %'."""
    from homepower.charts import _ranking_table

    hours = [NOON + i * H for i in range(3)]
    rows = [row(t, 0.0) for t in hours]
    ranked = M.ranking(rows, date(2025, 6, 10), date(2025, 6, 11), {"24-48": {"solcast": {t: 0.1 for t in hours}}})
    assert ranked["24-48"][0].nmae_pct is None
    table = _ranking_table(M.Report(start=date(2025, 6, 10), end_text="2025-06-11", judged={}, ranking=ranked))
    assert "<td>n/a</td>" in table and "n/a %" not in table
