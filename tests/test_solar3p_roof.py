"""Roofs of several planes (PV_ARRAYS, --arrays) and a horizon (PV_HORIZON, --horizon): the model, the
CLI, ``solar3p.asdict`` and the collector's ``kwh_s3p``; one plane keeps today's numbers to the digit."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date, datetime

import numpy as np
import pytest

from conftest import ROOT, load_settings
from homepower.settings import Plane, PVSettings
from solar3p.cli import main
from solar3p.model import horizon_height, horizon_sky, hourly_kwh, roof_power
from test_solar3p_support import as_rows, clear_hours, row, unix, write

SAMPLE = ROOT / "solar3p" / "data" / "data.rotterdam"
GOLDEN = json.loads((ROOT / "tests" / "golden" / "solar3p-one-plane.json").read_text())
BASE = PVSettings()  # the contract's defaults: the site near Rotterdam, 14 % losses
EAST = Plane(8, 405.0, 90.0, 30.0)
WEST = Plane(8, 405.0, 270.0, 30.0)
SOUTH = Plane(8, 405.0, 180.0, 35.0)
NORTH = Plane(8, 405.0, 0.0, 35.0)


def roof(*planes: Plane, horizon=None) -> PVSettings:
    return dataclasses.replace(BASE.with_planes(planes), horizon=horizon)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def kwh_of(capsys, *argv) -> list[float]:
    code, out, err = run(capsys, "--file", str(SAMPLE), "--format", "json", *argv)
    assert code == 0, err
    return [item["kwh"] for item in json.loads(out)]


# ---------------------------------------------------------------- one plane: today's numbers


@pytest.fixture
def golden(clean_env):
    if hashlib.sha256(SAMPLE.read_bytes()).hexdigest() != GOLDEN["sample_sha256"]:
        pytest.fail(f"{SAMPLE} changed since tests/golden/solar3p-one-plane.json was recorded: record it again")
    return GOLDEN["cases"]


@pytest.mark.parametrize("case", ["default", "east", "west", "odd"])
def test_one_plane_the_old_way_gives_todays_forecast_to_the_last_digit(golden, capsys, case):
    code, out, err = run(capsys, "--file", str(SAMPLE), "--format", "json", *golden[case]["argv"])
    assert code == 0, err
    items = json.loads(out)
    assert [i["hour_start"] for i in items] == golden[case]["hour_start"]
    assert [i["kwh"] for i in items] == golden[case]["kwh"]


@pytest.mark.parametrize(
    "case,argv",
    [
        ("default", ["--arrays", "12x405@SE/35"]),
        ("default", ["--arrays", "12x405@135/35", "--horizon", "0,0,0"]),  # a flat horizon is no horizon
        ("east", ["--arrays", "8 x 405 @ O / 30"]),
        ("odd", ["--arrays", "7x300@200/12", "--losses", "9", "--lat", "50", "--lon", "6"]),
    ],
)
def test_one_plane_in_arrays_gives_the_same_digits(golden, capsys, case, argv):
    assert kwh_of(capsys, *argv) == golden[case]["kwh"]


def test_one_plane_in_pv_arrays_gives_the_same_digits(golden, capsys, monkeypatch):
    monkeypatch.setenv("PV_ARRAYS", "8x405@E/30")
    assert kwh_of(capsys) == golden["east"]["kwh"]


# ---------------------------------------------------------------- several planes, one inverter


def test_an_east_west_roof_is_the_sum_of_its_two_planes():
    rows = as_rows(clear_hours("2025-06-21", temp=20.0))
    both = roof_power([r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows], roof(EAST, WEST))
    for i, plane in enumerate((EAST, WEST)):
        alone = roof_power([r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows], roof(plane))
        assert np.array_equal(both.dc_w[i], alone.dc_w[0])  # exact: each plane's light and DC are its own
        assert np.array_equal(both.poa[i], alone.poa[0])
    ew = hourly_kwh(rows, roof(EAST, WEST))
    east, west = hourly_kwh(rows, roof(EAST)), hourly_kwh(rows, roof(WEST))
    # Nothing clips on an east-west roof; only the PVWatts inverter's part-load efficiency differs between
    # one inverter for 16 panels and two for 8 each.
    for t, value in ew.items():
        assert value == pytest.approx(east[t] + west[t], rel=0.005, abs=1e-5)
    assert sum(ew.values()) == pytest.approx(sum(east.values()) + sum(west.values()), rel=0.003)
    # Its day is flatter than a south roof's: more in the morning and evening, less at noon.
    south = hourly_kwh(rows, roof(SOUTH, SOUTH))
    assert ew[unix("2025-06-21 06:00Z")] > south[unix("2025-06-21 06:00Z")]
    assert ew[unix("2025-06-21 11:00Z")] < south[unix("2025-06-21 11:00Z")]


@pytest.mark.parametrize("split", ["6x405@SE/35;6x405@SE/35", "4x405@SE/35;4x405@135/35;4x405@SE/35"])
def test_a_roof_described_in_parts_forecasts_as_the_whole(split):
    from homepower.settings import parse_arrays

    rows = as_rows(clear_hours("2025-04-02", temp=9.0) + clear_hours("2025-12-10", temp=2.0))
    whole = hourly_kwh(rows, BASE)
    parts = hourly_kwh(rows, BASE.with_planes(parse_arrays(split)))
    assert parts.keys() == whole.keys()
    for t, value in whole.items():
        assert parts[t] == pytest.approx(value, abs=1.1e-5)  # the same to the rounding of the last digit


def test_the_inverter_limit_applies_to_the_sum_of_the_planes():
    noon = unix("2025-06-21 11:00Z")
    bright = as_rows([row(noon, 900.0, temp=-5.0)])  # a cold bright noon: the DC exceeds the AC limit
    limit_kwh = 16 * 405 / 1.2 / 1000  # DC/AC 1.2 on the whole roof's rating
    assert hourly_kwh(bright, roof(SOUTH, SOUTH))[noon] == pytest.approx(limit_kwh, abs=1e-9)
    # A south plane alone would clip on an inverter of its own; with a north plane beside it the shared
    # inverter has room, so the roof gives more than the two planes on separate inverters.
    south, north = hourly_kwh(bright, roof(SOUTH))[noon], hourly_kwh(bright, roof(NORTH))[noon]
    assert south == pytest.approx(8 * 405 / 1.2 / 1000, abs=1e-9)
    assert hourly_kwh(bright, roof(SOUTH, NORTH))[noon] > south + north + 0.03


# ---------------------------------------------------------------- the horizon

MORNING = ["2025-03-20 06:00Z", "2025-03-20 07:00Z", "2025-03-20 08:00Z"]  # sun low in the east
MIDDAY = ["2025-03-20 11:00Z", "2025-03-20 12:00Z", "2025-03-20 13:00Z"]  # sun high in the south
EAST_WALL = (0, 30, 30, 30, 0, 0, 0, 0)  # N NE E SE S SW W NW: trees to the east
WEST_WALL = (0, 0, 0, 0, 0, 30, 30, 30)


def test_a_horizon_hides_the_morning_sun():
    rows = as_rows(clear_hours("2025-03-20", temp=8.0))
    open_sky = hourly_kwh(rows, roof(EAST))
    trees = hourly_kwh(rows, roof(EAST, horizon=EAST_WALL))
    for hour in MORNING:  # the sun is below 30 degrees behind the trees: the beam is gone
        assert trees[unix(hour)] < 0.2 * open_sky[unix(hour)]
    for hour in MIDDAY:  # the sun is above them: only the trees' share of the sky is missing
        assert 0.85 * open_sky[unix(hour)] < trees[unix(hour)] < open_sky[unix(hour)]
    # Trees to the west leave the morning alone.
    evening_trees = hourly_kwh(rows, roof(EAST, horizon=WEST_WALL))
    for hour in MORNING:
        assert evening_trees[unix(hour)] == pytest.approx(open_sky[unix(hour)], rel=0.002)


def test_behind_the_horizon_a_plane_keeps_only_diffuse_light():
    rows = as_rows(clear_hours("2025-03-20", temp=8.0))
    args = ([r.time for r in rows], [r.gr_w for r in rows], [r.temp for r in rows])
    hidden = roof_power(*args, roof(EAST, horizon=(60,))).poa[0]  # the sun never clears 60 degrees in March
    open_sky = roof_power(*args, roof(EAST)).poa[0]
    isotropic, _ = horizon_sky((60,), EAST.tilt, EAST.azimuth)
    daytime = open_sky > 50
    assert daytime.sum() >= 8
    # No beam and no circumsolar light: what is left is at most the visible part of the diffuse sky plus
    # the ground's reflection, far below a clear day's light on the plane.
    assert np.all(hidden[daytime] < 0.25 * open_sky[daytime])
    assert 0 < isotropic < 0.5


def test_the_horizon_takes_its_share_of_an_overcast_sky():
    noon = unix("2025-06-21 11:00Z")
    grey = as_rows([row(noon, 90.0, temp=14.0, tc=100)])
    flat = Plane(10, 400.0, 180.0, 0.0)
    open_sky = hourly_kwh(grey, roof(flat))[noon]
    walled = hourly_kwh(grey, roof(flat, horizon=(30,)))[noon]
    # A horizontal plane sees cos²(30°) = 75 % of an isotropic sky above a 30-degree horizon all round.
    assert walled / open_sky == pytest.approx(0.75, abs=0.05)


def test_horizon_heights_are_interpolated_and_wrap_at_north():
    profile = (0, 0, 15, 30, 45, 30, 15, 0)  # every 45 degrees from north
    assert horizon_height(profile, [0, 90, 112.5, 180, 270, 337.5, 360, 382.5]).tolist() == [
        0,
        15,
        22.5,
        45,
        15,
        0,
        0,
        0,
    ]
    assert horizon_height((10, 20), [0, 90, 180, 270, 315]).tolist() == [10, 15, 20, 15, 12.5]  # wraps
    assert horizon_height((7,), [0, 123, 359]).tolist() == [7, 7, 7]


@pytest.mark.parametrize("height", [5.0, 30.0, 60.0])
def test_horizon_sky_share_on_a_horizontal_plane_is_the_closed_form(height):
    # A horizontal plane under an isotropic sky sees cos²(h) of it above a horizon of height h all round.
    assert horizon_sky((height,), 0.0, 180.0)[0] == pytest.approx(np.cos(np.radians(height)) ** 2, abs=1e-9)


@pytest.mark.parametrize("tilt,mask", [(30.0, 20.0), (60.0, 10.0), (10.0, 40.0)])
def test_horizon_sky_share_behind_a_long_row_is_the_two_dimensional_view_factor(tilt, mask):
    # A long row in front (masking angle ψ across it): the plane's sky view is the 2-D crossed-strings
    # result, (1 + cos(β + ψ)) / (1 + cos β) of the open sky's.
    azimuths = np.arange(36000) * 0.01
    across = np.clip(np.cos(np.radians(azimuths - 180.0)), 0.0, None)
    profile = np.degrees(np.arctan(np.tan(np.radians(mask)) * across))
    beta, psi = np.radians(tilt), np.radians(mask)
    expected = (1 + np.cos(beta + psi)) / (1 + np.cos(beta))
    assert horizon_sky(tuple(profile), tilt, 180.0)[0] == pytest.approx(expected, abs=1e-6)


def test_horizon_sky_share_limits():
    assert horizon_sky((0.0,), 35.0, 135.0) == (1.0, 1.0)
    assert horizon_sky((90.0,), 35.0, 135.0) == pytest.approx((0.0, 0.0), abs=1e-12)
    behind, front = (
        horizon_sky((0, 0, 0, 0, 40, 0, 0, 0), 35.0, 0.0),
        horizon_sky((0, 0, 0, 0, 40, 0, 0, 0), 35.0, 180.0),
    )
    assert front[0] < behind[0] < 1.0  # a hill in front of the plane hides more of its sky than one behind


# ---------------------------------------------------------------- the same settings everywhere


@pytest.fixture
def meteo(clean_env, monkeypatch):
    path = clean_env / "forecasts" / "data.rotterdam"
    path.parent.mkdir()
    write(path, clear_hours("2025-06-01", temp=18.0) + clear_hours("2025-06-02", temp=16.0))
    monkeypatch.setenv("METEO_FILE", str(path))
    return path


def test_pv_arrays_and_pv_horizon_drive_the_cli_and_asdict(meteo, capsys, monkeypatch):
    import solar3p
    from homepower.settings import load
    from solar3p.meteo import read_meteo

    monkeypatch.setenv("PV_ARRAYS", "8x405@E/30;8x405@W/30")
    monkeypatch.setenv("PV_HORIZON", "0,0,15,30,45,30,15,0")
    pv = load().pv
    expected = hourly_kwh(read_meteo(meteo), pv)
    assert expected == hourly_kwh(read_meteo(meteo), roof(EAST, WEST, horizon=(0, 0, 15, 30, 45, 30, 15, 0)))
    code, out, err = run(capsys, "--format", "json")
    assert code == 0, err
    by_time = {int(datetime.fromisoformat(i["hour_start"]).timestamp()): i["kwh"] for i in json.loads(out)}
    assert by_time == expected
    # The flags say the same as the settings.
    monkeypatch.delenv("PV_ARRAYS")
    monkeypatch.delenv("PV_HORIZON")
    _, flags, _ = run(
        capsys, "--format", "json", "--arrays", "8x405@E/30;8x405@W/30", "--horizon", "0,0,15,30,45,30,15,0"
    )
    assert flags == out
    monkeypatch.setenv("PV_ARRAYS", "8x405@E/30;8x405@W/30")
    monkeypatch.setenv("PV_HORIZON", "0,0,15,30,45,30,15,0")
    forecast = solar3p.asdict()  # every argument from the settings: the east-west roof
    assert sorted(forecast.values()) == sorted(expected.values())
    # The original call names one plane: that plane, with the horizon still in force.
    one = solar3p.asdict("day", 405, 12, "SE", "hour", "rotterdam")
    one_plane = hourly_kwh(read_meteo(meteo), dataclasses.replace(BASE, tilt=30.0, horizon=pv.horizon))
    assert sorted(one.values()) == sorted(one_plane.values())


def test_a_flag_for_one_plane_turns_the_roof_into_that_plane(meteo, capsys, monkeypatch):
    monkeypatch.setenv("PV_ARRAYS", "8x405@E/30;8x300@W/20")
    _, out, _ = run(capsys, "--format", "json", "--lay", "S")
    _, same, _ = run(capsys, "--format", "json", "--arrays", f"16x{(8 * 405 + 8 * 300) / 16}@S/30")
    assert out == same


@pytest.mark.parametrize(
    "argv,says",
    [
        (["--arrays", "8x405@E/30;8x405@W/95"], "--arrays plane 2 '8x405@W/95': the tilt '95' is out of range"),
        (["--arrays", "8x405@E/30;"], "--arrays plane 2 '' is empty"),
        (["--arrays", "8x405"], "needs one '@'"),
        (["--arrays", ""], "--arrays is empty"),
        (["--arrays", "8x405@E/30", "--lay", "W"], "use it without --lay"),
        (["--arrays", "8x405@E/30", "--pans", "3", "--tilt", "9"], "use it without --pans, --tilt"),
        (["--horizon", "0,0,x"], "--horizon value 3 'x' is not a number"),
        (["--horizon", "0,95"], "--horizon value 2 '95' is out of range"),
        (["--horizon", ""], "--horizon is empty"),
    ],
)
def test_bad_arrays_or_horizon_flags_exit_64_with_one_line(meteo, capsys, argv, says):
    code, out, err = run(capsys, *argv)
    assert code == 64 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err, err


@pytest.mark.parametrize("name,value", [("PV_ARRAYS", "8x405@E/30;8x405@X/30"), ("PV_HORIZON", "0,0,-3")])
def test_bad_settings_exit_78_with_one_line(meteo, capsys, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    code, out, err = run(capsys, "--format", "json")
    assert code == 78 and out == ""
    assert len(err.strip().splitlines()) == 1 and name in err, err


def test_the_collector_forecasts_the_roof_and_horizon_of_the_settings(store, db_url, tmp_path):
    from homepower import hours as H
    from tests import synth
    from homepower.collect import Request, collect
    from solar3p.meteo import read_meteo

    syn = synth.generate(date(2025, 6, 1), 1, seed=3)
    store.upsert("enphase_production", syn.rows())
    meteo = tmp_path / "meteo.json"
    write(meteo, clear_hours("2025-05-31") + clear_hours("2025-06-01"))
    settings = load_settings(
        tmp_path,
        DATABASE_URL=db_url,
        METEO_FILE=str(meteo),
        PV_ARRAYS="8x405@E/30;8x405@W/30",
        PV_HORIZON="0,0,15,30,45,30,15,0",
    )
    start = datetime(2025, 6, 1)
    collect(settings, Request("range", start=start, end=datetime(2025, 6, 2)), store, now_utc=datetime(2030, 1, 1))
    expected = hourly_kwh(read_meteo(meteo), roof(EAST, WEST, horizon=(0, 0, 15, 30, 45, 30, 15, 0)))
    one_plane = hourly_kwh(read_meteo(meteo), BASE)
    rows = store.fetch("pvhistory", ["ts_utc", "kwh_s3p"])
    assert len(rows) == 24
    for r in rows:
        assert r["kwh_s3p"] == pytest.approx(expected[int(H.epoch_s(r["ts_utc"]))], abs=1e-5)
    assert sum(float(r["kwh_s3p"]) for r in rows) < 0.9 * sum(v for v in one_plane.values() if v)


def test_an_hour_without_irradiance_is_unknown_on_a_roof_too():
    rows = as_rows(clear_hours("2025-06-21", temp=20.0))
    noon = unix("2025-06-21 11:00Z")
    rows = [dataclasses.replace(r, gr_w=None) if r.time == noon else r for r in rows]
    kwh = hourly_kwh(rows, roof(EAST, WEST, horizon=(0, 10)))
    assert kwh[noon] is None
    assert kwh[unix("2025-06-21 10:00Z")] > 1 and kwh[unix("2025-06-21 12:00Z")] > 1
