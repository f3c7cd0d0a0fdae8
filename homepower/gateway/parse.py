"""What the IQ Gateway's answers mean: one record per endpoint (its path, its size cap, its parser and the
firmware quirks it handles) and the source rule as an ordered list over them, as pyenphase's updaters do.
A firmware change is an edit of this file only.

Nothing here does I/O. ``read(info, answer)`` walks the source rule, asking ``answer(endpoint)`` for the
(status, text) the gateway gave (lazily: a gateway with an active eim is asked for one production body),
and returns the reading's values, or raises ``DataError`` (exit 65) naming the endpoint.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, NamedTuple
from xml.etree import ElementTree

from homepower.errors import DataError

SOURCES = ("eim", "v1", "inverters", "pdm", "html")

# From this firmware on, /api/v1/production of a metered gateway without an active production CT
# stalls (seen on 8.2.4264_metered_noct: v1 lifetime 1583 Wh while the inverters report 32 MWh).
V1_STALLS_FROM = (8, 2, 4264)
# Firmware 7 introduced token authentication; below it no token is needed.
TOKEN_FROM = (7,)
# Firmware 3.x has no /production.json: it answers an HTML "Page Not Found" (or "error") page with it.
JSON_PRODUCTION_FROM = (4,)

# Plausibility: the largest IQ Gateway system (600 micro-inverters of 400 W, 240 kW) running at its full
# rating day and night for 47 years makes 1e11 Wh. A lifetime beyond that is a corrupt answer, not energy
# (and DECIMAL(15,3) could not hold much more: 1e12).
MAX_LIFETIME_WH = 1e11
MAX_POWER_W = 1e7  # 40 times that system's rating, in either direction (DECIMAL(12,3) holds 1e9)

KIB = 1024
MIB = 1024 * KIB


class Values(NamedTuple):
    """One production reading as the gateway gives it. Wh for energies, W for power; None = not given."""

    wattHoursToday: float | None
    wattHoursSevenDays: float | None
    wattHoursLifetime: float | None
    wattsNow: float | None


class Grid(NamedTuple):
    """Lifetime Wh of the consumption meters; None without such a meter."""

    exported: float | None = None  # net-consumption meter, actEnergyRcvd: sent to the grid
    imported: float | None = None  # net-consumption meter, actEnergyDlvd: taken from the grid
    consumed: float | None = None  # total-consumption meter, actEnergyDlvd: the house's use


class GatewayInfo(NamedTuple):
    serial: str
    firmware: tuple[int, ...]
    firmware_text: str
    imeter: bool | None  # None: /info does not say (older firmware)

    @property
    def needs_token(self) -> bool:
        return self.firmware >= TOKEN_FROM


class ProductionJson(NamedTuple):
    """The two entries of /production.json the source rule uses (None when absent or inactive)."""

    eim: Values | None  # production entry of type eim with activeCount >= 1
    inverters: Values | None  # production entry of type inverters


class Meters(NamedTuple):
    """The eids of the enabled consumption meters of /ivp/meters."""

    net: int | None = None
    total: int | None = None


# Typed records are NamedTuples, not dataclasses: as immutable, and a tenth of the cost to define at import.

# -- helpers --------------------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, ...]:
    """``D7.6.175`` / ``R3.9.36`` / ``7.6.175`` -> (7, 6, 175). The letter is the build channel."""
    match = re.search(r"(\d+(?:\.\d+)*)", text or "")
    if not match:
        raise DataError(f"gateway /info has no firmware version (software={text!r})")
    return tuple(int(p) for p in match.group(1).split("."))


def load_json(text: Any, endpoint: str) -> Any:
    """The decoded JSON of an answer's text; a value decoded already (a spool or replay body) as it is.
    Nesting too deep to decode (RecursionError), or an integer too long to convert, is not understood."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except RecursionError:
        raise DataError(f"gateway {endpoint} answered JSON nested too deep to be a reading; nothing stored") from None
    except ValueError:
        snippet = hide_credentials(" ".join(text[:200].split()))[:60]
        kind = "an HTML page" if looks_like_html(text) else "not JSON (truncated or malformed)"
        raise DataError(f"gateway {endpoint} answered {kind}: {snippet!r}; nothing stored") from None


# A page quoting its request (an error page, a proxy's) may carry the token or the gateway's session cookie.
_CREDENTIAL = re.compile(r"\beyJ[\w-]*(?:\.[\w-]*)*|(?<=sessionId=)[^\s;,&]+|(?<=Bearer )\S+", re.IGNORECASE)


def hide_credentials(text: str) -> str:
    """``text`` fit for a message: a JWT, a bearer value or a ``sessionId`` cookie replaced by ``***``."""
    return _CREDENTIAL.sub("***", text)


def looks_like_html(text: str | None) -> bool:
    head = (text or "").lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<html" in head


def lifetime(value: Any, endpoint: str, field: str) -> float:
    """A lifetime energy counter (Wh): required, never negative (a reversed CT or a corrupt answer; stored,
    it would read as a counter reset) and at most MAX_LIFETIME_WH."""
    wh = number(value, endpoint, field, required=True)
    assert wh is not None
    if wh < 0:
        raise DataError(f"gateway {endpoint} gave {field}={value!r}, a negative lifetime; nothing stored")
    return wh


def number(
    value: Any, endpoint: str, field: str, required: bool = False, limit: float = MAX_LIFETIME_WH
) -> float | None:
    """A finite JSON number within +-``limit`` as float; None/absent allowed unless ``required``.
    Booleans, strings, NaN, infinities and values no column can hold are not understood."""
    if value is None:
        if required:
            raise DataError(f"gateway {endpoint} has no {field}; nothing stored")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"gateway {endpoint} gave {field}={_short(value)}, not a number; nothing stored")
    try:
        out = float(value)
    except OverflowError:  # an integer of hundreds of digits
        out = float("inf")
    if not -limit <= out <= limit:  # also NaN
        raise DataError(
            f"gateway {endpoint} gave {field}={_short(value)}, beyond the plausible {limit:.0e}; nothing stored"
        )
    return out


def power(value: Any, endpoint: str, field: str) -> float | None:
    return number(value, endpoint, field, limit=MAX_POWER_W)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _obj(value: Any, endpoint: str, what: str = "a JSON object") -> dict:
    if not isinstance(value, dict):
        raise DataError(f"gateway {endpoint} is not {what}; nothing stored")
    return value


# -- what the gateway's status line and body really mean: the quirks ---------------------------------

ABSENT = "absent"  # the gateway lacks this endpoint: the source rule moves on
REFUSED = "refused"  # the gateway refused our credentials here (digest password on firmware < 7)


class Answer(NamedTuple):
    """What the gateway answered to one GET; ``token_accepted``: /auth/check_jwt accepted this run's token."""

    status: int
    text: str
    firmware: tuple[int, ...]
    token_accepted: bool = False


def embedded_status(text: str | None) -> int | None:
    """Firmware 3.x answers some protected endpoints with the text ``Error: 401`` (status 200; seen on
    3.8.10 /ivp/meters), and 7.x+ with an nginx HTML page titled ``401 Authorization Required``."""
    body = (text or "").strip()
    match = re.fullmatch(r"Error:\s*(\d{3})", body[:20])
    if match:
        return int(match.group(1))
    if looks_like_html(body):
        match = re.search(r"<title>\s*(401|403)\b", body[:2000], re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def unauthorized(answer: Answer) -> bool:
    return answer.status in (401, 403) or (answer.status == 200 and embedded_status(answer.text) in (401, 403))


def not_found(answer: Answer) -> str | None:
    """Every firmware: 404. Other statuses than 200 (a redirect, a 400) also mean: not this way."""
    if answer.status == 404 or (answer.status != 200 and not unauthorized(answer) and answer.status < 500):
        return ABSENT
    return None


def error_404_json(answer: Answer) -> str | None:
    """Firmware 3.9.36, 3.8.10, 5.0.62 answer an unknown ivp path with JSON {"error": "404 - Not Found"}."""
    body = answer.text.strip()
    if body.startswith("{") and '"error"' in body[:100] and len(body) < 200:
        try:
            decoded = json.loads(body)
        except ValueError:
            return None
        if isinstance(decoded, dict) and set(decoded) == {"error"}:
            return ABSENT
    return None


def html_on_firmware_3(answer: Answer) -> str | None:
    """Firmware 3.x (3.7.0, 3.8.10, 3.9.36, 3.17.3) answers JSON paths it lacks with an HTML error page and
    status 200. From firmware 4 on, an HTML page where JSON belongs is a fault (65), not a missing path."""
    if answer.firmware < JSON_PRODUCTION_FROM and answer.status == 200 and looks_like_html(answer.text):
        if embedded_status(answer.text) is None:
            return ABSENT
    return None


def refused_despite_token(answer: Answer) -> str | None:
    """Firmware 7.0.88 without meters answers 401 to /production.json although /auth/check_jwt accepted
    the token (pyenphase PR #304 falls back to /api/v1/production): absent, not a token to renew. Token
    holders that may not open the meters (some owner tokens on 7.x) look the same there."""
    if answer.token_accepted and unauthorized(answer):
        return ABSENT
    return None


def refused(answer: Answer) -> str | None:
    """Every firmware: a 401/403 status, or a body that says so (3.8.10's ``Error: 401``, nginx's page)."""
    return REFUSED if unauthorized(answer) else None


Quirk = Callable[[Answer], "str | None"]
JSON_QUIRKS: tuple[Quirk, ...] = (refused_despite_token, refused, not_found, error_404_json, html_on_firmware_3)


# -- one parser per endpoint --------------------------------------------------------------------


def parse_info(text: str) -> GatewayInfo:
    """``/info`` (XML): serial number, firmware and whether the gateway is metered (``imeter``)."""
    try:
        root = ElementTree.fromstring((text or "").strip())
    except (ElementTree.ParseError, RecursionError):
        raise DataError("gateway /info is not the expected XML; is ENVOY_HOST an IQ Gateway?") from None
    serial = (root.findtext("device/sn") or "").strip()
    software = (root.findtext("device/software") or "").strip()
    if not serial or not software or len(serial) > 40 or len(software) > 40:
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
    eim: Values | None = None
    inverters: Values | None = None
    inverters_error: DataError | None = None
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
                    power(entry.get("wNow"), endpoint, "eim wNow"),
                )
        elif kind == "inverters" and inverters is None:
            try:
                inverters = Values(
                    None,
                    None,
                    lifetime(entry.get("whLifetime"), endpoint, "inverters whLifetime"),
                    power(entry.get("wNow"), endpoint, "inverters wNow"),
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
        power(data.get("wattsNow"), endpoint, "wattsNow"),
    )


def parse_api_v1_production(text: str | dict) -> Values:
    """``/api/v1/production``: the four totals of the inverters (all 0 on metered gateways whose CTs are
    disabled, e.g. 7.3.466_metered_disabled_cts)."""
    endpoint = "/api/v1/production"
    return _values(_obj(load_json(text, endpoint), endpoint), endpoint)


def parse_pdm_energy(text: str | dict) -> Values:
    """``/ivp/pdm/energy``: ``production.pcu`` (the micro-inverters; 8.3.x firmware)."""
    endpoint = "/ivp/pdm/energy"
    data = _obj(load_json(text, endpoint), endpoint)
    production = _obj(data.get("production"), endpoint, "an object with production.pcu")
    pcu = _obj(production.get("pcu"), endpoint, "an object with production.pcu")
    return _values(pcu, endpoint)


_HTML_ROW = r"<td>\s*{label}\s*</td>\s*<td>\s*([-\d.,]{{1,20}})\s*([kKmM]?)W(h?)\s*</td>"
_SCALE = {"": 1.0, "k": 1e3, "m": 1e6}


def parse_production_html(text: str) -> Values:
    """Firmware 3.x ``/production`` page: "Currently 6.63 kW", "Today 53.6 kWh", "Past Week 405 kWh",
    "Since Installation 133 MWh" (3.7.0). Values are rounded by the page, hence the last resort."""
    endpoint = "/production"

    def grab(label: str, energy: bool) -> float | None:
        match = re.search(_HTML_ROW.format(label=label), text or "", re.I)
        if not match:
            return None
        if bool(match.group(3)) != energy:
            raise DataError(f"gateway {endpoint} gives {label!r} in unexpected units; nothing stored")
        try:
            value = float(match.group(1).replace(",", "")) * _SCALE[match.group(2).lower()]
        except ValueError:
            raise DataError(f"gateway {endpoint} gives {label!r} as {match.group(1)!r}; nothing stored") from None
        return power(value, endpoint, label) if not energy else number(value, endpoint, label)

    total = grab("Since Installation", True)
    if total is None:
        raise DataError(f"gateway {endpoint} page has no 'Since Installation' energy; nothing stored")
    return Values(
        grab("Today", True),
        grab("Past Week", True),
        lifetime(total, endpoint, "Since Installation"),
        grab("Currently", False),
    )


def parse_meters(text: str | list) -> Meters:
    """``/ivp/meters``: the eids of the enabled net- and total-consumption meters.

    8.3.5433_tot_is_net_cons has only a total-consumption meter: no export or import figure there."""
    endpoint = "/ivp/meters"
    data = load_json(text, endpoint)
    if not isinstance(data, list):
        raise DataError(f"gateway {endpoint} is not a list of meters")
    found: dict[str, int] = {}
    for meter in data:
        if isinstance(meter, dict) and meter.get("state") == "enabled" and isinstance(meter.get("eid"), int):
            kind = meter.get("measurementType")
            if kind in ("net-consumption", "total-consumption") and kind not in found:
                found[kind] = meter["eid"]
    return Meters(net=found.get("net-consumption"), total=found.get("total-consumption"))


def parse_meter_readings(text: str | list, meters: Meters) -> Grid:
    """``/ivp/meters/readings``: lifetime Wh of the consumption meters (``actEnergyDlvd``: energy that went
    the meter's forward way, from the grid into the house; ``actEnergyRcvd``: back to the grid)."""
    endpoint = "/ivp/meters/readings"
    data = load_json(text, endpoint)
    if not isinstance(data, list):
        raise DataError(f"gateway {endpoint} is not a list of readings")
    by_eid = {r.get("eid"): r for r in data if isinstance(r, dict)}
    net, total = by_eid.get(meters.net), by_eid.get(meters.total)
    return Grid(
        exported=lifetime(net.get("actEnergyRcvd"), endpoint, "actEnergyRcvd") if net else None,
        imported=lifetime(net.get("actEnergyDlvd"), endpoint, "net actEnergyDlvd") if net else None,
        consumed=lifetime(total.get("actEnergyDlvd"), endpoint, "total actEnergyDlvd") if total else None,
    )


# -- the endpoints ----------------------------------------------------------------------------------


class Endpoint(NamedTuple):
    """One gateway path: what it is called in the recorded fixtures, the most it may send (a body beyond
    ``cap`` bytes is refused unread, exit 65), its parser and its quirks (first verdict wins)."""

    name: str
    path: str
    cap: int
    parse: Callable[[str], Any]
    quirks: tuple[Quirk, ...] = JSON_QUIRKS
    optional: bool = False  # refused or broken: the reading goes without it (the meters)

    def interpret(self, answer: Answer) -> Any:
        """The parsed body, or ABSENT / REFUSED."""
        for quirk in self.quirks:
            verdict = quirk(answer)
            if verdict is not None:
                return verdict
        if answer.status != 200:  # 5xx: the client raised already
            return ABSENT
        return self.parse(answer.text)


INFO = Endpoint("info", "/info", 64 * KIB, parse_info, quirks=())
CHECK_JWT = Endpoint("check_jwt", "/auth/check_jwt", 64 * KIB, str, quirks=())
PRODUCTION_JSON = Endpoint("production.json", "/production.json", 1 * MIB, parse_production_json)
API_V1 = Endpoint("api_v1_production", "/api/v1/production", 64 * KIB, parse_api_v1_production)
PDM_ENERGY = Endpoint("ivp_pdm_energy", "/ivp/pdm/energy", 256 * KIB, parse_pdm_energy)
# Firmware 3.x's HTML page: an HTML answer is the body itself here, not a missing path.
PRODUCTION_HTML = Endpoint(
    "production", "/production", 1 * MIB, parse_production_html, quirks=(refused, not_found, error_404_json)
)
METERS = Endpoint("ivp_meters", "/ivp/meters", 256 * KIB, parse_meters, optional=True)
METER_READINGS = Endpoint("ivp_meters_readings", "/ivp/meters/readings", 1 * MIB, str, optional=True)
ENDPOINTS = (INFO, CHECK_JWT, PRODUCTION_JSON, API_V1, PDM_ENERGY, PRODUCTION_HTML, METERS, METER_READINGS)


# -- the source rule --------------------------------------------------------------------------------

Get = Callable[[Endpoint], Any]  # the parsed body of an endpoint, or None when absent


def _eim(parsed: ProductionJson, info: GatewayInfo, get: Get) -> Values | None:
    return parsed.eim


def _v1(parsed: Values, info: GatewayInfo, get: Get) -> Values | None:
    """v1 counts when its lifetime is above 0, except on a metered gateway with no active eim on firmware
    8.2.4264 or later, whose v1 values stall."""
    return parsed if v1_trusted(info, get(PRODUCTION_JSON), parsed) else None


def v1_trusted(info: GatewayInfo, production: ProductionJson | None, v1: Values) -> bool:
    if not v1.wattHoursLifetime or v1.wattHoursLifetime <= 0:
        return False
    eim_active = production is not None and production.eim is not None
    return not (info.imeter and not eim_active and info.firmware >= V1_STALLS_FROM)


def _inverters(parsed: ProductionJson, info: GatewayInfo, get: Get) -> Values | None:
    return parsed.inverters


def _whole(parsed: Values, info: GatewayInfo, get: Get) -> Values | None:
    return parsed


class Source(NamedTuple):
    name: str  # stored in enphase_production.source
    endpoint: Endpoint
    pick: Callable[[Any, GatewayInfo, Get], Values | None]


SOURCE_RULE = (
    Source("eim", PRODUCTION_JSON, _eim),
    Source("v1", API_V1, _v1),
    Source("inverters", PRODUCTION_JSON, _inverters),
    Source("pdm", PDM_ENERGY, _whole),
    Source("html", PRODUCTION_HTML, _whole),
)


class Found(NamedTuple):
    source: str
    values: Values
    grid: Grid


class NoReading(DataError):
    """No endpoint of the source rule gave a reading; ``refused``: the paths that refused our credentials."""

    def __init__(self, message: str, refused: list[str]):
        super().__init__(message)
        self.refused = refused


def choose_source(info: GatewayInfo, get: Get) -> tuple[str, Values] | None:
    """The contract's order: eim -> v1 -> inverters -> pdm -> html; ``get`` is called lazily."""
    for source in SOURCE_RULE:
        parsed = get(source.endpoint)
        if parsed is not None:
            values = source.pick(parsed, info, get)
            if values is not None:
                return source.name, values
    return None


def read(info: GatewayInfo, answer: Callable[[Endpoint], Answer]) -> Found:
    """The reading of a gateway whose /info is ``info``: the source rule, then the consumption meters.
    ``answer(endpoint)`` gets what the gateway answered there (called at most once per endpoint)."""
    parsed: dict[str, Any] = {}
    refusals: list[str] = []

    def get(endpoint: Endpoint) -> Any:
        if endpoint.name not in parsed:
            result = endpoint.interpret(answer(endpoint))
            if result == REFUSED:
                refusals.append(endpoint.path)
            parsed[endpoint.name] = None if result in (ABSENT, REFUSED) else result
        return parsed[endpoint.name]

    chosen = choose_source(info, get)
    if chosen is None:
        raise NoReading(
            f"gateway (firmware {info.firmware_text}) gave no production reading from "
            f"{', '.join(dict.fromkeys(s.endpoint.path for s in SOURCE_RULE))}; nothing stored",
            refusals,
        )
    return Found(chosen[0], chosen[1], _grid(get))


def _grid(get: Get) -> Grid:
    """The consumption meters, or an empty Grid where the gateway has none, refuses them or answers them
    garbled (production is the reading; the meters are extra)."""
    try:
        meters = get(METERS)
        if meters is None or (meters.net is None and meters.total is None):
            return Grid()
        readings = get(METER_READINGS)
        return Grid() if readings is None else parse_meter_readings(readings, meters)
    except DataError:
        return Grid()


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
