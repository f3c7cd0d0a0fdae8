"""pv_report.py end to end on SQLite and MariaDB: rows written through the store with known values, the
script run as a user runs it, its JSON and its files checked."""

from __future__ import annotations

import base64
import calendar
import json
import re
import socket
import struct
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homepower.hours import local_hours

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Amsterdam")


def env(tmp_path, db_url, zone="Europe/Amsterdam", **more):
    base = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": zone,
        "LOG_LEVEL": "INFO",
    }
    base.update(more)
    return base


def run(tmp_path, db_url, *args, zone="Europe/Amsterdam", **more):
    return subprocess.run(
        [sys.executable, str(ROOT / "pv_report.py"), *args],
        env=env(tmp_path, db_url, zone, **more),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def hour_row(ts: datetime, tz, pv, s3p=None, fc=None, issued=None, flags=None) -> dict:
    local = ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    return {
        "ts_utc": ts,
        "year": local.year,
        "month": local.month,
        "day": local.day,
        "hour": local.hour,
        "kwh_pv": pv,
        "kwh_s3p": s3p,
        "kwh_fc": fc,
        "forecast_issued": issued,
        "forecast_provider": None if issued is None else "meteoserver",
        "flags": flags,
    }


UTC = ZoneInfo("UTC")


def test_json_numbers_as_worked_out_by_hand(store, db_url, tmp_path):
    # A UTC site. 2025-06-01 serves persistence; the period is 2025-06-02 (one day).
    # counting: 10h pv 2 s3p 1.5 fc 2 | 11h pv 2 s3p 3 fc 2.5 | 12h pv 1 s3p 1 fc 1 (issued 03:00: leads 7-9 h)
    # not counting: 13h 0/0, 14h reset
    d1, d2 = datetime(2025, 6, 1), datetime(2025, 6, 2)
    issued = datetime(2025, 6, 2, 3)
    rows = [hour_row(d1 + timedelta(hours=h), UTC, pv) for h, pv in ((10, 1.0), (11, 2.0), (12, 1.0))]
    rows += [
        hour_row(d2 + timedelta(hours=10), UTC, 2.0, 1.5, 2.0, issued),
        hour_row(d2 + timedelta(hours=11), UTC, 2.0, 3.0, 2.5, issued),
        hour_row(d2 + timedelta(hours=12), UTC, 1.0, 1.0, 1.0, issued),
        hour_row(d2 + timedelta(hours=13), UTC, 0.0, 0.0, 0.0, issued),
        hour_row(d2 + timedelta(hours=14), UTC, 1.0, 3.0, 3.0, issued, "reset"),
    ]
    store.upsert("pvhistory", rows)
    done = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03", "--format", "json", zone="UTC")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["from"], out["to"]) == ("2025-06-02", "2025-06-03")
    s3p, fc = out["forecasts"]["kwh_s3p"], out["forecasts"]["kwh_fc"]
    # s3p errors -0.5, 1, 0; measured 2, 2, 1; persistence 1, 2, 1 -> errors -1, 0, 0
    assert (s3p["hours"], s3p["days"], s3p["measured_kwh"], s3p["forecast_kwh"]) == (3, 1, 5.0, 5.5)
    h = s3p["hourly"]
    assert h["mae"] == pytest.approx(0.5) and h["mbe"] == pytest.approx(0.5 / 3)
    assert h["rmse"] == pytest.approx((1.25 / 3) ** 0.5) and h["nmae_pct"] == pytest.approx(30.0)
    assert h["skill"] == pytest.approx(1 - (1.25 / 3) ** 0.5 / (1 / 3) ** 0.5)
    d = s3p["daily"]  # one day: forecast 5.5, measured 5, the day before 4 over the same hours
    assert (d["mae"], d["mbe"], d["rmse"]) == (pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.5))
    assert d["nmae_pct"] == pytest.approx(10.0) and d["skill"] == pytest.approx(0.5)
    assert list(s3p["by_lead"]) == ["6-24"] and s3p["by_lead"]["6-24"]["hours"] == 3
    assert list(s3p["by_month"]) == ["2025-06"]
    # fc errors 0, 0.5, 0 -> MAE 1/6, RMSE sqrt(0.25/3); persistence RMSE sqrt(1/3)
    assert fc["forecast_kwh"] == 5.5 and fc["hourly"]["mae"] == pytest.approx(0.5 / 3)
    assert fc["hourly"]["skill"] == pytest.approx(1 - (0.25 / 3) ** 0.5 / (1 / 3) ** 0.5)

    table = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03", zone="UTC")
    assert table.returncode == 0, table.stderr
    assert "hourly nMAE" in table.stdout and "30.0 %" in table.stdout and "worst days" in table.stdout


def test_the_autumn_day_has_25_hours_and_the_period_follows_local_dates(store, db_url, tmp_path):
    # 2025-10-26 in Amsterdam: 25 hours, every one counting with pv 1, s3p 2
    hours = local_hours(datetime(2025, 10, 25, 22), datetime(2025, 10, 27, 2), TZ)
    store.upsert("pvhistory", [hour_row(h.start, TZ, 1.0, 2.0) for h in hours])
    done = run(tmp_path, db_url, "--from", "2025-10-26", "--to", "2025-10-27", "--format", "json")
    assert done.returncode == 0, done.stderr
    s3p = json.loads(done.stdout)["forecasts"]["kwh_s3p"]
    assert (s3p["hours"], s3p["days"], s3p["measured_kwh"]) == (25, 1, 25.0)
    assert s3p["daily"]["mae"] == pytest.approx(25.0)
    # the day before (22:00, 23:00 only) does not cover the same clock hours: no daily skill
    assert s3p["daily"]["skill"] is None
    # the only hours with a known hour 24 h earlier are 21-22h; persistence was perfect there: no skill
    assert s3p["hourly"]["skill"] is None


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_out_writes_an_offline_page_with_readable_charts(store, db_url, tmp_path):
    hours = local_hours(datetime(2025, 6, 1), datetime(2025, 6, 8), TZ)
    rows = []
    for i, h in enumerate(hours):
        sun = max(0.0, 1 - abs(h.hour - 13) / 6)
        rows.append(
            hour_row(
                h.start,
                TZ,
                round(2.5 * sun * (0.5 + (i % 5) / 10), 5),
                round(2.5 * sun, 5),
                round(2.3 * sun, 5),
                h.start - timedelta(hours=5 + i % 40),
            )
        )
    store.upsert("pvhistory", rows)
    out = tmp_path / "report"
    done = run(tmp_path, db_url, "--from", "2025-06-01", "--to", "2025-06-08", "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = (out / "report.html").read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from the network
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 4
    for name in images:
        width, height = png_size(out / name)
        assert width >= 300 and height >= 300, name
    assert "Daily energy" in page and "lead time" in page


def test_a_period_with_no_counting_hour_exits_65_in_one_line(store, db_url, tmp_path):
    store.upsert("pvhistory", [hour_row(datetime(2025, 6, 2, 3), TZ, 0.0, 0.0)])
    done = run(tmp_path, db_url, "--from", "2025-06-02", "--to", "2025-06-03")
    assert done.returncode == 65
    assert len(done.stderr.strip().splitlines()) == 1 and "no counting hour" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2025-13-01", "--to", "2025-14-01"],
        ["--from", "yesterday"],
        ["--from", "2025-06-02", "--to", "2025-06-01"],
        ["--to", "2025-06-01T10"],
        ["--format", "xml"],
        ["--status", "--from", "2025-06-01"],
    ],
)
def test_a_bad_date_or_option_exits_64_in_one_line(tmp_path, args):
    done = run(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", *args)
    assert done.returncode == 64, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_that_does_not_answer_exits_75_without_the_password(tmp_path):
    url = f"mysql://hp:s3cret-pw@127.0.0.1:{closed_port()}/homepower"
    done = run(tmp_path, url, "--from", "2025-06-01", "--to", "2025-06-02")
    assert done.returncode == 75 and len(done.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_the_default_period_is_the_last_30_complete_local_days(store, db_url, tmp_path):
    store.upsert(
        "pvhistory",
        [hour_row(datetime(2025, 6, 30, 10), TZ, 1.0, 2.0), hour_row(datetime(2025, 5, 31, 10), TZ, 1.0, 2.0)],
    )
    store.upsert("pvhistory", [hour_row(datetime(2025, 7, 1, 10), TZ, 1.0, 2.0)])  # today: not complete
    done = run(tmp_path, db_url, "--format", "json", "--now", "2025-07-01T12:00:00")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["from"], out["to"]) == ("2025-06-01", "2025-07-01")
    assert out["forecasts"]["kwh_s3p"]["hours"] == 1


# -- --status ---------------------------------------------------------------------------------------
def jwt(claims: dict) -> str:
    def part(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.c2lnbmF0dXJl"


NOW = datetime(2025, 6, 10, 12, 0)


def healthy(store, tmp_path):
    store.upsert(
        "enphase_production",
        [
            {
                "ts_utc": NOW - timedelta(minutes=4),
                "year": 2025,
                "month": 6,
                "day": 10,
                "hour": 13,
                "minute": 56,
                "wattHoursLifetime": 1000.0,
                "source": "eim",
            }
        ],
    )
    hours = [NOW - timedelta(hours=h) for h in range(1, 49)]
    rows = [hour_row(ts, TZ, None if ts.hour == 3 else 0.5, 0.5) for ts in hours]
    store.upsert("pvhistory", rows)
    store.upsert(
        "forecast",
        [
            {
                "ts_utc": NOW + timedelta(hours=h),
                "issued_utc": NOW - timedelta(hours=6),
                "provider": "meteoserver",
                "gr_w": 100.0,
            }
            for h in range(-6, 40)
        ],
    )
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    token = jwt({"exp": calendar.timegm((NOW + timedelta(days=200, hours=2)).timetuple()), "iat": 0})
    (state / "envoy-token.json").write_text(json.dumps({"serial": "1", "token": token}))
    (state / "gateway-cert.sha256").write_text("AB:" * 31 + "CD\n")
    (state / "spool.jsonl").write_text('{"ts": "x", "body": {}}\n' * 3)
    return token


def test_status_of_a_healthy_installation_exits_0_and_shows_no_secret(store, db_url, tmp_path):
    token = healthy(store, tmp_path)
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert "all fresh" in text and "4 min ago" in text
    assert "2 without kwh_pv (2 NULL, 0 without a row; 2 before the first reading)" in text  # 03:00 UTC on both days
    assert "3 reading(s) waiting" in text
    assert "valid until 2025-12-27" in text and token not in text + done.stderr
    assert "AB:AB" in text and "covering until 2025-06-12 04:00 UTC" in text
    assert "last calibration" in text and "none yet" in text


def test_status_says_what_the_newest_calibration_gives_the_collector(store, db_url, tmp_path):
    """A band, no band yet, or a row the collector cannot read (it skips it): said, the exit code unchanged."""
    import calib_synth as S

    from homepower.calibration import calibration_row
    from solar3p import calibrate as C

    healthy(store, tmp_path)
    h = S.generate(date(2025, 5, 1), 14, seed=3)
    banded = C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0))
    young = h.day < h.day.min() + 5
    short = C.fit(h.feat.take(young), h.kwh[young], h.day[young], S.given(180.0, 35.0))
    assert banded.spread is not None and short.spread is None

    def calibration_line(fitted, cal=None, params=None):
        row = calibration_row(cal, fitted) if cal is not None else {"fitted_utc": fitted, "params": params}
        store.upsert("calibration", [row])
        done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat())
        assert done.returncode == 0, done.stdout + done.stderr
        return next(line for line in done.stdout.splitlines() if "last calibration" in line)

    line = calibration_line(NOW - timedelta(hours=30), banded)
    assert f"P10-P90 band from {banded.spread.hours} held-out hours" in line
    line = calibration_line(NOW - timedelta(hours=20), short)
    assert "no P10-P90 band yet: 5 day(s) of history, a band needs 10" in line
    line = calibration_line(NOW - timedelta(hours=10), params='{"level": "high"}')
    assert "fitted 2025-06-10 02:00 UTC" in line
    assert (
        "NOT USABLE (" in line and "the collector skips it; run" in line and "history_collector.py --calibrate" in line
    )


def test_status_names_stale_readings_and_since_when(store, db_url, tmp_path):
    healthy(store, tmp_path)
    later = NOW + timedelta(hours=5)
    done = run(tmp_path, db_url, "--status", "--now", later.isoformat())
    assert done.returncode == 69
    assert done.stderr.strip().startswith("stale: readings: none since 2025-06-10 11:56 UTC")
    assert "forecasts" not in done.stderr

    much_later = NOW + timedelta(days=3)
    done = run(tmp_path, db_url, "--status", "--now", much_later.isoformat())
    assert done.returncode == 69 and "forecasts: the newest was issued 2025-06-10 06:00 UTC" in done.stderr


def test_status_with_a_database_that_does_not_answer_exits_75(tmp_path):
    done = run(tmp_path, f"mysql://hp:s3cret-pw@127.0.0.1:{closed_port()}/homepower", "--status")
    assert done.returncode == 75 and "s3cret-pw" not in done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "spool" in done.stdout


@pytest.mark.parametrize("args", [("--status",), ("--from", "2025-06-01", "--to", "2025-06-02")])
def test_the_report_and_status_add_no_table_to_a_database_that_lacks_them(tmp_path, args):
    """A DATABASE_URL naming another application's database: said (78, what to run), not given our tables."""
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE foo (x INTEGER)")
    done = run(tmp_path, f"sqlite:///{other}", *args)
    assert done.returncode == 78, done.stdout + done.stderr
    assert "not set up for this version" in done.stderr and "history_collector.py once" in done.stderr
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["foo"]


def test_status_with_credentials_the_database_refuses_says_so_first(mysql_database, tmp_path):
    """78, and its first line says the database refuses the connection (not that it does not answer)."""
    from dataclasses import replace

    wrong = replace(mysql_database, password="not-the-pw-42").url()
    done = run(tmp_path, wrong, "--status")
    assert done.returncode == 78, done.stdout + done.stderr
    assert "refusing this connection" in done.stdout.splitlines()[0] and "not answering" not in done.stdout
    assert "not-the-pw-42" not in done.stdout + done.stderr


def test_an_out_dir_that_cannot_be_written_exits_64_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    (tmp_path / "h.db").touch()  # an empty file is an empty SQLite database: it exists
    done = run(
        tmp_path,
        f"sqlite:///{tmp_path / 'h.db'}",
        "--from",
        "2025-06-01",
        "--to",
        "2025-06-02",
        "--out",
        str(blocker / "report"),
    )
    assert done.returncode == 64 and len(done.stderr.strip().splitlines()) == 1
    assert "--out" in done.stderr


def test_a_hand_written_row_that_is_no_number_exits_65_naming_the_span(tmp_path):
    from homepower.settings import DatabaseConfig
    from homepower.store import Store

    db = tmp_path / "h.db"
    with Store.connect(DatabaseConfig(kind="sqlite", path=db), TZ) as store:
        store.upsert("pvhistory", [hour_row(datetime(2025, 6, 1, 10), TZ, 1.0, 2.0)])
        store.execute("UPDATE pvhistory SET kwh_pv = 'lots'")
        store.commit()
    done = run(tmp_path, f"sqlite:///{db}", "--from", "2025-06-01", "--to", "2025-06-02")
    assert done.returncode == 65 and len(done.stderr.strip().splitlines()) == 1
    assert "not a number" in done.stderr


def test_status_shows_a_pasted_token_expired_without_printing_it(store, db_url, tmp_path):
    healthy(store, tmp_path)
    pasted = jwt({"exp": calendar.timegm((NOW - timedelta(days=3)).timetuple())})
    done = run(tmp_path, db_url, "--status", "--now", NOW.isoformat(), ENVOY_TOKEN=pasted, ENVOY_TLS="insecure")
    assert done.returncode == 0, done.stderr  # readings and forecasts decide the exit code
    assert "ENVOY_TOKEN EXPIRED at 2025-06-07 12:00 UTC" in done.stdout
    assert pasted not in done.stdout + done.stderr
    assert "ENVOY_TLS=insecure" in done.stdout


@pytest.mark.parametrize("args", [["--from", "2025-05-01", "--to", "2025-05-03"], ["--status"]])
def test_a_sqlite_file_that_does_not_exist_is_not_created(tmp_path, args):
    missing = tmp_path / "nonexistent" / "dir" / "h.db"
    done = run(tmp_path, f"sqlite:///{missing}", *args)
    assert done.returncode == 78, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "does not exist" in done.stderr and str(missing) in done.stderr and "DATABASE_URL" in done.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_status_names_a_calibration_an_older_version_wrote_without_a_band():
    """Fitted on enough days but with no band (written before bands existed): say to calibrate again."""
    import dataclasses
    import json as _json

    import calib_synth as S

    from homepower.status import calibration_state
    from solar3p import calibrate as C

    h = S.generate(date(2025, 5, 1), 14, seed=3)
    cal = dataclasses.replace(C.fit(h.feat, h.kwh, h.day, S.given(180.0, 35.0)), spread=None)
    said = calibration_state(_json.dumps(cal.as_json()))
    assert "no P10-P90 band (an older version's)" in said and "history_collector.py --calibrate" in said
