"""``python -m solar3p`` output formats and options, and ``solar3p.asdict`` with the original call shape."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from conftest import ROOT
from homepower.settings import ORIENTATIONS
from solar3p.cli import main
from test_solar3p_support import clear_hours, row, unix, write

DAY = "2025-03-05"


@pytest.fixture
def meteo(clean_env, monkeypatch):
    """A forecast file ``data.rotterdam`` (two clear days, one hour cloudy) as METEO_FILE, site settings set."""
    rows = clear_hours("2025-03-04", temp=6.0) + clear_hours(DAY, temp=8.0)
    rows[36] = row(int(rows[36]["time"]), 90.0, temp=7.0, tc=100)
    path = clean_env / "forecasts" / "data.rotterdam"
    path.parent.mkdir()
    write(path, rows)
    for name, value in {
        "METEO_FILE": str(path),
        "PV_PANELS": "12",
        "PV_PANEL_WP": "405",
        "PV_ORIENTATION": "SE",
        "PV_TILT": "35",
        "PV_LATITUDE": "51.92",
        "PV_LONGITUDE": "4.48",
        "PV_LOSSES_PCT": "14",
    }.items():
        monkeypatch.setenv(name, value)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_is_exactly_the_contract(meteo, capsys):
    code, out, err = run(capsys, "--format", "json")
    assert code == 0, err
    items = json.loads(out)
    assert len(items) == 48
    for item in items:
        assert list(item) == ["hour_start", "kwh", "gr_w", "tc", "temp"]
        start = datetime.fromisoformat(item["hour_start"])
        assert start.utcoffset() == timedelta(hours=1)  # SITE_TIMEZONE Europe/Amsterdam in March
        assert isinstance(item["kwh"], float) and item["kwh"] >= 0
        assert all(isinstance(item[k], float) for k in ("gr_w", "tc", "temp"))
    first = datetime.fromisoformat(items[0]["hour_start"])
    assert first.timestamp() == unix("2025-03-04 00:00Z")
    cloudy = items[36]
    assert cloudy["tc"] == 100.0 and cloudy["gr_w"] == 90.0
    assert 0 < cloudy["kwh"] < items[35]["kwh"]


def test_json_matches_what_the_collector_computes(meteo, capsys):
    from homepower.settings import load
    from solar3p.meteo import read_meteo
    from solar3p.model import hourly_kwh

    _, out, _ = run(capsys, "--format", "json")
    by_time = {int(datetime.fromisoformat(i["hour_start"]).timestamp()): i["kwh"] for i in json.loads(out)}
    assert by_time == hourly_kwh(read_meteo(meteo), load().pv)


def test_csv_has_the_same_columns_and_values(meteo, capsys):
    _, out_json, _ = run(capsys, "--format", "json")
    code, out, _ = run(capsys, "--format", "csv")
    assert code == 0
    assert out.splitlines()[0] == "hour_start,kwh,gr_w,tc,temp"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["hour_start"], float(r["kwh"])) for r in rows] == [
        (i["hour_start"], i["kwh"]) for i in json.loads(out_json)
    ]


def test_table_has_a_header_a_line_per_hour_and_a_total(meteo, capsys):
    code, out, _ = run(capsys)
    lines = out.splitlines()
    assert code == 0
    assert "kWh" in lines[0] and "gr_w" in lines[0] and "tc" in lines[0] and "temp" in lines[0]
    assert len([line for line in lines if re.match(r"^\d{4}-\d\d-\d\d \d\d:00 \+0100", line)]) == 48
    assert lines[-1].startswith("total")
    _, out_json, _ = run(capsys, "--format", "json")
    assert float(lines[-1].split()[-1]) == pytest.approx(sum(i["kwh"] for i in json.loads(out_json)), abs=0.002)


def test_day_granularity_sums_the_hours(meteo, capsys):
    _, hours, _ = run(capsys, "--format", "json")
    code, days, _ = run(capsys, "--format", "json", "--gran", "day")
    assert code == 0
    days = json.loads(days)
    assert [d["hour_start"][:10] for d in days] == ["2025-03-04", "2025-03-05", "2025-03-06"]
    total = sum(i["kwh"] for i in json.loads(hours))
    assert sum(d["kwh"] for d in days) == pytest.approx(total, abs=1e-4)
    # Found in review: a day the file covers in part read as a whole day's total.
    assert [(d["hours"], d["day_hours"]) for d in days] == [(23, 24), (24, 24), (1, 24)]
    code, table, _ = run(capsys, "--gran", "day")
    marked = [line for line in table.splitlines() if line.startswith("2025-")]
    assert marked[0].endswith("(23 of 24 h)") and "of 24 h" not in marked[1] and marked[2].endswith("(1 of 24 h)")
    assert "a day the file covers only in part" in table
    code, text, _ = run(capsys, "--gran", "day", "--format", "csv")
    assert text.splitlines()[0].endswith(",hours,day_hours") and text.splitlines()[1].endswith(",23,24")


def test_a_day_the_clocks_change_has_its_own_number_of_hours():
    from zoneinfo import ZoneInfo

    from solar3p.api import Forecast, daily

    tz = ZoneInfo("Europe/Amsterdam")
    start = datetime(2025, 10, 25, 22, tzinfo=timezone.utc)  # local midnight of the 26th (CEST)
    hours = [Forecast((start + timedelta(hours=i)).astimezone(tz), 0.1, 10.0, 50.0, 8.0) for i in range(27)]
    (autumn, next_day) = daily(hours)
    assert (autumn.hours, autumn.day_hours, autumn.partial) == (25, 25, False)
    assert (next_day.hours, next_day.day_hours, next_day.partial) == (2, 24, True)


def test_flags_override_the_settings(meteo, capsys):
    def total(*argv):
        _, out, _ = run(capsys, "--format", "json", *argv)
        return sum(i["kwh"] for i in json.loads(out))

    base = total()
    assert total("--pans", "24") == pytest.approx(2 * base, rel=0.02)
    assert total("--wp", "200") < base
    assert total("--losses", "30") < base
    assert total("--lay", "N") < total("--lay", "S")
    assert total("--tilt", "60", "--lay", "N") < total("--tilt", "10", "--lay", "N")
    assert total("--lat", "60") != base and total("--lon", "20") != base


@pytest.mark.parametrize("spelling", sorted(ORIENTATIONS) + ["135", "90", "202.5", "0", "360"])
def test_every_orientation_spelling(meteo, capsys, spelling):
    code, out, err = run(capsys, "--format", "json", "--lay", spelling)
    assert code == 0, err
    assert sum(i["kwh"] for i in json.loads(out)) > 0


def test_orientation_synonyms_agree(meteo, capsys):
    def out(lay):
        return run(capsys, "--format", "json", "--lay", lay)[1]

    assert out("E") == out("O") == out("90") == out("e")
    assert out("SE") == out("135")
    assert out("N") == out("0") == out("360")
    assert out("SE") != out("SW")


@pytest.mark.parametrize(
    "argv",
    [
        ["--lay", "XX"],
        ["--lay", "400"],
        ["--pans", "0"],
        ["--pans", "two"],
        ["--format", "xml"],
        ["--gran", "week"],
        ["--tilt", "95"],
        ["--bogus"],
    ],
)
def test_bad_usage_exits_64_with_one_line(meteo, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 64 and out == ""
    assert len(err.strip().splitlines()) == 1


def test_file_by_location_name_and_by_path(meteo, capsys, tmp_path):
    other = meteo.parent / "data.delft"
    write(other, [row(unix("2025-03-05 11:00Z"), 500.0)])
    code, out, _ = run(capsys, "--format", "json", "--file", "delft")
    assert code == 0 and len(json.loads(out)) == 1
    code, out, _ = run(capsys, "--format", "json", "--file", str(other))
    assert code == 0 and len(json.loads(out)) == 1
    code, _, err = run(capsys, "--file", "atlantis")
    assert code == 65 and "data.atlantis" in err


def test_help_explains_every_option_with_its_default(meteo):
    out = subprocess.run(
        [sys.executable, "-m", "solar3p", "--help"], cwd=ROOT, capture_output=True, text=True, env=os.environ.copy()
    )
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    for option, words in {
        "--file": "METEO_FILE",
        "--pans": "PV_PANELS = 12",
        "--wp": "PV_PANEL_WP = 405",
        "--lay": "PV_ORIENTATION = 135",
        "--tilt": "PV_TILT = 35",
        "--lat": "PV_LATITUDE = 51.92",
        "--lon": "PV_LONGITUDE = 4.48",
        "--losses": "PV_LOSSES_PCT = 14",
        "--gran": "hour",
        "--format": "table",
    }.items():
        assert option in text and words in text, option
    assert "W/m²" in text and "degrees" in text and "%" in text


# ---------------------------------------------------------------- asdict, the original library call


def test_asdict_with_the_original_call(meteo, capsys):
    import solar3p

    forecast = solar3p.asdict("day", 405, 12, "SE", "hour", "rotterdam")
    assert len(forecast) == 48
    assert all(re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:00", key) for key in forecast)
    _, out, _ = run(capsys, "--format", "json")
    for item in json.loads(out):
        key = datetime.fromisoformat(item["hour_start"]).strftime("%d-%m-%Y %H:00")
        assert forecast[key] == item["kwh"]
    noon = forecast["05-03-2025 12:00"]
    # The original's callers log the value by string concatenation, then take float() of it.
    assert float(noon) > 1 and ("kw=" + noon) == f"kw={float(noon)!r}"
    assert json.loads(json.dumps(forecast))["05-03-2025 12:00"] == float(noon)


def test_asdict_arguments(meteo):
    import solar3p

    base = solar3p.asdict("day", 405, 12, "SE", "hour", "rotterdam")
    assert solar3p.asdict("day", "405", "12", "135", "hour", "rotterdam") == base
    assert solar3p.asdict("day", 405, 12, "SE", "hour", str(meteo)) == base
    assert solar3p.asdict() == base  # every argument from the settings
    doubled = solar3p.asdict("day", 810, 12, "SE", "hour", "rotterdam")
    assert doubled["05-03-2025 12:00"] > base["05-03-2025 12:00"]
    one_day = solar3p.asdict("05-03-2025", 405, 12, "SE", "hour", "rotterdam")
    assert set(one_day) == {k for k in base if k.startswith("05-03-2025")}
    days = solar3p.asdict("day", 405, 12, "SE", "day", "rotterdam")
    assert list(days) == ["04-03-2025", "05-03-2025", "06-03-2025"]
    assert days["05-03-2025"] == pytest.approx(sum(v for k, v in base.items() if k.startswith("05-03")), abs=1e-4)


@pytest.mark.parametrize(
    "args,code",
    [
        (("week", 405, 12, "SE", "hour", "rotterdam"), 64),
        (("day", 405, 12, "UP", "hour", "rotterdam"), 64),
        (("day", 405, 12, "SE", "minute", "rotterdam"), 64),
        (("day", -5, 12, "SE", "hour", "rotterdam"), 64),
        (("day", 405, 12, "SE", "hour", "nowhere"), 65),
    ],
)
def test_asdict_errors(meteo, args, code):
    import solar3p
    from homepower.errors import HomepowerError

    with pytest.raises(HomepowerError) as info:
        solar3p.asdict(*args)
    assert info.value.exit_code == code


def test_autumn_day_has_25_hours_with_their_own_offsets(meteo, capsys):
    rows = clear_hours("2025-10-25") + clear_hours("2025-10-26")
    write(meteo, rows)
    code, out, _ = run(capsys, "--format", "json")
    starts = [datetime.fromisoformat(i["hour_start"]) for i in json.loads(out)]
    assert code == 0 and len(starts) == 48
    assert [s.isoformat() for s in starts if s.strftime("%Y-%m-%d %H") == "2025-10-26 02"] == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:00:00+01:00",
    ]
    assert all(b.timestamp() - a.timestamp() == 3600 for a, b in zip(starts, starts[1:], strict=False))
    _, days, _ = run(capsys, "--format", "json", "--gran", "day")
    assert [d["hour_start"] for d in json.loads(days)][1:3] == [
        "2025-10-26T00:00:00+02:00",
        "2025-10-27T00:00:00+01:00",
    ]


def test_an_hour_with_a_dash_is_null_in_json_and_blank_in_the_table(meteo, capsys):
    doc = json.loads(meteo.read_text())
    doc["forecast"][36]["gr_w"] = "-"
    meteo.write_text(json.dumps(doc))
    code, out, err = run(capsys, "--format", "json")
    assert code == 0, err
    items = json.loads(out)
    assert len(items) == 48 and items[36]["kwh"] is None and items[36]["gr_w"] is None
    assert items[35]["kwh"] > 0
    code, table, _ = run(capsys)
    assert code == 0
    line = [x for x in table.splitlines() if x.startswith(items[36]["hour_start"][:16].replace("T", " "))][0]
    assert "None" not in line and "nan" not in line
