"""Running the poller script as cron does (a whole process) against the fakes, for tests and bench."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from homepower.settings import isolated_environ

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "get_enphase_hour_measure.py"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def poller_env(state_dir: Path, gateway=None, enlighten=None, database_url: str | None = None, **extra) -> dict:
    env = isolated_environ()  # nothing from the developer's shell or .env
    env.update(
        {"STATE_DIR": str(state_dir), "SITE_TIMEZONE": "Europe/Amsterdam", "ENVOY_RETRY_S": "0", "ENVOY_TIMEOUT": "5"}
    )
    # Never a real address: without a fake, anything the poller tries goes to a closed loopback port.
    env.update(
        {"ENVOY_HOST": "https://127.0.0.1:9", "ENLIGHTEN_URL": "http://127.0.0.1:9", "ENTREZ_URL": "http://127.0.0.1:9"}
    )
    if gateway is not None:
        env["ENVOY_HOST"] = gateway.url
    if enlighten is not None:
        env.update(
            {
                "ENLIGHTEN_URL": enlighten.url,
                "ENTREZ_URL": enlighten.url,
                "ENVOY_USER": enlighten.user,
                "ENVOY_PASSWORD": enlighten.password,
            }
        )
    env["DATABASE_URL"] = database_url or f"sqlite:///{Path(state_dir) / 'homepower.db'}"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_poller(env: dict, *args: str, timeout: float = 120) -> Run:
    proc = subprocess.run(
        [PYTHON, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT)
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_poller_measured(env: dict, *args: str, timeout: float = 120) -> tuple[Run, int]:
    """``run_poller`` that also returns the child's peak resident memory in bytes (its own rusage, from
    wait4: not the maximum over every child the test process ever had)."""
    import signal
    import threading

    proc = subprocess.Popen(
        [PYTHON, str(SCRIPT), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    out: dict[str, str] = {}

    def drain(name: str, stream) -> None:
        out[name] = stream.read()

    readers = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    killer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    return Run(proc.returncode, out.get("out", ""), out.get("err", "")), usage.ru_maxrss * 1024
