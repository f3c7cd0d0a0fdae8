"""The bench's own pure helpers: statistics of repeated timings, the report table, -X importtime parsing."""

from __future__ import annotations

import pytest

from bench import stats
from bench.bench import accuracy_rows, heavy_imports


def test_quantiles_match_linear_interpolation():
    values = [0.30, 0.10, 0.20, 0.40]
    assert stats.quantile(values, 0.5) == pytest.approx(0.25)
    assert stats.quantile(values, 0.25) == pytest.approx(0.175)
    assert stats.quantile(values, 0.0) == 0.10
    assert stats.quantile(values, 1.0) == 0.40
    assert stats.quantile([7.0], 0.5) == 7.0


def test_summary_of_odd_count_has_the_middle_value_as_median():
    s = stats.summarize([0.12, 0.50, 0.11, 0.13, 0.12, 0.14, 0.10])
    assert s.n == 7
    assert s.median == pytest.approx(0.12)
    assert (s.low, s.high) == (0.10, 0.50)
    assert s.iqr == pytest.approx(s.q3 - s.q1)


def test_summary_and_quantile_refuse_nonsense():
    with pytest.raises(ValueError):
        stats.summarize([])
    with pytest.raises(ValueError):
        stats.quantile([1.0], 1.5)
    with pytest.raises(ValueError):
        stats.ratio(1.0, 0.0)


def test_formatting_of_seconds_and_memory():
    assert stats.fmt_s(0.0841) == "0.084 s"
    assert stats.fmt_s(2.414) == "2.41 s"
    assert stats.fmt_s(35.21) == "35.2 s"
    assert stats.fmt_mib(40960) == "40.0 MiB"
    s = stats.summarize([0.1, 0.2, 0.3])
    assert stats.fmt_spread(s) == "0.200 s (0.100-0.300, n=3)"


def test_rows_say_whether_a_goal_is_met_and_why_a_figure_is_missing():
    assert stats.at_most("poll", 0.2, 0.3).met is True
    assert stats.at_most("poll", 0.4, 0.3).met is False
    assert stats.at_most("ratio", 0.45, 0.5, unit="").goal == "<= 0.5"
    row = stats.na("replay", "exit 75:\n  database\tdown", "<= 10 s")
    assert row.figure == "n/a: exit 75: database down"
    assert row.met is None and row.goal == "<= 10 s"


def test_table_aligns_columns_and_marks_goals():
    table = stats.render([stats.at_most("one poll", 0.12, 0.3), stats.na("replay", "no poller yet")])
    lines = table.splitlines()
    assert lines[0].split() == ["measured", "figure", "goal", "met"]
    assert lines[2].startswith("one poll") and lines[2].endswith("yes")
    assert "n/a: no poller yet" in lines[3]
    assert lines[0].index("figure") == lines[2].index("0.120 s")


def test_heavy_imports_are_read_from_importtime_output():
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      3000 |      90000 | numpy.core._multiarray_umath\n"
        "import time:      5000 |     200000 | pandas\n"
        "a log line mentioning pvlib\n"
    )
    assert heavy_imports(stderr) == ["numpy", "pandas"]
    assert heavy_imports("import time:  10 |  10 | json\n") == []


def test_accuracy_rows_put_the_error_beside_its_goal():
    rows = accuracy_rows(
        "accuracy",
        {
            "mae_pct_of_mean_daytime_hour": 16.63,
            "test_hours": 4540,
            "test_years": [2013],
            "scale_factor": 2.988,
            "compared": {"a": 1.0, "b": 2.0},
        },
    )
    assert rows[0].figure == "16.6 % (4540 h of 2013)" and rows[0].met is True
    assert [r.what.strip() for r in rows[1:]] == ["scale factor", "compared"]
    assert rows[2].figure == "a 1.0, b 2.0"


def test_agreement_counts_hours_within_tolerance_and_matching_nulls():
    from bench.bench import agreement

    truth = {1: 0.5, 2: 1.0, 3: None, 4: 0.2, 5: None}
    got = {1: 0.5004, 2: 1.01, 3: None, 4: None}
    good, worst = agreement(truth, got, tolerance_kwh=0.001)
    assert good == 2  # hour 1 within 1 Wh, hour 3 NULL as it must be; 2 misses, 4 missing, 5 absent
    assert worst == pytest.approx(0.01)


def test_slowest_imports_are_the_top_level_ones_by_cumulative_time():
    from bench.bench import slowest_imports

    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       300 |      40000 |   urllib3\n"
        "import time:       320 |     110000 | requests\n"
        "import time:       230 |      29000 | mysql.connector\n"
        "import time:        50 |         50 | json\n"
    )
    assert slowest_imports(stderr, top=2) == [("requests", 0.11), ("mysql.connector", 0.029)]


def test_a_measured_child_reports_its_exit_output_and_own_memory():
    import sys
    from bench import proc

    run = proc.run([sys.executable, "-c", "import sys; print('hi'); sys.stderr.write('warn\\n')"])
    assert run.returncode == 0 and run.stdout == "hi\n" and run.last_line() == "warn"
    assert run.maxrss_kib > 1000 and run.wall_s > 0  # a Python child uses megabytes, not nothing
    big = proc.run([sys.executable, "-c", "x = bytearray(64 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"])
    assert big.maxrss_kib > run.maxrss_kib + 50 * 1024  # the child's own peak, not the bench's


def test_a_failing_or_hanging_child_becomes_a_one_line_reason():
    import sys
    from bench import proc

    with pytest.raises(proc.Failed, match="exit 3: bad thing"):
        proc.run([sys.executable, "-c", "import sys; print('bad thing', file=sys.stderr); sys.exit(3)"])
    assert proc.run([sys.executable, "-c", "raise SystemExit(3)"], check=False).returncode == 3
    with pytest.raises(proc.Failed, match="still running after 0.5 s"):
        proc.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_only_bench_databases_of_dead_processes_are_stale():
    from bench.mariadb import stale_databases

    names = ["hp_bench_100", "hp_bench_200", "hp_bench_prof", "hp_test_abc", "test"]
    assert stale_databases(names, alive=lambda pid: pid == 200) == ["hp_bench_100"]
