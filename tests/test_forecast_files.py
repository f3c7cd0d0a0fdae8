"""Forecast files the archive meets in the field (black-box review of issue 9): a damaged METEO_FILE, one
file with several issues of an hour, a long backfill, blank options, unknown providers, misaligned rows,
a named pipe; on SQLite and MariaDB where the database matters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from conftest import ROOT
from tests import synth
from test_forecast_archive import DAY, NOON, archive_count, meteo_doc, run_script, stored, unix, write

HOUR_ARGS = ("--hour", "2025-06-01T12", "--now", "2025-06-02T00:00:00")  # 12:00 local = NOON UTC


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


# -- 1. a damaged METEO_FILE ------------------------------------------------------------------------
def test_a_damaged_meteo_file_still_stores_the_hour_from_the_archive_and_exits_65(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    good = write(tmp_path / "good.json", meteo_doc(syn, issued=NOON - timedelta(hours=5), provider="meteoserver"))
    assert run_script(tmp_path, db_url, "--archive", str(good)).returncode == 0
    before = archive_count(store)
    meteo = tmp_path / "forecast.json"
    meteo.write_bytes(good.read_bytes()[:3000])  # a truncated download
    done = run_script(tmp_path, db_url, *HOUR_ARGS, meteo=meteo)
    assert done.returncode == 65
    line = one_line(done.stderr)
    assert str(meteo) in line and "nothing stored from it" in line
    assert archive_count(store) == before  # nothing from the damaged file
    (row,) = stored(store)
    assert row["kwh_pv"] is not None and row["kwh_pv"] > 0  # the energy is stored all the same
    assert row["forecast_issued"] == NOON - timedelta(hours=5)  # with the forecast the archive holds
    again = run_script(tmp_path, db_url, *HOUR_ARGS, meteo=meteo)
    assert again.returncode == 65  # not remembered as archived: every run says so until it is fixed
    meteo.write_bytes(good.read_bytes())
    assert run_script(tmp_path, db_url, *HOUR_ARGS, meteo=meteo).returncode == 0


def test_a_dry_run_with_a_damaged_meteo_file_prints_the_rows_then_exits_65(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = tmp_path / "forecast.json"
    meteo.write_text("<html>quota exceeded</html>")
    done = run_script(tmp_path, db_url, *HOUR_ARGS, "--dry-run", meteo=meteo)
    assert done.returncode == 65 and str(meteo) in one_line(done.stderr)
    assert "2025-06-01 12:00" in done.stdout and "forecast_provider" in done.stdout
    assert stored(store) == []


# -- 2. one file, several issues of an hour ---------------------------------------------------------
def test_rows_of_one_hour_with_their_own_issued_are_distinct_forecasts(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    template = next(r for r in syn.meteoserver()["forecast"] if int(r["time"]) == unix(NOON))
    leads = (1, 7, 13, 19)
    rows = [dict(template, issued=str(unix(NOON) - h * 3600), gr_w=str(100 * h)) for h in leads]
    doc = {"provider": "open-meteo", "forecast": rows}
    path = write(tmp_path / "dup.json", doc)
    done = run_script(tmp_path, db_url, "--archive", str(path))
    assert done.returncode == 0, done.stderr
    assert f"{path}: 4 new forecast row(s) of 4" in done.stdout
    assert archive_count(store) == 4
    assert run_script(tmp_path, db_url, *HOUR_ARGS).returncode == 0
    (row,) = stored(store)
    assert row["forecast_issued"] == NOON - timedelta(hours=1) and row["gr_w"] == 100  # the newest issue
    again = run_script(tmp_path, db_url, "--archive", str(path))
    assert f"{path}: 0 new forecast row(s) of 4" in again.stdout


def test_overlapping_archive_runs_count_only_what_each_added(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    paths = [
        str(write(tmp_path / f"f{i}.json", meteo_doc(syn, issued=NOON - timedelta(hours=i), provider="meteoserver")))
        for i in range(30)
    ]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": db_url,
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(tmp_path / "absent.json"),
    }
    cmd = [sys.executable, str(ROOT / "history_collector.py"), "--archive", *paths]
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [r.communicate(timeout=120) for r in runs]
    assert all(r.returncode == 0 for r in runs), [o[1] for o in outs]
    totals = [int(out.strip().splitlines()[-1].split()[0]) for out, _ in outs]
    assert sum(totals) == archive_count(store) == 30 * len(syn.meteoserver()["forecast"])


# -- 3. memory -------------------------------------------------------------------------------------
def big_file(path, rows: int) -> None:
    """A long past-forecast file (compact, every row its own issued), written without holding it."""
    start = unix(datetime(2000, 1, 1))
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"provider": "open-meteo", "plaatsnaam": [{"plaats": "Rotterdam"}], "forecast": [')
        for i in range(rows):
            t = start + (i // 4) * 3600
            row = {
                "time": str(t),
                "issued": str(t - 3600 * (1 + 6 * (i % 4))),
                "cet": "01-01-2000 00:00",
                "elev": "10.5",
                "az": "180.2",
                "temp": "12.3",
                "gr": "45",
                "gr_w": "125",
                "sd": "30",
                "tc": "50",
                "lc": "20",
                "mc": "10",
                "hc": "5",
                "vis": "20000",
                "prec": "0.0",
            }
            out.write(("," if i else "") + json.dumps(row, separators=(",", ":")))
        out.write("]}")


def test_archiving_a_file_at_the_cap_stays_within_64_mib_of_a_small_one_and_30_mib_is_refused(tmp_path):
    from bench import proc
    from solar3p.meteo import MAX_BYTES

    small, large, huge = tmp_path / "small.json", tmp_path / "large.json", tmp_path / "huge.json"
    big_file(small, 24)
    big_file(large, 57_000)  # five years of hours with some issued twice: just under the cap
    big_file(huge, 148_000)
    assert MAX_BYTES - 2**20 < large.stat().st_size < MAX_BYTES and huge.stat().st_size > 28 * 2**20
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STATE_DIR": str(tmp_path / "state"),
        "SITE_TIMEZONE": "Europe/Amsterdam",
        "METEO_FILE": str(tmp_path / "absent.json"),
        "HOMEPOWER_ENV_FILE": "none",
    }
    script = str(ROOT / "history_collector.py")

    def archive(path, db):
        run_env = dict(env, DATABASE_URL=f"sqlite:///{tmp_path / db}")
        return proc.run([sys.executable, script, "--archive", str(path)], env=run_env, timeout=300, check=False)

    base, got, refused = archive(small, "small.db"), archive(large, "large.db"), archive(huge, "huge.db")
    assert "57000 new forecast row(s) of 57000" in got.stdout
    assert got.maxrss_kib - base.maxrss_kib < 64 * 1024
    assert refused.returncode == 65 and "split it" in one_line(refused.stderr)
    assert refused.maxrss_kib - base.maxrss_kib < 64 * 1024


# -- 4. blank option values -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [("--hour", ""), ("--hour=",), ("--from", "", "--to", ""), ("--from", "", "--to", "2025-06-02"), ("--archive", "")],
)
def test_a_blank_option_value_is_bad_usage(tmp_path, args):
    done = run_script(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", *args)
    assert done.returncode == 64
    one_line(done.stderr)
    assert "stored" not in done.stderr


# -- 5. providers and hour starts -------------------------------------------------------------------
def test_an_unknown_provider_or_a_row_off_the_hour_is_a_bad_file(store, db_url, tmp_path):
    syn = synth.generate(DAY, 1, seed=3)
    darksky = write(tmp_path / "darksky.json", meteo_doc(syn, issued=NOON - timedelta(days=1), provider="darksky"))
    done = run_script(tmp_path, db_url, "--archive", str(darksky))
    assert done.returncode == 65 and "darksky" in one_line(done.stderr) and str(darksky) in done.stderr
    doc = meteo_doc(syn, issued=NOON - timedelta(days=1), provider="meteoserver")
    doc["forecast"][20]["time"] = str(int(doc["forecast"][20]["time"]) + 123)
    off = write(tmp_path / "off.json", doc)
    done = run_script(tmp_path, db_url, "--archive", str(off))
    assert done.returncode == 65 and "forecast row 20" in one_line(done.stderr) and "hour" in done.stderr
    assert archive_count(store) == 0  # not the 20 rows before it either


# -- 6. smaller -------------------------------------------------------------------------------------
def test_archive_with_calibrate_is_bad_usage(tmp_path):
    done = run_script(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "--archive", "x.json", "--calibrate")
    assert done.returncode == 64 and "--calibrate" in one_line(done.stderr)


def test_a_named_pipe_is_refused_not_waited_on(store, db_url, tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    done = run_script(tmp_path, db_url, "--archive", str(fifo))  # run_script times out (fails) if it blocks
    assert done.returncode == 65 and "regular file" in one_line(done.stderr)
    as_meteo = run_script(tmp_path, db_url, *HOUR_ARGS, meteo=fifo)
    assert as_meteo.returncode == 65 and str(fifo) in one_line(as_meteo.stderr)


def test_the_skipped_spring_hour_is_one_line(tmp_path):
    done = run_script(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", "--hour", "2025-03-30T02")
    assert done.returncode == 64 and "2025-03-30" in one_line(done.stderr)


# -- the streaming reader ---------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_the_streamed_rows_are_the_files_rows_whatever_the_chunk_boundaries(tmp_path, monkeypatch, chunk):
    from solar3p import meteostream
    from solar3p.meteo import parse_row

    syn = synth.generate(DAY, 1, seed=3)
    doc = meteo_doc(syn, provider="open-meteo")
    doc["forecast"][3]["gr_w"] = 1234.5678  # a bare number may be cut by a chunk's end
    doc["issued"] = str(unix(NOON))  # after the rows: found by a first pass
    path = tmp_path / "f.json"
    path.write_text(json.dumps(doc, indent=1))
    monkeypatch.setattr(meteostream, "CHUNK", chunk)
    with meteostream.open_meteo_stream(path) as stream:
        got = [row for _, row in stream.rows()]
        assert (stream.issued, stream.provider) == (unix(NOON), "open-meteo")
    assert got == [parse_row(path, i, item) for i, item in enumerate(doc["forecast"])]


@pytest.mark.parametrize(
    "content, says",
    [
        ("", "not complete JSON"),
        ('{"forecast": []}', "empty"),
        ('{"current": []}', "no forecast list"),
        ('{"forecast": [{"time": "3600", "gr_w": "1", "tc": "1", "temp": "1"}]} x', "more after its end"),
        ('{"forecast": [{"time": "3600", "gr_w": "1", "tc": "1"}]}', "temp"),
        ('{"forecast": [' + "[" * 100_000 + "]" * 100_000 + "]}", "nested too deeply"),
        (
            '{"issued": "1", "issued": "2", "forecast": [{"time": "3600", "gr_w": "1", "tc": "1", "temp": "1"}]}',
            "twice",
        ),
    ],
)
def test_a_malformed_file_is_named_in_one_message(tmp_path, content, says):
    from solar3p.errors import MeteoFileError
    from solar3p.meteostream import open_meteo_stream

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(MeteoFileError) as err:
        with open_meteo_stream(path) as stream:
            list(stream.rows())
    assert str(path) in str(err.value) and says in str(err.value)
