"""Pure arithmetic of clock hours and lifetime counters (no database, no files)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from homepower import hours as H
from homepower.errors import UsageError

AMS = ZoneInfo("Europe/Amsterdam")


def series(points, source="eim"):
    """Series from (minutes after 2025-06-01 00:00 UTC, Wh)."""
    base = H.epoch_s(datetime(2025, 6, 1))
    return H.Series(source, [base + m * 60 for m, _ in points], [float(v) for _, v in points])


def hour_s(h):
    """Start and end (unix s) of the UTC hour h of 2025-06-01."""
    a = H.epoch_s(datetime(2025, 6, 1)) + h * 3600
    return a, a + 3600


# -- clock hours -------------------------------------------------------------------------------------
def test_an_ordinary_day_has_24_hours_named_by_local_time():
    day = H.local_hours(datetime(2025, 6, 1), datetime(2025, 6, 2), AMS)
    assert len(day) == 24
    assert (day[0].hour, day[0].start) == (0, datetime(2025, 5, 31, 22))
    assert [h.hour for h in day] == list(range(24))


def test_spring_forward_day_has_23_hours_and_no_0200():
    day = H.local_hours(datetime(2025, 3, 30), datetime(2025, 3, 31), AMS)
    assert len(day) == 23
    assert 2 not in [h.hour for h in day]
    assert [h.start.hour for h in day[:3]] == [23, 0, 1]


def test_autumn_day_has_25_hours_with_the_repeated_hour_told_apart_by_utc():
    day = H.local_hours(datetime(2025, 10, 26), datetime(2025, 10, 27), AMS)
    assert len(day) == 25
    twice = [h for h in day if h.hour == 2]
    assert [h.start for h in twice] == [datetime(2025, 10, 26, 0), datetime(2025, 10, 26, 1)]
    assert len({h.start for h in day}) == 25


def test_the_repeated_autumn_hour_gives_both_rows():
    both = H.hours_of_local_hour(datetime(2025, 10, 26, 2), AMS)
    assert [h.start for h in both] == [datetime(2025, 10, 26, 0), datetime(2025, 10, 26, 1)]
    assert H.hours_of_local_hour(datetime(2025, 10, 26, 3), AMS)[0].start == datetime(2025, 10, 26, 2)


def test_the_skipped_spring_hour_is_a_usage_error():
    with pytest.raises(UsageError) as err:
        H.hours_of_local_hour(datetime(2025, 3, 30, 2), AMS)
    assert err.value.exit_code == 64
    assert "2025-03-30T02" in str(err.value)


def test_an_hour_is_the_same_alone_or_in_a_range():
    day = H.local_hours(datetime(2025, 10, 26), datetime(2025, 10, 27), AMS)
    for h in day:
        alone = H.hours_of_local_hour(datetime(h.year, h.month, h.day, h.hour), AMS)
        assert h in alone


@pytest.mark.parametrize(
    "text,want",
    [
        ("2025-06-01", datetime(2025, 6, 1)),
        ("2025-06-01T13", datetime(2025, 6, 1, 13)),
        ("2025-06-01T07", datetime(2025, 6, 1, 7)),
    ],
)
def test_parse_local_accepts_dates_and_hours(text, want):
    assert H.parse_local(text, "--from") == want


@pytest.mark.parametrize("text", ["2025-06-01 13:30", "yesterday", "2025-13-01", "2025-06-01T25", ""])
def test_parse_local_rejects_other_text_with_exit_64(text):
    with pytest.raises(UsageError):
        H.parse_local(text, "--from")


def test_hour_option_needs_an_hour():
    with pytest.raises(UsageError):
        H.parse_local("2025-06-01", "--hour", need_hour=True)


# -- counters ----------------------------------------------------------------------------------------
def test_boundaries_are_interpolated_between_the_nearest_samples():
    # 1000 W steady: samples at :50 of hour 0 and :10 of hour 2 around a boundary at 01:00.
    s = series([(50, 0), (70, 333.333), (110, 1000), (130, 1333.333)])
    e = H.interval_energy(s, *hour_s(1))
    assert e.wh == pytest.approx(1000.0, abs=0.01)
    assert e.flags == frozenset()


def test_a_sample_exactly_on_a_boundary_is_used_as_is():
    s = series([(0, 100), (60, 700), (120, 1500)])
    assert H.interval_energy(s, *hour_s(0)).wh == pytest.approx(600.0)
    assert H.interval_energy(s, *hour_s(1)).wh == pytest.approx(800.0)


def test_no_sample_on_one_side_is_unknown_not_zero():
    s = series([(10, 100), (50, 200)])
    assert H.interval_energy(s, *hour_s(0)).wh is None
    assert H.interval_energy(s, *hour_s(1)).wh is None


def test_a_32_bit_wrap_is_unwrapped_and_flagged():
    w = H.WRAP_WH
    s = series([(-5, w - 300), (25, w - 100), (35, 100), (65, 400)])
    e = H.interval_energy(s, *hour_s(0))
    # unwrapped: 0, 200, 400, 700 at -5, 25, 35, 65 min; interpolated at 0 and 60 min: 33.3 and 650
    assert e.wh == pytest.approx(650 - 200 / 6, abs=0.01)
    assert H.WRAP in e.flags


def test_small_drops_are_noise_meaning_no_production():
    s = series([(0, 5000), (20, 4999.5), (40, 4999.0), (60, 4998.7)])
    e = H.interval_energy(s, *hour_s(0))
    assert e.wh == 0.0
    assert e.flags == frozenset()


def test_a_reset_makes_its_hour_null_and_later_hours_continue_from_the_new_value():
    s = series([(0, 900_000), (30, 900_500), (90, 40), (120, 540), (180, 1540)])
    assert H.interval_energy(s, *hour_s(0)).wh is None
    assert H.RESET in H.interval_energy(s, *hour_s(0)).flags
    assert H.interval_energy(s, *hour_s(1)).wh is None  # its start boundary straddles the reset
    assert H.interval_energy(s, *hour_s(2)).wh == pytest.approx(1000.0)


def test_a_spurious_zero_is_a_reset_both_ways_not_megawatt_hours_of_production():
    s = series([(0, 5_000_000), (30, 5_000_400), (65, 0), (70, 5_000_900), (120, 5_001_500), (180, 5_002_500)])
    with_cap = [H.interval_energy(s, *hour_s(h), max_w=48_600) for h in range(3)]
    assert [e.wh for e in with_cap[:2]] == [None, None] and H.RESET in with_cap[1].flags
    assert with_cap[2].wh == pytest.approx(1000.0)
    # A long gap at a plausible rate is production, not a jump.
    gap = series([(0, 10_000), (600, 40_000), (660, 40_500)])
    assert H.interval_energy(gap, *hour_s(10), max_w=48_600).wh == pytest.approx(500.0)


def test_a_long_gap_keeps_the_total_and_flags_its_hours():
    s = series([(0, 0), (50, 500), (230, 2300), (240, 2400), (300, 3000)])
    parts = [H.interval_energy(s, *hour_s(h)) for h in range(5)]
    assert sum(p.wh for p in parts) == pytest.approx(3000.0)
    assert [H.LONG_GAP in p.flags for p in parts] == [True, True, True, True, False]


@pytest.mark.parametrize(
    "prev,cur,kind",
    [
        (10, 20, "up"),
        (1000, 950, "noise"),
        (1000, 900.5, "noise"),
        (1000, 900, "reset"),
        (H.WRAP_WH - 10, 5, "wrap"),
        (H.WRAP_WH - 10, 30_000, "wrap"),
        (3_000_000, 5, "reset"),
        (H.WRAP_WH - 10, 300_000, "reset"),
        (5_000_000, 5_000_000 - H.WRAP_WH + 20, "wrap"),
    ],
)
def test_steps_are_classified(prev, cur, kind):
    assert H.classify_step(prev, cur) == kind


def test_an_hour_is_computed_from_one_source_only():
    # The poller switched source mid-day: inverters (a different counter) must not be mixed with eim.
    eim = series([(-5, 10_000), (30, 10_300), (65, 10_650)], "eim")
    inv = series([(-5, 700_000), (10, 700_100), (20, 700_200), (65, 700_700)], "inverters")
    both = H.best_energy([H.interval_energy(s, *hour_s(0)) for s in (eim, inv)])
    assert both.source == "inverters"  # more samples inside the hour
    assert both.wh == pytest.approx((200 + 500 * 40 / 45) - 100 * 5 / 15, abs=0.01)
    only_eim = H.best_energy([H.interval_energy(eim, *hour_s(0))])
    assert (only_eim.source, only_eim.wh) == ("eim", pytest.approx(300 + 350 * 30 / 35 - 300 * 5 / 35, abs=0.01))


def test_unknown_is_none_and_flags_are_ordered():
    assert H.kwh(None) is None
    assert H.kwh(1234.5678) == 1.23457
    assert H.flags_text({H.LONG_GAP, H.WRAP}) == "wrap,long_gap"
    assert H.flags_text(set()) is None
