"""What the poller's whole-process tests share: a gateway's own bodies (firmware 8 with a production CT
and a net-consumption meter), the fixtures that start the fake gateway and Enlighten, and reading back
what a run stored. Imported by tests/conftest.py so the fixtures reach every test module."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fakes.enlighten import FakeEnlighten
from fakes.gateway import FakeGateway, info_xml
from fakes.harness import poller_env

V1 = '{"wattHoursToday": 1200, "wattHoursSevenDays": 30000, "wattHoursLifetime": 4500000, "wattsNow": 850}'
PRODUCTION = json.dumps(
    {
        "production": [
            {"type": "inverters", "activeCount": 12, "readingTime": 1, "wNow": 840, "whLifetime": 1_100_000},
            {
                "type": "eim",
                "activeCount": 1,
                "measurementType": "production",
                "readingTime": 1,
                "wNow": 851.25,
                "whLifetime": 4_500_123.5,
                "whToday": 1201.5,
                "whLastSevenDays": 30001.5,
            },
        ]
    }
)
METERS = json.dumps(
    [
        {"eid": 410000001, "state": "enabled", "measurementType": "production"},
        {"eid": 410000002, "state": "enabled", "measurementType": "net-consumption"},
    ]
)
READINGS = json.dumps(
    [
        {"eid": 410000001, "actEnergyDlvd": 4500123.5, "actEnergyRcvd": 0.5},
        {"eid": 410000002, "actEnergyDlvd": 900.0, "actEnergyRcvd": 2_345_678.25},
    ]
)
SERIAL = "122233445566"


def own_bodies(software="D8.2.4345"):
    return {
        "/info": info_xml(SERIAL, software, True),
        "/production.json": PRODUCTION,
        "/api/v1/production": V1,
        "/ivp/meters": METERS,
        "/ivp/meters/readings": READINGS,
    }


@pytest.fixture
def enlighten():
    with FakeEnlighten(serials=None) as fake:
        yield fake


@pytest.fixture
def gateway(tmp_path):
    started = []

    def make(**kwargs):
        kwargs.setdefault("workdir", tmp_path / "certs")
        if "firmware_dir" not in kwargs:
            kwargs.setdefault("bodies", own_bodies())
        gw = FakeGateway(**kwargs).start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        gw.stop()


def rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(str(db))
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM enphase_production ORDER BY ts_utc")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def env_for(tmp_path, gw, enlighten, **extra):
    return poller_env(tmp_path / "state", gw, enlighten, **extra)
