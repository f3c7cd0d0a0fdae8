"""``/ivp/pdm/device_data``: each micro-inverter's energy over its last report interval (firmware 8.2.4345
and later, 6 of the 38 recorded firmwares).

An object of devices keyed by an id, plus ``deviceCount`` and ``deviceDataLimit``. A device has ``devName``
(``pcu`` for a micro-inverter), ``sn``, ``active``, ``modGone`` and ``channels``; a channel's
``lastReading`` holds ``joulesProduced`` over ``duration`` seconds ending at ``endDate`` (unix). Pure: no I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from homepower.errors import DataError
from homepower.gateway import parse
from homepower.gateway.inverters import QUIRKS, serial_of, unix_time, why

PATH = "/ivp/pdm/device_data"
# The recorded bodies are 15-43 KiB for up to 22 devices, about 2 KiB a device; the device limit is 50 on
# every recorded firmware (and a gateway may take up to 600 inverters).
CAP = 2 * parse.MIB
PCU = "pcu"  # a PV micro-inverter; others are meters (eim), AC batteries (acb), relays (nsrb)
# Firmware before 8.2.4345 has no device_data: not asked there (a 7.x gateway takes 20-30 s per answer).
FROM = (8, 2, 4345)
MAX_SECONDS = 86400  # a report interval is 5 to 15 minutes; a day or more is not one
MAX_JOULES = 1e10  # 2,800 kWh in one interval: far beyond any micro-inverter, a corrupt answer


class IntervalEnergy(NamedTuple):
    """One micro-inverter's energy over its last report interval; ``end_utc`` naive UTC."""

    serial: str
    end_utc: datetime
    seconds: int
    wh: float


class DeviceData(NamedTuple):
    intervals: list[IntervalEnergy]
    cut: bool  # the gateway listed as many devices as its limit allows: some inverters may be missing
    skipped: tuple[str, ...] = ()  # devices left out as malformed, each naming its serial and why


def offered(firmware: tuple[int, ...]) -> bool:
    return firmware >= FROM


def count(value: Any, field: str) -> int | None:
    """Firmware 8.2.4345 and later give ``deviceCount`` and ``deviceDataLimit`` as strings ("17", "50"):
    compared as text, "6" >= "50" would hold. Read as numbers here."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        return None
    raise DataError(f"gateway {PATH} gave {field}={parse._short(value)}, not a count; nothing stored")


def _interval(serial: str, channel: Any) -> IntervalEnergy | None:
    """A channel's last reading; None where it has none (8.3.5289: a device gone from the site keeps an
    empty ``lastReading``)."""
    if not isinstance(channel, dict):
        raise DataError(f"gateway {PATH} has a channel of {serial} that is not an object; nothing stored")
    reading = channel.get("lastReading")
    if not reading:
        return None
    if not isinstance(reading, dict):
        raise DataError(f"gateway {PATH} has a lastReading of {serial} that is not an object; nothing stored")
    end = unix_time(reading.get("endDate"), PATH, "endDate")
    seconds = parse.number(reading.get("duration"), PATH, "duration", required=True, limit=MAX_SECONDS)
    joules = parse.number(reading.get("joulesProduced"), PATH, "joulesProduced", required=True, limit=MAX_JOULES)
    assert seconds is not None and joules is not None
    if end is None or seconds <= 0 or joules < 0:
        return None
    return IntervalEnergy(serial, end, int(seconds), joules / 3600.0)


def parse_device_data(text: str | dict) -> DeviceData:
    """The micro-inverters' last intervals. Only ``pcu`` devices: the body also holds the meters (eim), AC
    batteries (acb) and relays (nsrb). A device with several channels gives their energy summed over the
    newest interval. ``cut``: ``deviceCount`` reached ``deviceDataLimit`` (the rest of a large site is not
    listed; /api/v1/production/inverters still lists every inverter)."""
    data = parse.load_json(text, PATH)
    if not isinstance(data, dict):
        raise DataError(f"gateway {PATH} is not an object of devices; nothing stored")
    devices, limit = (
        count(data.get("deviceCount"), "deviceCount"),
        count(data.get("deviceDataLimit"), "deviceDataLimit"),
    )
    out: list[IntervalEnergy] = []
    skipped: list[str] = []
    for key, device in data.items():
        if key in ("deviceCount", "deviceDataLimit"):
            continue
        try:
            found = _device(key, device)
        except DataError as exc:  # one bad device does not cost the others' intervals
            skipped.append(why(exc, PATH))
            continue
        if found is not None:
            out.append(found)
    cut = devices is not None and limit is not None and devices >= limit
    return DeviceData(out, cut, tuple(skipped))


def _device(key: str, device: Any) -> IntervalEnergy | None:
    """A micro-inverter's newest interval; None for another device, an inactive one or one without any."""
    if not isinstance(device, dict):
        raise DataError(f"gateway {PATH} has a device {parse._short(key)} that is not an object")
    if device.get("devName") != PCU or device.get("active") is False:
        return None
    serial = serial_of(device.get("sn"), PATH, "sn")
    channels = device.get("channels")
    if not isinstance(channels, list):
        raise DataError(f"gateway {PATH} gives {serial} no list of channels")
    try:
        found = [i for i in (_interval(serial, c) for c in channels) if i is not None]
    except DataError as exc:
        raise DataError(f"{serial}: {why(exc, PATH)}") from exc
    if not found:
        return None
    newest = max(i.end_utc for i in found)
    last = [i for i in found if i.end_utc == newest]
    return IntervalEnergy(serial, newest, max(i.seconds for i in last), sum(i.wh for i in last))


ENDPOINT = parse.Endpoint("ivp_pdm_device_data", PATH, CAP, parse_device_data, quirks=QUIRKS, optional=True)
