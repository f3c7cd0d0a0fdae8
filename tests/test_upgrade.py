"""Upgrade in place of the original author's tables: every row kept, Wh -> kWh, ts_utc from local time."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from homepower.errors import ConfigError
from homepower.store import Store
from homepower.store.upgrade import local_to_utc

AMS = ZoneInfo("Europe/Amsterdam")

# The original DDL, exactly as the original project created the tables (MySQL).
ORIGINAL_PRODUCTION = """CREATE TABLE `enphase_production` (
  `year` DECIMAL(4,0) NOT NULL,
  `month` DECIMAL(2,0) NOT NULL,
  `day` DECIMAL(2,0) NOT NULL,
  `hour` DECIMAL(2,0) NOT NULL,
  `minute` DECIMAL(2,0) NOT NULL,
  `wattHoursToday` DECIMAL(10,5) NOT NULL,
  `wattHoursSevenDays` DECIMAL(10,5) NOT NULL,
  `wattHoursLifetime` DECIMAL(15,5) NOT NULL,
  `wattsNow` DECIMAL(10,5) NOT NULL,
  `created` TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`year`,`month`,`day`,`hour`,`minute`)
)"""

ORIGINAL_PVHISTORY = """CREATE TABLE `pvhistory` (
  `year` DECIMAL(4,0) NOT NULL,
  `month` DECIMAL(2,0) NOT NULL,
  `day` DECIMAL(2,0) NOT NULL,
  `hour` DECIMAL(2,0) NOT NULL,
  `gr_w` DECIMAL(10,5) NOT NULL,
  `tc` DECIMAL(10,5) NOT NULL,
  `wh_pv` DECIMAL(10,5) NOT NULL,
  `wh_s3p` DECIMAL(10,5) NOT NULL,
  `wh_return` DECIMAL(10,5) NOT NULL,
  `created` TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (\t`year`,`month`,`day`,`hour`)
)"""

PRODUCTION_ROWS = [
    # winter (UTC+1), summer (UTC+2), and the last minute before the autumn change
    (2024, 1, 15, 12, 5, 1200, 30000, 1190000.5, 850),
    (2024, 7, 1, 14, 0, 15000, 99000, 1192000, 3100),
    (2024, 10, 27, 1, 55, 0, 88000, 1193000, 0),
]
PVHISTORY_ROWS = [
    (2024, 7, 1, 14, 612.5, 20, 2850.0, 2600.5, 1200),
    (2024, 1, 15, 12, 150, 85, 420.0, 380.0, 0),
]


def make_original_tables(db_config):
    """Create and fill the original tables with the original DDL (no ts_utc, Wh)."""
    s = Store.connect(db_config, AMS, create=False)
    ph = s.dialect.placeholder
    s.execute(ORIGINAL_PRODUCTION)
    s.execute(ORIGINAL_PVHISTORY)
    s.conn.cursor().executemany(
        f"INSERT INTO enphase_production (year, month, day, hour, minute, wattHoursToday, "
        f"wattHoursSevenDays, wattHoursLifetime, wattsNow) VALUES ({', '.join([ph] * 9)})",
        PRODUCTION_ROWS,
    )
    s.conn.cursor().executemany(
        f"INSERT INTO pvhistory (year, month, day, hour, gr_w, tc, wh_pv, wh_s3p, wh_return) "
        f"VALUES ({', '.join([ph] * 9)})",
        PVHISTORY_ROWS,
    )
    s.commit()
    s.close()


def test_original_tables_are_upgraded_with_every_row_kept(db_config):
    make_original_tables(db_config)
    with Store.connect(db_config, AMS) as s:
        prod = s.fetch(
            "enphase_production",
            ["ts_utc", "year", "month", "day", "hour", "minute", "wattHoursLifetime", "wattsNow", "source"],
        )
        hist = s.fetch("pvhistory", ["ts_utc", "hour", "gr_w", "tc", "kwh_pv", "kwh_s3p", "kwh_return"])
        backups = s.table_columns("enphase_production_orig"), s.table_columns("pvhistory_orig")
    assert [r["ts_utc"] for r in prod] == [
        datetime(2024, 1, 15, 11, 5),
        datetime(2024, 7, 1, 12, 0),
        datetime(2024, 10, 26, 23, 55),
    ]
    assert [r["wattHoursLifetime"] for r in prod] == [1190000.5, 1192000.0, 1193000.0]
    assert [(r["hour"], r["minute"]) for r in prod] == [(12, 5), (14, 0), (1, 55)]  # local kept
    assert {r["source"] for r in prod} == {"legacy"}
    assert hist == [
        {
            "ts_utc": datetime(2024, 1, 15, 11),
            "hour": 12,
            "gr_w": 150.0,
            "tc": 85.0,
            "kwh_pv": 0.42,
            "kwh_s3p": 0.38,
            "kwh_return": 0.0,
        },
        {
            "ts_utc": datetime(2024, 7, 1, 12),
            "hour": 14,
            "gr_w": 612.5,
            "tc": 20.0,
            "kwh_pv": 2.85,
            "kwh_s3p": 2.6005,
            "kwh_return": 1.2,
        },
    ]
    assert all(backups), "the original tables are kept as *_orig"


def test_upgraded_tables_take_new_rows_and_upgrade_only_once(db_config):
    make_original_tables(db_config)
    Store.connect(db_config, AMS).close()
    with Store.connect(db_config, AMS) as s:  # second start: nothing to upgrade, nothing lost
        s.upsert(
            "pvhistory",
            [{"ts_utc": datetime(2024, 7, 1, 13), "year": 2024, "month": 7, "day": 1, "hour": 15, "kwh_pv": 2.5}],
        )
        assert len(s.fetch("pvhistory", ["ts_utc"])) == 3
        assert len(s.fetch("enphase_production", ["ts_utc"])) == 3


def test_left_over_backup_stops_the_upgrade_with_a_clear_message(db_config):
    make_original_tables(db_config)
    s = Store.connect(db_config, AMS, create=False)
    s.execute("CREATE TABLE `pvhistory_orig` (x INTEGER)")
    s.commit()
    with pytest.raises(ConfigError, match="pvhistory_orig already exists"):
        s.ensure_schema(AMS)
    s.close()


@pytest.mark.parametrize(
    "local,utc",
    [
        ((2024, 3, 31, 1, 30), datetime(2024, 3, 31, 0, 30)),  # before spring-forward
        ((2024, 3, 31, 3, 0), datetime(2024, 3, 31, 1, 0)),  # after it
        ((2024, 10, 27, 2, 30), datetime(2024, 10, 27, 0, 30)),  # repeated hour: first occurrence
        ((2024, 10, 27, 3, 0), datetime(2024, 10, 27, 2, 0)),
    ],
)
def test_local_to_utc_over_dst(local, utc):
    assert local_to_utc(*local, AMS) == utc
