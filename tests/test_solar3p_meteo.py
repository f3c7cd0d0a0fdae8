"""Reading forecast files: good ones, and each way a file can be bad (exit 65, naming file and field)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from solar3p.errors import MeteoFileError
from solar3p.meteo import read_meteo, read_meteo_file
from test_solar3p_support import document, row, unix, write

SAMPLE = ROOT / "solar3p" / "data" / "data.rotterdam"


def test_reads_strings_as_numbers_and_sorts_by_time(tmp_path):
    rows = [row(unix("2025-03-05 12:00Z"), 412.0, temp=7.5, tc=40), row(unix("2025-03-05 11:00Z"), 300.0)]
    rows[0]["prec"] = ""  # empty optional field -> None
    got = read_meteo(write(tmp_path / "data.x", rows))
    assert [r.time for r in got] == [unix("2025-03-05 11:00Z"), unix("2025-03-05 12:00Z")]
    assert (got[1].gr_w, got[1].temp, got[1].tc, got[1].prec) == (412.0, 7.5, 40.0, None)


def test_the_shipped_sample_is_five_days_of_hours():
    rows = read_meteo(SAMPLE)
    assert len(rows) == 120
    assert all(b.time - a.time == 3600 for a, b in zip(rows, rows[1:], strict=False))
    assert max(r.gr_w for r in rows) > 200 and min(r.gr_w for r in rows) == 0


def _error(path) -> MeteoFileError:
    with pytest.raises(MeteoFileError) as info:
        read_meteo(path)
    assert info.value.exit_code == 65
    assert str(path) in str(info.value)
    return info.value


def test_missing_file(tmp_path):
    assert "does not exist" in str(_error(tmp_path / "data.nowhere"))


def test_truncated_file(tmp_path):
    path = tmp_path / "data.cut"
    text = json.dumps(document([row(unix("2025-03-05 11:00Z"), 300.0)] * 3))
    path.write_text(text[: len(text) // 2])
    assert "truncated" in str(_error(path))


def test_empty_file(tmp_path):
    path = tmp_path / "data.empty"
    path.write_text("")
    _error(path)


def test_a_row_without_time_is_named(tmp_path):
    bad = row(unix("2025-03-05 11:00Z"), 300.0)
    del bad["time"]
    err = _error(write(tmp_path / "data.x", [row(unix("2025-03-05 10:00Z"), 100.0), bad]))
    assert err.field == "time" and "'time'" in str(err)


@pytest.mark.parametrize("field", ["gr_w", "temp", "tc"])
def test_a_field_no_row_has_is_named(tmp_path, field):
    rows = [row(unix("2025-03-05 10:00Z"), 100.0), row(unix("2025-03-05 11:00Z"), 300.0)]
    for item in rows:
        del item[field]
    err = _error(write(tmp_path / "data.x", rows))
    assert err.field == field and repr(field) in str(err)


@pytest.mark.parametrize("missing", ["-", "", None, "absent"])
def test_meteoservers_dash_is_an_unknown_value_and_the_row_stays(tmp_path, missing):
    rows = [row(unix("2025-03-05 10:00Z"), 100.0), row(unix("2025-03-05 11:00Z"), 300.0)]
    for name in ("gr_w", "temp", "tc"):
        if missing == "absent":
            del rows[1][name]
        else:
            rows[1][name] = missing
    got = read_meteo(write(tmp_path / "data.x", rows))
    assert [r.time for r in got] == [unix("2025-03-05 10:00Z"), unix("2025-03-05 11:00Z")]
    assert (got[1].gr_w, got[1].temp, got[1].tc) == (None, None, None)
    assert got[0].gr_w == 100.0


def test_the_files_stamps_and_a_rows_own_issued(tmp_path):
    doc = document([row(unix("2025-03-05 10:00Z"), 100.0), row(unix("2025-03-05 11:00Z"), 300.0)])
    doc["issued"], doc["provider"] = "1741150800", "Open-Meteo"
    doc["forecast"][1]["issued"] = "1741140000"
    path = tmp_path / "data.x"
    path.write_text(json.dumps(doc))
    got = read_meteo_file(path)
    assert (got.issued, got.provider) == (1741150800, "open-meteo")
    assert [r.issued for r in got.rows] == [None, 1741140000]


def test_a_file_without_stamps_has_none(tmp_path):
    got = read_meteo_file(write(tmp_path / "data.x", [row(unix("2025-03-05 10:00Z"), 100.0)]))
    assert (got.issued, got.provider) == (None, None)
    doc = document([row(unix("2025-03-05 10:00Z"), 100.0)])
    doc["issued"], doc["provider"] = "-", ""
    (tmp_path / "data.y").write_text(json.dumps(doc))
    assert read_meteo_file(tmp_path / "data.y").issued is None


@pytest.mark.parametrize(
    "where,value",
    [("file", "yesterday"), ("file", "1741150800000"), ("file", "1741150800.5"), ("row", "soon"), ("row", True)],
)
def test_a_bad_issued_is_named(tmp_path, where, value):
    doc = document([row(unix("2025-03-05 10:00Z"), 100.0)])
    (doc if where == "file" else doc["forecast"][0])["issued"] = value
    path = tmp_path / "data.x"
    path.write_text(json.dumps(doc))
    assert _error(path).field == "issued"


@pytest.mark.parametrize("value", ["meteo server", "x" * 17, 42, ["meteoserver"]])
def test_a_bad_provider_is_named(tmp_path, value):
    doc = document([row(unix("2025-03-05 10:00Z"), 100.0)])
    doc["provider"] = value
    path = tmp_path / "data.x"
    path.write_text(json.dumps(doc))
    assert _error(path).field == "provider"


def test_a_directory_and_a_deep_document_are_not_forecast_files(tmp_path):
    assert "directory" in str(_error(tmp_path))
    deep = tmp_path / "data.deep"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    _error(deep)


def test_no_forecast_list(tmp_path):
    path = tmp_path / "data.x"
    path.write_text(json.dumps({"plaatsnaam": [{"plaats": "X"}], "current": []}))
    assert _error(path).field == "forecast"


@pytest.mark.parametrize("field,value", [("gr_w", "veel"), ("temp", "12,5"), ("tc", "n/a"), ("time", "1.5e9x")])
def test_non_numeric_value_is_named(tmp_path, field, value):
    bad = row(unix("2025-03-05 11:00Z"), 300.0)
    bad[field] = value
    err = _error(write(tmp_path / "data.x", [bad]))
    assert err.field == field and value in str(err)


def test_cli_exits_65_with_one_line(tmp_path):
    path = tmp_path / "data.cut"
    path.write_text('{"forecast": [{"time": "1741172400", "gr_w": "3')
    out = subprocess.run(
        [sys.executable, "-m", "solar3p", "--file", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 65
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1 and str(path) in out.stderr


def test_error_is_a_data_error_with_one_line():
    from homepower.errors import DataError

    err = MeteoFileError("/x/data.y", "is not complete JSON", "gr_w")
    assert isinstance(err, DataError) and str(err) == "forecast file /x/data.y (field 'gr_w'): is not complete JSON"
    assert str(MeteoFileError("no forecast for 2025-03-05 12:00")) == "no forecast for 2025-03-05 12:00"


def test_the_sample_generator_makes_the_shipped_file(tmp_path):
    from solar3p.sample import main as sample_main

    out = tmp_path / "data.rotterdam"
    assert sample_main(["--start", "2025-03-04", "--days", "5", "--out", str(out)]) == 0
    made, shipped = read_meteo(out), read_meteo(SAMPLE)  # documented, reproducible
    assert [r.time for r in made] == [r.time for r in shipped]
    assert all(abs(a.gr_w - b.gr_w) <= 2 and a.tc == b.tc for a, b in zip(made, shipped, strict=True))
    assert oct(out.stat().st_mode & 0o777) == "0o644"


def test_the_file_reader_gives_what_the_document_parser_gives(tmp_path):
    from solar3p.meteo import parse_meteo_file

    doc = json.loads(SAMPLE.read_text())
    doc["issued"], doc["provider"] = "1741100000", "meteoserver"
    doc["forecast"].append(dict(doc["forecast"][3], gr_w="1.5", issued="1741100000"))  # the newest issue wins
    for text in (json.dumps(doc), json.dumps(doc, indent=3), json.dumps(doc, separators=(",", ":"))):
        path = tmp_path / "data.x"
        path.write_text(text)
        assert read_meteo_file(path) == parse_meteo_file(doc, path)
        assert [r.gr_w for r in read_meteo_file(path).rows if r.time == int(doc["forecast"][3]["time"])] == [1.5]


@pytest.mark.parametrize("text", ['{"forecast": []} x', '{"forecast": [1,]}', '{"a": 1,}', "[1, 2]", "  "])
def test_text_that_is_not_one_json_object_is_refused(tmp_path, text):
    path = tmp_path / "data.x"
    path.write_text(text)
    _error(path)


def test_too_many_rows_is_refused_in_bounded_memory(tmp_path):
    from solar3p.meteo import MAX_ROWS

    item = '{"time":"%d","gr_w":"1","tc":"1","temp":"1"}'
    path = tmp_path / "data.huge"
    path.write_text('{"forecast":[' + ",".join(item % (1_500_001_200 + 3600 * i) for i in range(MAX_ROWS + 1)) + "]}")
    assert "split it" in str(_error(path))


@pytest.mark.parametrize("stamps_last", [False, True])
def test_a_file_a_windows_editor_saved_with_a_bom_reads_as_without(tmp_path, stamps_last):
    """Found in review: a UTF-8 byte-order mark was 'not complete JSON (truncated?)'."""
    doc = document([row(unix("2025-03-05 11:00Z"), 300.0), row(unix("2025-03-05 12:00Z"), 250.0)])
    doc.update(issued="1741160000", provider="meteoserver")
    if stamps_last:  # the header pass reads to the end, then the rows are read again from the start
        doc = {k: doc[k] for k in [*(k for k in doc if k not in ("issued", "provider")), "issued", "provider"]}
    plain, bom = tmp_path / "plain.json", tmp_path / "bom.json"
    plain.write_text(json.dumps(doc), encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc).encode())
    got = read_meteo_file(bom)
    assert got == read_meteo_file(plain) and got.issued == 1741160000 and len(got.rows) == 2
