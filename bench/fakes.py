"""The fakes of the poll benchmark: the project's own fake HTTPS gateway and fake Enlighten/Entrez
(tests/fakes, written for the tests and reused here), started in this process on 127.0.0.1.

The gateway answers from a recorded firmware folder (../shared/fixtures/envoy/<firmware>, read at run
time, never copied) or, in a clone without ../shared, from the small bodies below in the same shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.enlighten import FakeEnlighten, make_jwt
from tests.fakes.gateway import FakeGateway

USER, PASSWORD = "owner@example.com", "bench-pw-not-secret"

# A metered firmware-7 gateway with an active production CT, for a clone without ../shared.
OWN_BODIES = {
    "info": """<?xml version='1.0' encoding='UTF-8'?>
<envoy_info><time>1700000000</time><device><sn>122200000001</sn><pn>800-00654-r08</pn>
<software>D7.6.175</software><imeter>true</imeter></device><web-tokens>true</web-tokens></envoy_info>
""",
    "production.json": json.dumps(
        {
            "production": [
                {"type": "inverters", "activeCount": 12, "readingTime": 1700000000, "wNow": 1510, "whLifetime": 702919},
                {
                    "type": "eim",
                    "activeCount": 1,
                    "measurementType": "production",
                    "readingTime": 1700000000,
                    "wNow": 1488.2,
                    "whLifetime": 3183793.303,
                    "whToday": 4425.303,
                    "whLastSevenDays": 111093.303,
                },
            ],
            "consumption": [
                {
                    "type": "eim",
                    "activeCount": 1,
                    "measurementType": "total-consumption",
                    "readingTime": 1700000000,
                    "wNow": 676.8,
                    "whLifetime": 5145153.621,
                    "whToday": 9903.6,
                    "whLastSevenDays": 70004.6,
                },
                {
                    "type": "eim",
                    "activeCount": 1,
                    "measurementType": "net-consumption",
                    "readingTime": 1700000000,
                    "wNow": -811.4,
                    "whLifetime": 1961512.786,
                    "whToday": 0,
                    "whLastSevenDays": 0,
                },
            ],
            "storage": [{"type": "acb", "activeCount": 0, "readingTime": 0, "wNow": 0, "whNow": 0, "state": "idle"}],
        }
    ),
    "api_v1_production": json.dumps(
        {"wattHoursToday": 4425, "wattHoursSevenDays": 111093, "wattHoursLifetime": 3183793, "wattsNow": 1488}
    ),
    "ivp_meters": json.dumps(
        [
            {
                "eid": 410000001,
                "state": "enabled",
                "measurementType": "production",
                "phaseMode": "single",
                "phaseCount": 1,
                "meteringStatus": "normal",
                "statusFlags": [],
            },
            {
                "eid": 410000002,
                "state": "enabled",
                "measurementType": "net-consumption",
                "phaseMode": "single",
                "phaseCount": 1,
                "meteringStatus": "normal",
                "statusFlags": [],
            },
        ]
    ),
    "ivp_meters_readings": json.dumps(
        [
            {
                "eid": 410000001,
                "timestamp": 1700000000,
                "actEnergyDlvd": 3183793.303,
                "actEnergyRcvd": 0.0,
                "activePower": 1488.2,
                "pwrFactor": 0.99,
                "voltage": 235.7,
                "current": 6.3,
                "freq": 50.0,
            },
            {
                "eid": 410000002,
                "timestamp": 1700000000,
                "actEnergyDlvd": 2961512.786,
                "actEnergyRcvd": 999999.0,
                "activePower": -811.4,
                "pwrFactor": -1.0,
                "voltage": 235.7,
                "current": -3.4,
                "freq": 50.0,
            },
        ]
    ),
}


@dataclass
class FakeSite:
    """A fake gateway and a fake Enlighten/Entrez; ``token`` is valid at the gateway (for pyenphase)."""

    gateway: FakeGateway
    enlighten: FakeEnlighten
    token: str
    origin: str  # where the gateway's bodies come from

    @classmethod
    def start(cls, workdir: Path, fixtures: Path | None, firmware: str) -> "FakeSite":
        folder = fixtures / firmware if fixtures else None
        if folder and folder.is_dir():
            gateway, origin = FakeGateway(firmware_dir=folder, workdir=workdir), f"recorded firmware {firmware}"
        else:
            gateway, origin = FakeGateway(bodies=OWN_BODIES, workdir=workdir), "the bench's own firmware-7 bodies"
        gateway.start()
        enlighten = FakeEnlighten(user=USER, password=PASSWORD).start()
        return cls(gateway, enlighten, make_jwt(gateway.serial), origin)

    def close(self) -> None:
        self.gateway.stop()
        self.enlighten.stop()
