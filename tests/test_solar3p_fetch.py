"""``python -m solar3p fetch`` against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ROOT
from solar3p.meteo import read_meteo
from test_solar3p_support import clear_hours, document, row, unix, write

KEY = "sekrit-meteo-key-123"


class FakeForecasts:
    """Answers GET requests from ``routes``: path -> (status, body bytes, content type)."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                fake.requests.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
                status, body, ctype = fake.routes.get(parts.path, (404, b"not found", "text/plain"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path, status=200, body=b"", ctype="application/json"):
        self.routes[path] = (status, body if isinstance(body, bytes) else json.dumps(body).encode(), ctype)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeForecasts()
    yield server
    server.close()


@pytest.fixture
def env(clean_env, fake):
    """Environment for the fetch subprocess: base URLs on the fake server, METEO_FILE in a tmp folder."""
    folder = clean_env / "forecasts"
    folder.mkdir()
    variables = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "PV_",
                "METEO",
                "OPEN_METEO",
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "http_proxy",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
            )
        )
    }
    variables.update(
        {
            "METEOSERVER_URL": fake.url + "/api",
            "OPEN_METEO_URL": fake.url,
            "METEO_FILE": str(folder / "data.rotterdam"),
            "METEOSERVER_KEY": KEY,
            "NO_PROXY": "127.0.0.1,localhost",
            "SITE_TIMEZONE": "Europe/Amsterdam",
            "STATE_DIR": str(clean_env / "state"),
        }
    )
    return variables


def fetch(env, *argv):
    return subprocess.run(
        [sys.executable, "-m", "solar3p", "fetch", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def meteoserver_body():
    return document(clear_hours("2025-06-01"), place="Rotterdam")


def open_meteo_body(day="2025-06-01", hours=25):
    start = unix(f"{day} 00:00Z")
    times = [start + 3600 * i for i in range(hours)]
    return {
        "latitude": 51.92,
        "longitude": 4.48,
        "hourly_units": {"shortwave_radiation": "W/m²"},
        "hourly": {
            "time": times,
            "shortwave_radiation": [float(10 * i) for i in range(hours)],
            "temperature_2m": [10.0 + 0.5 * i for i in range(hours)],
            "cloud_cover": [float(i % 100) for i in range(hours)],
            "cloud_cover_low": [5.0] * hours,
            "cloud_cover_mid": [None] * hours,
            "cloud_cover_high": [1.0] * hours,
            "visibility": [24000.0] * hours,
            "precipitation": [0.0] * hours,
            "sunshine_duration": [1800.0] * hours,
        },
    }


def _no_secret(result):
    assert KEY not in result.stdout and KEY not in result.stderr


def test_meteoserver_download_is_written_as_the_location_file(env, fake):
    fake.answer("/api/solar.php", body=meteoserver_body())
    result = fetch(env, "--source", "meteoserver", "--location", "Delft")
    assert result.returncode == 0, result.stderr
    _no_secret(result)
    path, query = fake.requests[-1]
    assert path == "/api/solar.php" and query == {"locatie": "Delft", "key": KEY}
    written = os.path.join(os.path.dirname(env["METEO_FILE"]), "data.delft")
    assert len(read_meteo(written)) == 24
    assert os.stat(written).st_mode & 0o777 == 0o644  # a forecast is no secret: other users may read it
    assert not os.path.exists(env["METEO_FILE"])


def test_meteoserver_default_location_comes_from_meteo_file(env, fake):
    fake.answer("/api/solar.php", body=meteoserver_body())
    result = fetch(env)  # the key is set: meteoserver is the default source
    assert result.returncode == 0, result.stderr
    assert fake.requests[-1][1]["locatie"] == "rotterdam"
    assert len(read_meteo(env["METEO_FILE"])) == 24


def test_open_meteo_is_converted_to_the_meteoserver_layout(env, fake):
    fake.answer("/v1/forecast", body=open_meteo_body())
    out = os.path.join(os.path.dirname(env["METEO_FILE"]), "data.home")
    result = fetch(env, "--source", "open-meteo", "--lat", "52.1", "--lon", "5.2", "--out", out)
    assert result.returncode == 0, result.stderr
    query = fake.requests[-1][1]
    assert (query["latitude"], query["longitude"]) == ("52.1000", "5.2000")
    assert "shortwave_radiation" in query["hourly"] and query["timeformat"] == "unixtime"
    document_ = json.loads(open(out).read())
    first = document_["forecast"][0]
    assert all(isinstance(v, str) for v in first.values())
    assert set(first) == {
        "time",
        "cet",
        "elev",
        "az",
        "temp",
        "gr",
        "gr_w",
        "sd",
        "tc",
        "lc",
        "mc",
        "hc",
        "vis",
        "prec",
    }
    rows = read_meteo(out)
    assert len(rows) == 24
    # Open-Meteo's radiation at T is the mean of the hour before T: it belongs to the row starting T-1h.
    assert rows[0].time == unix("2025-06-01 00:00Z") and rows[0].gr_w == 10.0 and rows[5].gr_w == 60.0
    assert rows[0].temp == pytest.approx(10.25, abs=0.06) and rows[0].sd == 30.0
    assert first["cet"] == "01-06-2025 02:00"  # Dutch summer time
    forecast = subprocess.run(
        [sys.executable, "-m", "solar3p", "--file", out, "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert forecast.returncode == 0 and len(json.loads(forecast.stdout)) == 24


@pytest.mark.parametrize(
    "status,body,code",
    [
        (500, b"<html>oops</html>", 69),
        (503, b"", 69),
        (401, b'{"error": "bad key"}', 77),
        (200, b'{"plaatsnaam": [{"plaats": "Rotterdam"}], "forecast": [{"time": "17', 65),
        (200, b"<html><body>Maintenance</body></html>", 65),
        (200, b'{"forecast": [{"time": "1748736000", "gr_w": "lots", "temp": "12"}]}', 65),
        (200, b'{"error": "unknown location"}', 65),
        (404, b"not here", 65),
    ],
)
def test_a_failed_download_keeps_the_previous_file(env, fake, status, body, code):
    previous = write(__import__("pathlib").Path(env["METEO_FILE"]), [row(unix("2025-03-05 11:00Z"), 300.0)])
    before = open(previous).read()
    fake.answer("/api/solar.php", status=status, body=body)
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == code, result.stderr
    _no_secret(result)
    assert len(result.stderr.strip().splitlines()) == 1 and "is kept as it was" in result.stderr
    assert open(previous).read() == before
    assert sorted(os.listdir(os.path.dirname(previous))) == ["data.rotterdam"]  # no temp file left


def test_an_unreachable_service_exits_69(env):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(env, OPEN_METEO_URL=f"http://127.0.0.1:{port}")
    result = fetch(env, "--source", "open-meteo")
    assert result.returncode == 69 and "nothing written" in result.stderr
    assert not os.path.exists(env["METEO_FILE"])


def test_meteoserver_without_a_key_is_a_configuration_error(env):
    env = {k: v for k, v in env.items() if k != "METEOSERVER_KEY"}
    result = fetch(env, "--source", "meteoserver")
    assert result.returncode == 78 and "METEOSERVER_KEY" in result.stderr


def test_a_base_url_that_is_not_http_is_a_configuration_error(env):
    env = dict(env, OPEN_METEO_URL="ftp://127.0.0.1/forecast")
    result = fetch(env, "--source", "open-meteo")
    assert result.returncode == 78 and "OPEN_METEO_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(env["METEO_FILE"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--lat", "52"],
        ["--source", "knmi"],
        ["--lat", "100", "--lon", "1"],
        ["--source", "meteoserver", "--location", "X", "--lat", "1", "--lon", "2"],
    ],
)
def test_fetch_bad_usage_exits_64(env, argv):
    assert fetch(env, *argv).returncode == 64


def test_the_key_is_not_logged_even_at_debug(env, fake):
    fake.answer("/api/solar.php", body=meteoserver_body())
    result = fetch(dict(env, LOG_LEVEL="DEBUG"), "--source", "meteoserver", "--location", "Delft")
    assert result.returncode == 0, result.stderr
    assert "data.delft" in result.stdout
    _no_secret(result)
