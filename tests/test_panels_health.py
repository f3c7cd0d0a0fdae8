"""Panel health end to end: a synthetic roof's record (tests/fakes/roof.py, tests/panel_synth.py) written
through the store on SQLite and MariaDB, then ``pv_report.py`` (JSON, the HTML chart) and ``--status`` run as
a user runs them. The roof has two planes, a weak panel and one that died: both must be found, by name."""

from __future__ import annotations

import json
import struct
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fakes.roof import Roof, daily_weather, utc_ts
from homepower import panel_health as H
from panel_synth import store_record
from test_report import NOW, healthy, hour_row, run

TZ_NAME = "Europe/Amsterdam"
FIRST = date(2025, 5, 20)
DAYS = (NOW.date() - FIRST).days  # the record runs up to NOW's day
ARRAYS = "6x400@E/30;6x400@W/30"


def roof(weak: float = 0.8, dead_hours_ago: float | None = 50.0, seed: int = 7) -> Roof:
    r = Roof.planes([(6, 90, 30), (6, 270, 30)], weather=daily_weather(seed), seed=seed)
    r.panels[2].factor = weak  # an east panel, soiled or failing
    if dead_hours_ago is not None:
        r.panels[9].dies_at = NOW.replace(tzinfo=timezone.utc).timestamp() - dead_hours_ago * 3600  # a west one
    return r


def record(store, r: Roof, until: datetime = NOW) -> None:
    days = (until.date() - FIRST).days
    store_record(store, r, FIRST, days)
    # today up to ``until``
    part = [row for row in _today(r, until)]
    store.insert_new("inverter_reading", part)


def _today(r: Roof, until: datetime):
    from panel_synth import readings

    for row in readings(r, until.date(), 1):
        if row["report_utc"] < until:
            yield row


def pvhistory(store, start: date, end: date) -> None:
    hours = []
    t = datetime.combine(start, datetime.min.time()) - timedelta(hours=2)
    while t < datetime.combine(end, datetime.min.time()):
        hours.append(hour_row(t, ZoneInfo(TZ_NAME), 1.0 if 5 <= t.hour <= 18 else 0.0, 1.1))
        t += timedelta(hours=1)
    store.upsert("pvhistory", hours)


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_report_finds_the_weak_and_the_silent_panel_by_name(store, db_url, tmp_path):
    r = roof()
    record(store, r)
    pvhistory(store, date(2025, 5, 25), NOW.date())
    done = run(
        tmp_path,
        db_url,
        "--from",
        "2025-05-25",
        "--to",
        NOW.date().isoformat(),
        "--format",
        "json",
        "--out",
        str(tmp_path / "out"),
        PV_ARRAYS=ARRAYS,
    )
    assert done.returncode == 0, done.stderr
    panels = json.loads(done.stdout)["panels"]
    east = [p.serial for p in r.panels[:6]]
    west = [p.serial for p in r.panels[6:]]
    assert panels["count"] == 12
    assert panels["groups"] == {"E/30": east, "W/30": west}
    assert panels["silent"] == [r.panels[9].serial]
    (low,) = panels["low"]
    assert low["serial"] == r.panels[2].serial and low["group"] == "E/30"
    assert low["ratio"] == pytest.approx(0.8, abs=0.04)
    assert low["since"] <= "2025-05-25"  # weak from the start of the record
    out = tmp_path / "out"
    width, height = png_size(out / "panels.png")
    assert width >= 300 and height >= 300
    page = (out / "report.html").read_text()
    assert 'src="panels.png"' in page and r.panels[2].serial in page and "http" not in page.split("<body>")[1]


def test_without_pv_arrays_the_planes_are_learned(store, db_url, tmp_path):
    r = roof(weak=1.0, dead_hours_ago=None)
    record(store, r)
    pvhistory(store, date(2025, 6, 1), NOW.date())
    done = run(tmp_path, db_url, "--from", "2025-06-01", "--to", NOW.date().isoformat(), "--format", "json")
    assert done.returncode == 0, done.stderr
    panels = json.loads(done.stdout)["panels"]
    assert panels["groups"] == {"A": [p.serial for p in r.panels[:6]], "B": [p.serial for p in r.panels[6:]]}
    assert panels["silent"] == [] and panels["low"] == []


def test_pv_arrays_that_do_not_match_are_said(store, db_url, tmp_path):
    r = roof(weak=1.0, dead_hours_ago=None)
    record(store, r)
    pvhistory(store, date(2025, 6, 1), NOW.date())
    done = run(
        tmp_path,
        db_url,
        "--from",
        "2025-06-01",
        "--to",
        NOW.date().isoformat(),
        "--format",
        "json",
        PV_ARRAYS="8x400@E/30;4x400@W/30",
    )
    panels = json.loads(done.stdout)["panels"]
    assert "check PV_ARRAYS" in panels["arrays_note"]
    assert sorted(len(m) for m in panels["groups"].values()) == [6, 6]


def test_status_names_the_silent_and_the_low_panel_and_exits_69(store, db_url, tmp_path):
    healthy(store, tmp_path)
    r = roof()
    record(store, r)
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat(), PV_ARRAYS=ARRAYS)
    assert done.returncode == 69, done.stdout + done.stderr
    assert "PANEL PROBLEM" in done.stdout and "11 of 12 reporting (E/30 6, W/30 6), 1 silent, 1 low" in done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("panels: ")
    assert f"panel {r.panels[9].serial} silent" in line
    assert f"panel {r.panels[2].serial} 20 % below" in line or f"panel {r.panels[2].serial} 19 % below" in line
    assert "E/30" in line


def test_status_of_a_healthy_roof_exits_0(store, db_url, tmp_path):
    healthy(store, tmp_path)
    record(store, roof(weak=0.97, dead_hours_ago=None))
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "12 reporting (A 6, B 6), none silent or low" in done.stdout


def test_a_panel_dead_since_this_morning_is_not_silent_yet_but_is_within_a_day(store, db_url, tmp_path):
    healthy(store, tmp_path)
    r = roof(weak=1.0, dead_hours_ago=6)  # died at 06:00 UTC, in daylight
    record(store, r)
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    tomorrow = NOW + timedelta(days=1)
    record(store, r, tomorrow)
    store.upsert(
        "enphase_production",
        [{"ts_utc": tomorrow, "year": 2025, "month": 6, "day": 11, "hour": 14, "minute": 0, "wattHoursLifetime": 1.0}],
    )
    done = run(tmp_path, db_url, "--status", "--now", tomorrow.isoformat())
    assert f"panel {r.panels[9].serial} silent" in done.stderr


def test_a_panel_reporting_zero_watts_is_silent(store, db_url, tmp_path):
    healthy(store, tmp_path)
    r = roof(weak=1.0, dead_hours_ago=None)
    broken = r.panels[4]
    record(store, r)
    store.execute(
        f"UPDATE inverter_reading SET watts = 0 WHERE serial = {store.dialect.placeholder} AND report_utc >= "
        f"{store.dialect.placeholder}",
        (broken.serial, store.dialect.to_db(NOW - timedelta(days=2))),
    )
    store.commit()
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 69 and f"panel {broken.serial} silent" in done.stderr


def test_inverters_gone_before_the_record_began_are_not_counted(store, db_url, tmp_path):
    healthy(store, tmp_path)
    r = roof(weak=1.0, dead_hours_ago=None)
    record(store, r)
    # 4.2.33 lists 32 inverters last heard of in 2018: the first poll stores their last reports once
    old = datetime(2018, 9, 10, 12, 0)
    store.insert_new(
        "inverter_reading",
        [
            {
                "serial": f"12162203{k:04d}",
                "report_utc": old,
                "watts": 2.0,
                "max_watts": 2.0,
                "ts_utc": datetime.combine(FIRST, datetime.min.time()),
            }
            for k in range(3)
        ],
    )
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    assert "12 reporting" in done.stdout


def test_no_panel_record_no_panels_block(store, db_url, tmp_path):
    pvhistory(store, date(2025, 6, 1), date(2025, 6, 5))
    done = run(tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-05", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "panels" not in json.loads(done.stdout)


# -- the pure part -----------------------------------------------------------------------------------
def hours_of(r: Roof, first: date, days: int) -> list[H.PanelHour]:
    """Hourly means of every panel's reports, as the store gives them."""
    sums: dict[tuple[str, datetime], list[float]] = {}
    for panel in r.panels:
        for t, w in r.reports(panel, utc_ts(first), utc_ts(first, 24 * days)):
            hour = datetime.fromtimestamp(t - t % 3600, timezone.utc).replace(tzinfo=None)
            sums.setdefault((panel.serial, hour), []).append(round(w))
    return [H.PanelHour(s, h, sum(v) / len(v)) for (s, h), v in sums.items()]


def test_a_panel_shaded_in_the_morning_is_low_not_a_group_of_its_own():
    r = roof(weak=1.0, dead_hours_ago=None)
    hours = hours_of(r, FIRST, DAYS)
    shaded = r.panels[7].serial  # a west panel, shaded until 11:00 UTC
    hours = [h._replace(wh=h.wh * 0.2) if h.serial == shaded and h.hour_utc.hour < 11 else h for h in hours]
    spans = {p.serial: (datetime(2025, 5, 10), NOW) for p in r.panels}
    end = datetime.combine(NOW.date(), datetime.min.time())
    health = H.analyse(hours, spans, end, ZoneInfo(TZ_NAME), planes=[H.Plane(6, 90, 30), H.Plane(6, 270, 30)])
    assert health.groups["W/30"] == sorted(p.serial for p in r.panels[6:])
    assert [low.serial for low in health.low] == [shaded]


def test_sunny_days_are_the_bright_ones():
    daily = {"a": {date(2025, 6, d): (1000.0 if d % 2 else 300.0) for d in range(1, 21)}}
    sunny = H.sunny_days(daily)
    assert sunny == [date(2025, 6, d) for d in range(1, 21) if d % 2]


def test_settled_hours_are_summed_up_once_and_the_rest_read_from_the_reports(store, db_url, tmp_path):
    healthy(store, tmp_path)
    r = roof()
    record(store, r)
    first = run(tmp_path, db_url, "--status", "--now", NOW.isoformat(), PV_ARRAYS=ARRAYS)
    (hours, newest) = store.execute("SELECT COUNT(*), MAX(hour_utc) FROM inverter_hour", fetch=True)[0]
    assert hours > 0 and str(newest) < str(NOW - timedelta(hours=1))  # the last hour is not frozen half-reported
    again = run(tmp_path, db_url, "--status", "--now", NOW.isoformat(), PV_ARRAYS=ARRAYS)
    assert (again.returncode, again.stderr) == (first.returncode, first.stderr) == (69, first.stderr)
    assert store.execute("SELECT COUNT(*) FROM inverter_hour", fetch=True)[0][0] == hours


def test_a_record_that_stopped_is_said_once_not_as_every_panel_silent(store, db_url, tmp_path):
    healthy(store, tmp_path)
    record(store, roof(weak=1.0, dead_hours_ago=None), NOW - timedelta(days=3))
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 69
    (line,) = done.stderr.strip().splitlines()
    assert "no panel has reported since" in line and "silent" not in line
    off = run(tmp_path, db_url, "--status", "--now", NOW.isoformat(), ENVOY_INVERTERS="off")
    assert off.returncode == 0 and "panels" not in off.stdout


def test_a_replaced_micro_inverter_is_not_counted():
    r = roof(weak=0.7, dead_hours_ago=None)
    hours = hours_of(r, FIRST, DAYS)
    end = datetime.combine(NOW.date(), datetime.min.time())
    spans = {p.serial: (datetime(2025, 5, 20), end) for p in r.panels}
    # the old inverter of panel 0 stopped on 2025-05-25; its replacement reports from the 27th
    spans["121600000001"] = (datetime(2025, 5, 1), datetime(2025, 5, 25, 12))
    spans[r.panels[0].serial] = (datetime(2025, 5, 27, 6), end)
    health = H.analyse(hours, spans, end, ZoneInfo(TZ_NAME), record_start=datetime(2025, 5, 1))
    assert health.count == 12 and health.not_counted == ["121600000001"]
    assert [s.serial for s in health.silent] == []
    assert [low.serial for low in health.low] == [r.panels[2].serial]


def test_a_roof_listed_only_in_device_data_is_judged_from_its_energy(tmp_path):
    """8.3.5167 has /ivp/pdm/device_data and no /api/v1/production/inverters: inverter_energy alone."""
    from homepower import panel_check
    from homepower.settings import DatabaseConfig, PVSettings
    from homepower.store import connect

    r = roof(weak=0.75, dead_hours_ago=None)
    rows = []
    for panel in r.panels:
        for t, w in r.reports(panel, utc_ts(FIRST), utc_ts(FIRST, 24 * DAYS)):
            end = datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None)
            rows.append(
                {"serial": panel.serial, "end_utc": end, "seconds": panel.period_s, "wh": w * panel.period_s / 3600}
            )
    with connect(DatabaseConfig(kind="sqlite", path=tmp_path / "hp.db"), ZoneInfo(TZ_NAME)) as store:
        store.insert_new("inverter_energy", rows)
        end = datetime.combine(NOW.date(), datetime.min.time())
        health = panel_check.read(store, end - timedelta(days=45), end, ZoneInfo(TZ_NAME), PVSettings(), NOW)
    assert health is not None and health.count == 12
    assert sorted(len(m) for m in health.groups.values()) == [6, 6]
    assert [low.serial for low in health.low] == [r.panels[2].serial]


def test_panel_hours_are_typed_records(store):
    from homepower.store import PanelHour

    hour = datetime(2025, 6, 1, 10)
    store.insert_new(
        "inverter_reading",
        [
            {
                "serial": "482200000001",
                "report_utc": hour + timedelta(minutes=m),
                "watts": w,
                "max_watts": 300.0,
                "ts_utc": hour + timedelta(minutes=m),
            }
            for m, w in ((5, 100.0), (20, 200.0), (50, 240.0))
        ],
    )
    store.insert_new(
        "inverter_energy",
        [
            {"serial": "482200000001", "end_utc": hour + timedelta(minutes=m), "seconds": 900, "wh": 25.0}
            for m in (15, 30)
        ],
    )
    store.commit()
    (reading,) = store.panel_hours(["482200000001"], hour, hour + timedelta(hours=1))
    assert reading == PanelHour("482200000001", hour, 180.0, max_watts=240.0)
    (energy,) = store.panel_hours(["482200000001"], hour, hour + timedelta(hours=1), energy=True)
    assert (energy.wh, energy.seconds, energy.max_watts) == (50.0, 1800.0, None)


def test_older_days_summed_in_the_database_judge_as_the_hours_do(store):
    # 100 days, the spring's change of UTC offset among them: before the last 61 days the settled hours come
    # summed per local day by the database (panel_days); the verdict must be the one of every hour read.
    from homepower import panel_check
    from homepower.settings import PVSettings

    r = roof(weak=0.8, dead_hours_ago=None)
    first, end = date(2025, 2, 1), datetime(2025, 5, 12)
    store_record(store, r, first, (end.date() - first).days)
    tz = ZoneInfo(TZ_NAME)
    start = datetime(2025, 1, 31, 23)
    got = panel_check.read(store, start, end, tz, PVSettings(), now=end + timedelta(days=1))
    assert got is not None and panel_check.hours_from(end, tz) > start
    days = store.panel_days(sorted(store.panel_spans()), start, end, tz)
    assert {d for _, d, _ in days} == {first + timedelta(days=i) for i in range((end.date() - first).days)}
    spans = store.panel_spans()
    every_hour = store.panel_rolled_hours(sorted(spans), start, end)
    by_day: dict = {}
    for serial, hour, wh in every_hour:
        key = (serial, H.local_day(hour, tz))
        by_day[key] = by_day.get(key, 0.0) + wh
    summed: dict = {}
    for serial, day, wh in days:  # a day cut by the change of offset comes in two parts
        summed[(serial, day)] = summed.get((serial, day), 0.0) + wh
    assert summed == pytest.approx(by_day)
    want = H.analyse(every_hour, spans, end, tz, store.first_panel_poll())
    assert got.ratios.keys() == want.ratios.keys() and got.sunny_days == want.sunny_days
    for serial, ratios in want.ratios.items():
        assert got.ratios[serial] == pytest.approx(ratios)
    assert (got.groups, got.low, got.silent) == (want.groups, want.low, want.silent)
    assert [x.serial for x in got.low] == [r.panels[2].serial]
