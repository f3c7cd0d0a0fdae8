"""Run a child process the way cron does and measure it: wall time and its own peak memory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Run:
    wall_s: float  # spawn to exit, as a user waiting on the command sees it
    maxrss_kib: int  # the child's own peak resident memory (ru_maxrss, KiB on Linux)
    returncode: int
    stdout: str
    stderr: str
    cpu_s: float = 0.0  # the child's user + system CPU: what it costs whatever else the cores are doing

    def last_line(self) -> str:
        """The last non-empty line of stderr (or stdout): the one-line reason of a failed run."""
        for text in (self.stderr, self.stdout):
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()
        return f"exit {self.returncode}"


class Failed(Exception):
    """A measured child did not exit 0; the message is its exit code and last line."""


LAUNCHER = Path(__file__).resolve().parent / "launch.py"


def run(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = 60.0,
    check: bool = True,
) -> Run:
    """Run ``cmd`` to completion through bench/launch.py, which times it from spawn to exit and reads
    its own ``ru_maxrss`` (see there why not from here). A child still running after ``timeout``
    seconds is killed with its launcher (one process group) and raises Failed."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        report = Path(tmp) / "report.json"
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            launcher = subprocess.Popen(
                [sys.executable, "-S", str(LAUNCHER), str(report), *cmd],
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                launcher.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
                raise Failed(f"still running after {timeout:g} s, killed") from None
        stdout = out_path.read_bytes().decode(errors="replace")
        stderr = err_path.read_bytes().decode(errors="replace")
        if launcher.returncode != 0 or not report.exists():
            raise Failed(f"could not launch {cmd[0]}: {stderr.strip().splitlines()[-1:] or 'no reason'}")
        measured = json.loads(report.read_text())
    result = Run(
        measured["wall_s"], measured["maxrss_kib"], measured["returncode"], stdout, stderr, measured.get("cpu_s", 0.0)
    )
    if check and result.returncode != 0:
        raise Failed(f"exit {result.returncode}: {result.last_line()}")
    return result
