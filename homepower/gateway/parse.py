"""Pure parsing of the IQ Gateway's answers, one small function per endpoint, and the source rule.

Nothing here does I/O: every function takes the text (or decoded JSON) a gateway answered and returns a
small typed value, or raises ``DataError`` (exit 65) naming the endpoint. Each firmware quirk is handled
in exactly one place, with a comment naming the firmware it comes from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple
from xml.etree import ElementTree

from homepower.errors import DataError

SOURCES = ("eim", "v1", "inverters", "pdm", "html")

# Endpoints by the name the recorded fixtures use for them.
PATHS = {
    "info": "/info",
    "production.json": "/production.json",
    "api_v1_production": "/api/v1/production",
    "ivp_meters": "/ivp/meters",
    "ivp_meters_readings": "/ivp/meters/readings",
    "ivp_pdm_energy": "/ivp/pdm/energy",
    "production": "/production",
}

# From this firmware on, /api/v1/production of a metered gateway without an active production CT
# stalls (seen on 8.2.4264_metered_noct: v1 lifetime 1583 Wh while the inverters report 32 MWh).
V1_STALLS_FROM = (8, 2, 4264)
# Firmware 7 introduced token authentication; below it no token is needed.
TOKEN_FROM = (7,)
# Firmware 3.x has no /production.json: it answers an HTML "Page Not Found" (or "error") page with it.
JSON_PRODUCTION_FROM = (4,)


class Values(NamedTuple):
    """One production reading as the gateway gives it. Wh for energies, W for power; None = not given."""

    wattHoursToday: float | None
    wattHoursSevenDays: float | None
    wattHoursLifetime: float | None
    wattsNow: float | None


@dataclass(frozen=True)
class GatewayInfo:
    serial: str
    firmware: tuple[int, ...]
    firmware_text: str
    imeter: bool | None  # None: /info does not say (older firmware)

    @property
    def needs_token(self) -> bool:
        return self.firmware >= TOKEN_FROM


@dataclass(frozen=True)
class ProductionJson:
    """The two entries of /production.json the source rule uses (None when absent or inactive)."""

    eim: Values | None  # production entry of type eim with activeCount >= 1
    inverters: Values | None  # production entry of type inverters


# -- helpers --------------------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...]:
    """``D7.6.175`` / ``R3.9.36`` / ``7.6.175`` -> (7, 6, 175). The letter is the build channel."""
    match = re.search(r"(\d+(?:\.\d+)*)", text or "")
    if not match:
        raise DataError(f"gateway /info has no firmware version (software={text!r})")
    return tuple(int(p) for p in match.group(1).split("."))


def load_json(text: str | Any, endpoint: str) -> Any:
    """The decoded JSON of an answer's text; a value decoded already (a spool or replay body) as it is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        snippet = " ".join(text.split())[:60]
        kind = "an HTML page" if looks_like_html(text) else "not JSON (truncated or malformed)"
        raise DataError(f"gateway {endpoint} answered {kind}: {snippet!r}; nothing stored") from None


def looks_like_html(text: str | None) -> bool:
    head = (text or "").lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head


def lifetime(value: Any, endpoint: str, field: str) -> float:
    """A lifetime energy counter (Wh): required, and never negative (a reversed CT or a corrupt answer;
    stored, it would read as a counter reset)."""
    wh = number(value, endpoint, field, required=True)
    if wh < 0:
        raise DataError(f"gateway {endpoint} gave {field}={value!r}, a negative lifetime; nothing stored")
    return wh


def number(value: Any, endpoint: str, field: str, required: bool = False) -> float | None:
    """A JSON number as float; None/absent allowed unless ``required``. Booleans and strings are rejected."""
    if value is None:
        if required:
            raise DataError(f"gateway {endpoint} has no {field}; nothing stored")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"gateway {endpoint} gave {field}={value!r}, not a number; nothing stored")
    if value != value or value in (float("inf"), float("-inf")):
        raise DataError(f"gateway {endpoint} gave {field}={value!r}; nothing stored")
    return float(value)


def _obj(value: Any, endpoint: str, what: str = "a JSON object") -> dict:
    if not isinstance(value, dict):
        raise DataError(f"gateway {endpoint} is not {what}; nothing stored")
    return value


# -- what the gateway's status line and body really mean ------------------------------------------


def embedded_status(text: str | None) -> int | None:
    """Firmware 3.x answers some protected endpoints with the text ``Error: 401`` (status 200; seen on
    3.8.10 /ivp/meters), and 7.x+ with an nginx HTML page titled ``401 Authorization Required``."""
    body = (text or "").strip()
    match = re.fullmatch(r"Error:\s*(\d{3})", body)
    if match:
        return int(match.group(1))
    if looks_like_html(body):
        match = re.search(r"<title>\s*(401|403)\b", body[:2000], re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def is_missing(status: int, text: str | None, firmware: tuple[int, ...]) -> bool:
    """True when the gateway does not have this endpoint (the source rule then moves on)."""
    if status == 404:
        return True
    body = (text or "").strip()
    # Several firmwares (3.9.36, 3.8.10) answer an unknown ivp path with JSON {"error": "404 - Not Found"}.
    if body.startswith("{") and '"error"' in body[:100]:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and set(decoded) == {"error"}:
            return True
    # Firmware 3.x (3.7.0, 3.8.10, 3.9.36, 3.17.3) answers JSON paths it lacks with an HTML error page and
    # status 200. From firmware 4 on, an HTML page where JSON belongs is a fault, not a missing endpoint.
    if firmware < JSON_PRODUCTION_FROM and looks_like_html(body):
        return True
    return False


# -- one function per endpoint --------------------------------------------------------------------


def parse_info(text: str) -> GatewayInfo:
    """``/info`` (XML): serial number, firmware and whether the gateway is metered (``imeter``)."""
    try:
        root = ElementTree.fromstring((text or "").strip())
    except ElementTree.ParseError:
        raise DataError("gateway /info is not the expected XML; is ENVOY_HOST an IQ Gateway?") from None
    serial = (root.findtext("device/sn") or "").strip()
    software = (root.findtext("device/software") or "").strip()
    if not serial or not software:
        raise DataError("gateway /info has no serial number or firmware; is ENVOY_HOST an IQ Gateway?")
    imeter_text = (root.findtext("device/imeter") or "").strip().lower()
    imeter = {"true": True, "false": False}.get(imeter_text)
    return GatewayInfo(serial=serial, firmware=parse_version(software), firmware_text=software, imeter=imeter)


def _production_entries(data: dict, endpoint: str) -> list:
    entries = data.get("production")
    if not isinstance(entries, list):
        raise DataError(f"gateway {endpoint} has no production list; nothing stored")
    return entries


def parse_production_json(text: str | dict) -> ProductionJson:
    """``/production.json``: the active ``eim`` production entry and the ``inverters`` entry.

    Firmware 4.2.33 gives the eim production entry no ``measurementType``: the type and list are enough."""
    endpoint = "/production.json"
    data = _obj(load_json(text, endpoint), endpoint)
    eim = inverters = inverters_error = None
    for entry in _production_entries(data, endpoint):
        if not isinstance(entry, dict):
            raise DataError(f"gateway {endpoint} has a production entry that is not an object")
        kind = entry.get("type")
        if kind == "eim" and eim is None:
            active = number(entry.get("activeCount"), endpoint, "eim activeCount") or 0
            if active >= 1:
                eim = Values(
                    number(entry.get("whToday"), endpoint, "eim whToday"),
                    number(entry.get("whLastSevenDays"), endpoint, "eim whLastSevenDays"),
                    lifetime(entry.get("whLifetime"), endpoint, "eim whLifetime"),
                    number(entry.get("wNow"), endpoint, "eim wNow"),
                )
        elif kind == "inverters" and inverters is None:
            try:
                inverters = Values(
                    None,
                    None,
                    lifetime(entry.get("whLifetime"), endpoint, "inverters whLifetime"),
                    number(entry.get("wNow"), endpoint, "inverters wNow"),
                )
            except DataError as exc:
                inverters_error = exc  # matters only if no active eim is the reading
    if inverters_error is not None and eim is None:
        raise inverters_error
    return ProductionJson(eim=eim, inverters=inverters)


def _values(data: dict, endpoint: str) -> Values:
    return Values(
        number(data.get("wattHoursToday"), endpoint, "wattHoursToday"),
        number(data.get("wattHoursSevenDays"), endpoint, "wattHoursSevenDays"),
        lifetime(data.get("wattHoursLifetime"), endpoint, "wattHoursLifetime"),
        number(data.get("wattsNow"), endpoint, "wattsNow"),
    )


def parse_api_v1_production(text: str | dict) -> Values:
    """``/api/v1/production``: the four totals of the inverters (all 0 on metered gateways whose CTs are
    disabled, e.g. 7.3.466_metered_disabled_cts)."""
    endpoint = "/api/v1/production"
    data = _obj(load_json(text, endpoint), endpoint)
    return _values(data, endpoint)


def parse_pdm_energy(text: str | dict) -> Values:
    """``/ivp/pdm/energy``: ``production.pcu`` (the micro-inverters; 8.3.x firmware)."""
    endpoint = "/ivp/pdm/energy"
    data = _obj(load_json(text, endpoint), endpoint)
    production = _obj(data.get("production"), endpoint, "an object with production.pcu")
    pcu = _obj(production.get("pcu"), endpoint, "an object with production.pcu")
    return _values(pcu, endpoint)


_HTML_ROW = re.compile(r"<td>\s*{label}\s*</td>\s*<td>\s*([-\d.,]+)\s*([kKmM]?)W(h?)\s*</td>", re.I)
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6}


def parse_production_html(text: str) -> Values:
    """Firmware 3.x ``/production`` page: "Currently 6.63 kW", "Today 53.6 kWh", "Past Week 405 kWh",
    "Since Installation 133 MWh" (3.7.0). Values are rounded by the page, hence the last resort."""
    endpoint = "/production"

    def grab(label: str, energy: bool) -> float | None:
        match = re.search(_HTML_ROW.pattern.format(label=label), text or "", re.I)
        if not match:
            return None
        if bool(match.group(3)) != energy:
            raise DataError(f"gateway {endpoint} gives {label!r} in unexpected units; nothing stored")
        return float(match.group(1).replace(",", "")) * _SCALE[match.group(2).lower()]

    total = grab("Since Installation", True)
    if total is None:
        raise DataError(f"gateway {endpoint} page has no 'Since Installation' energy; nothing stored")
    return Values(
        grab("Today", True),
        grab("Past Week", True),
        lifetime(total, endpoint, "Since Installation"),
        grab("Currently", False),
    )


def parse_meters(text: str | list) -> int | None:
    """``/ivp/meters``: the eid of the enabled net-consumption meter, or None.

    8.3.5433_tot_is_net_cons has only a total-consumption meter: no export figure there."""
    endpoint = "/ivp/meters"
    data = load_json(text, endpoint)
    if not isinstance(data, list):
        raise DataError(f"gateway {endpoint} is not a list of meters")
    for meter in data:
        if (
            isinstance(meter, dict)
            and meter.get("measurementType") == "net-consumption"
            and meter.get("state") == "enabled"
            and isinstance(meter.get("eid"), int)
        ):
            return meter["eid"]
    return None


def parse_meter_readings(text: str | list, eid: int) -> float | None:
    """``/ivp/meters/readings``: ``actEnergyRcvd`` (Wh, lifetime energy the grid received) of meter ``eid``."""
    endpoint = "/ivp/meters/readings"
    data = load_json(text, endpoint)
    if not isinstance(data, list):
        raise DataError(f"gateway {endpoint} is not a list of readings")
    for reading in data:
        if isinstance(reading, dict) and reading.get("eid") == eid:
            return number(reading.get("actEnergyRcvd"), endpoint, "actEnergyRcvd", required=True)
    return None


# -- the source rule --------------------------------------------------------------------------------


def v1_trusted(info: GatewayInfo, production: ProductionJson | None, v1: Values) -> bool:
    """v1 counts when its lifetime is above 0, except on a metered gateway with no active eim on firmware
    8.2.4264 or later, whose v1 values stall."""
    if not v1.wattHoursLifetime or v1.wattHoursLifetime <= 0:
        return False
    eim_active = production is not None and production.eim is not None
    if info.imeter and not eim_active and info.firmware >= V1_STALLS_FROM:
        return False
    return True


def choose_source(info: GatewayInfo, get: Callable[[str], Any]) -> tuple[str, Values] | None:
    """The contract's order: eim -> v1 -> inverters -> pdm -> html. ``get(name)`` returns the parsed body
    of an endpoint (``production.json``, ``api_v1_production``, ``ivp_pdm_energy``, ``production``) or
    None when the gateway lacks it; it is called lazily, so a gateway with an active eim is asked once."""
    production = get("production.json")
    if production is not None and production.eim is not None:
        return "eim", production.eim
    v1 = get("api_v1_production")
    if v1 is not None and v1_trusted(info, production, v1):
        return "v1", v1
    if production is not None and production.inverters is not None:
        return "inverters", production.inverters
    pdm = get("ivp_pdm_energy")
    if pdm is not None:
        return "pdm", pdm
    html = get("production")
    if html is not None:
        return "html", html
    return None


# -- recorded bodies (spool and --replay) --------------------------------------------------------------


def values_from_body(body: Any) -> tuple[str, Values]:
    """The source and values of one raw JSON body of a supported endpoint, told apart by shape:
    /production.json (a ``production`` list), /ivp/pdm/energy (``production.pcu``), /api/v1/production
    (``wattHoursLifetime`` at the top)."""
    if not isinstance(body, dict):
        raise DataError("body is not a JSON object of a supported endpoint")
    production = body.get("production")
    if isinstance(production, list):
        parsed = parse_production_json(body)
        if parsed.eim is not None:
            return "eim", parsed.eim
        if parsed.inverters is not None:
            return "inverters", parsed.inverters
        raise DataError("production.json body has neither an active eim nor an inverters entry")
    if isinstance(production, dict):
        return "pdm", parse_pdm_energy(body)
    if "wattHoursLifetime" in body:
        return "v1", parse_api_v1_production(body)
    raise DataError("body is not production.json, api/v1/production or ivp/pdm/energy")
