"""The store on both backends: schema creation, upserts keyed on ts_utc, batches, failures."""

import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homepower import schema
from homepower.store import core as store_module
from homepower.errors import StoreUnavailable
from homepower.settings import DatabaseConfig
from homepower.store import Store
from conftest import ROOT


def sample(ts, lifetime, source="eim"):
    return {
        "ts_utc": ts,
        "year": ts.year,
        "month": ts.month,
        "day": ts.day,
        "hour": ts.hour,
        "minute": ts.minute,
        "wattHoursToday": None,
        "wattHoursSevenDays": None,
        "wattHoursLifetime": lifetime,
        "wattsNow": 10.5,
        "whExportedLifetime": None,
        "source": source,
    }


def test_tables_are_created_with_every_contract_column(store):
    for table in schema.TABLES:
        assert store.table_columns(table) == schema.columns(table)


def test_every_tables_columns_in_one_query_match_each_tables_own(store):
    """ensure_schema asks for every table's columns at once; a table that does not exist has none."""
    asked = [*schema.TABLES, "no_such_table"]
    every = store.tables_columns(asked)
    assert list(every) == asked
    for table in schema.TABLES:
        assert every[table] == store.table_columns(table) == schema.columns(table)
    assert every["no_such_table"] == []


def test_upsert_replaces_a_row_for_the_same_second(store):
    ts = datetime(2025, 3, 5, 11, 0, 7)
    store.upsert("enphase_production", [sample(ts, 1000.0)])
    store.upsert("enphase_production", [sample(ts, 1234.5, source="v1")])
    rows = store.fetch("enphase_production", ["ts_utc", "wattHoursLifetime", "source"])
    assert rows == [{"ts_utc": ts, "wattHoursLifetime": 1234.5, "source": "v1"}]


def test_upsert_in_batches_larger_than_one_round_trip(store):
    start = datetime(2025, 1, 1)
    rows = [sample(start + timedelta(minutes=5 * i), 100.0 * i) for i in range(5000)]
    assert store.upsert("enphase_production", rows) == 5000
    got = store.fetch(
        "enphase_production", ["ts_utc", "wattHoursLifetime"], start + timedelta(hours=1), start + timedelta(hours=2)
    )
    assert [r["wattHoursLifetime"] for r in got] == [100.0 * i for i in range(12, 24)]


def test_nulls_round_trip_as_none_not_zero(store):
    ts = datetime(2025, 6, 1, 12)
    store.upsert(
        "pvhistory",
        [
            {
                "ts_utc": ts,
                "year": 2025,
                "month": 6,
                "day": 1,
                "hour": 14,
                "gr_w": None,
                "tc": 40.0,
                "temp": None,
                "kwh_pv": None,
                "kwh_s3p": 1.23456,
                "kwh_return": None,
            }
        ],
    )
    (row,) = store.fetch("pvhistory", ["ts_utc", "gr_w", "tc", "kwh_pv", "kwh_s3p"])
    assert row == {"ts_utc": ts, "gr_w": None, "tc": 40.0, "kwh_pv": None, "kwh_s3p": 1.23456}


def test_replacing_a_row_keeps_created(store):
    ts = datetime(2025, 6, 1, 12)
    row = {"ts_utc": ts, "year": 2025, "month": 6, "day": 1, "hour": 14, "kwh_pv": 1.0}
    store.upsert("pvhistory", [dict(row, created=datetime(2020, 1, 1))], keep=())
    store.upsert("pvhistory", [dict(row, kwh_pv=2.0)])
    (got,) = store.fetch("pvhistory", ["kwh_pv", "created"])
    assert got["kwh_pv"] == 2.0
    assert str(got["created"]).startswith("2020-01-01")


def test_connect_is_idempotent_and_adds_missing_columns(db_config):
    tz = ZoneInfo("UTC")
    with Store.connect(db_config, tz) as s:
        s.execute("ALTER TABLE `pvhistory` DROP COLUMN `flags`")
    with Store.connect(db_config, tz) as s:
        assert "flags" in s.table_columns("pvhistory")


def test_sql_files_match_the_schema():
    for kind in ("mysql", "sqlite"):
        assert (ROOT / "sql" / f"{kind}.sql").read_text() == schema.script(kind), "sql/ is out of date: run `make sql`"


def test_sql_file_works_by_hand_on_sqlite(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "by_hand.db")
    conn.executescript((ROOT / "sql" / "sqlite.sql").read_text())
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == set(schema.TABLES)


def test_unreachable_mysql_is_store_unavailable_without_password():
    cfg = DatabaseConfig(kind="mysql", host="127.0.0.1", port=1, user="u", password="s3cret-pw", database="nope")
    with pytest.raises(StoreUnavailable) as err:
        Store.connect(cfg)
    assert err.value.exit_code == 75
    assert "s3cret-pw" not in str(err.value)
    assert "127.0.0.1:1" in str(err.value)


def test_a_mysql_server_that_never_speaks_is_named_as_silent(monkeypatch):
    monkeypatch.setattr(store_module, "MYSQL_CONNECT_TIMEOUT_S", 1)  # not 10 s of the suite
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(1)  # accepts TCP (the kernel does), never writes a handshake
        port = blackhole.getsockname()[1]
        cfg = DatabaseConfig(kind="mysql", host="127.0.0.1", port=port, user="u", password="pw", database="x")
        with pytest.raises(StoreUnavailable) as err:
            Store.connect(cfg)
    assert err.value.exit_code == 75
    assert "no answer from the server within 1 s" in str(err.value), str(err.value)
    assert "3024: ;" not in str(err.value)


def test_unopenable_sqlite_is_store_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable):
        Store.connect(DatabaseConfig(kind="sqlite", path=blocker / "sub" / "db.sqlite"))


def test_fetch_reads_a_sqlite_time_written_by_hand_with_a_t(tmp_path):
    # SQLite keeps DATETIME as the inserted text: a row typed in by hand (or by another tool) as ISO
    # with a "T" must come back as the same instant, not crash the reader.
    with Store.connect(DatabaseConfig(kind="sqlite", path=tmp_path / "h.db")) as store:
        store.execute(
            "INSERT INTO pvhistory (ts_utc, year, month, day, hour, kwh_pv) "
            "VALUES ('2025-06-01T12:00:00', 2025, 6, 1, 14, 1.5)"
        )
        store.commit()
        assert store.fetch("pvhistory", ["ts_utc", "kwh_pv"]) == [{"ts_utc": datetime(2025, 6, 1, 12), "kwh_pv": 1.5}]


def test_forecast_rows_are_keyed_on_hour_issue_and_provider(store):
    from datetime import datetime

    hour, first, later = datetime(2025, 6, 1, 10), datetime(2025, 6, 1, 4), datetime(2025, 6, 1, 9)
    rows = [
        {"ts_utc": hour, "issued_utc": first, "provider": "meteoserver", "gr_w": 100.0},
        {"ts_utc": hour, "issued_utc": later, "provider": "meteoserver", "gr_w": 200.0},
        {"ts_utc": hour, "issued_utc": later, "provider": "open-meteo", "gr_w": 300.0},
    ]
    store.upsert("forecast", rows)
    store.upsert("forecast", [dict(rows[1], gr_w=250.0)])  # the same forecast again replaces, never adds
    got = store.execute("SELECT `provider`, `gr_w` FROM `forecast` ORDER BY `issued_utc`, `provider`", fetch=True)
    assert [(p, float(g)) for p, g in got] == [("meteoserver", 100.0), ("meteoserver", 250.0), ("open-meteo", 300.0)]


def test_a_user_without_the_create_privilege_is_a_setting_to_fix_not_a_bug(mysql_database):
    """Found in review: a GRANT lacking CREATE ended the poller with 70 (ProgrammingError 1142)."""
    import uuid
    from dataclasses import replace

    from conftest import _admin_store
    from homepower.errors import StoreRejected

    user, password = f"hp_ro_{uuid.uuid4().hex[:8]}", "ro-pw-123"
    admin = _admin_store()
    try:
        admin.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        admin.execute(f"GRANT SELECT, INSERT ON `{mysql_database.database}`.* TO '{user}'@'%'")
        limited = replace(mysql_database, user=user, password=password)
        with pytest.raises(StoreRejected) as err:
            Store.connect(limited, ZoneInfo("UTC"))
        assert err.value.exit_code == 78 and "privileges" in str(err.value) and password not in str(err.value)
    finally:
        admin.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()
