"""The synthetic history generator: its truth and outputs are what the collector tests rely on."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from homepower import hours as H
from tests import synth


def test_same_seed_same_history_other_seed_other_weather():
    a = synth.generate(date(2025, 6, 1), 1, seed=7)
    b = synth.generate(date(2025, 6, 1), 1, seed=7)
    c = synth.generate(date(2025, 6, 1), 1, seed=8)
    assert a.samples == b.samples and a.truth == b.truth
    assert [t.kwh_pv for t in a.truth.values()] != [t.kwh_pv for t in c.truth.values()]


def test_daylight_curve_five_minute_samples_with_jitter():
    s = synth.generate(date(2025, 6, 21), 1, seed=1, jitter_s=30)
    truth = [s.truth[h.start].kwh_pv for h in s.hours]
    assert truth[2] == 0.0 and truth[13] > 0.3  # dark at 02:00, producing at 13:00 local
    assert sum(truth) > 10
    gaps = [(b["ts_utc"] - a["ts_utc"]).total_seconds() for a, b in zip(s.samples, s.samples[1:], strict=False)]
    assert 240 <= sorted(gaps)[len(gaps) // 2] <= 360
    assert any(r["ts_utc"].minute % 5 or r["ts_utc"].second for r in s.samples)


def test_nightly_outage_after_2300():
    s = synth.generate(date(2025, 6, 1), 2, seed=1)
    assert not [r for r in s.samples if r["hour"] == 23 and 1 <= r["minute"] < 12]


def test_dst_days_have_23_and_25_hours():
    spring = synth.generate(date(2025, 3, 30), 1)
    autumn = synth.generate(date(2025, 10, 26), 1)
    assert len(spring.truth) == 23 and len(autumn.truth) == 25
    assert sum(1 for h in autumn.hours if h.hour == 2) == 2


def test_wrap_reset_and_gap_are_in_the_samples_and_in_the_truth():
    s = synth.generate(date(2025, 6, 1), 1, source="inverters", wrap_at=datetime(2025, 6, 1, 11, 17))
    values = [r["wattHoursLifetime"] for r in s.samples]
    assert max(values) < H.WRAP_WH and any(b < a - 1_000_000 for a, b in zip(values, values[1:], strict=False))
    wrapped = [t for t in s.truth.values() if H.WRAP in t.flags]
    assert wrapped and all(t.kwh_pv is not None for t in wrapped)

    r = synth.generate(date(2025, 6, 1), 1, reset_at=datetime(2025, 6, 1, 14, 32))
    assert [t.kwh_pv for t in r.truth.values()].count(None) == 1

    g = synth.generate(date(2025, 6, 1), 1, gap=(datetime(2025, 6, 1, 9, 10), 3))
    assert sum(H.LONG_GAP in t.flags for t in g.truth.values()) >= 3
    assert not [x for x in g.samples if (9, 15) <= (x["hour"], x["minute"]) < (12, 5)]


def test_eim_night_noise_drifts_down_by_small_steps():
    s = synth.generate(date(2025, 6, 1), 1, noise=True)
    drops = [a["wattHoursLifetime"] - b["wattHoursLifetime"] for a, b in zip(s.samples, s.samples[1:], strict=False)]
    assert any(0 < d < H.NOISE_WH for d in drops)


def test_replay_lines_and_forecast_file_follow_the_contract(tmp_path):
    s = synth.generate(date(2025, 6, 1), 1)
    line = json.loads(s.replay_lines()[0])
    stamp = datetime.fromisoformat(line["ts"])
    assert stamp.utcoffset() == timedelta(hours=2)
    eim = [p for p in line["body"]["production"] if p["type"] == "eim"][0]
    assert eim["activeCount"] == 1 and eim["whLifetime"] == s.samples[0]["wattHoursLifetime"]

    from solar3p.meteo import read_meteo

    s.write_meteo(tmp_path / "meteo.json")
    rows = read_meteo(tmp_path / "meteo.json")
    assert [r.time for r in rows] == [h.unix for h in s.hours]
    assert all(isinstance(v, str) for v in json.loads((tmp_path / "meteo.json").read_text())["forecast"][0].values())


def test_a_year_is_about_105000_samples():
    s = synth.generate(date(2024, 1, 1), 366, seed=2)
    assert len(s.truth) == 8784
    assert 100_000 <= len(s.samples) <= 106_000


def test_the_forecast_file_sees_the_sun_of_the_site_asked_for():
    s = synth.generate(date(2025, 6, 1), 1, tz="Australia/Sydney", lat=-33.87, lon=151.21)
    elev = {int(r["time"]): float(r["elev"]) for r in s.meteo_rows}
    sunny = [h for h in s.hours if (s.truth[h.start].kwh_pv or 0.0) > 0.1]
    assert sunny and all(elev[h.unix] > 0 for h in sunny)
