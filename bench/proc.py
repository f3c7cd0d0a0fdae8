"""Run a child process the way cron does and measure it: wall time and its own peak memory."""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Run:
    wall_s: float  # spawn to exit, as a user waiting on the command sees it
    maxrss_kib: int  # the child's own peak resident memory (ru_maxrss, KiB on Linux)
    returncode: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        """The last non-empty line of stderr (or stdout): the one-line reason of a failed run."""
        for text in (self.stderr, self.stdout):
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1].strip()
        return f"exit {self.returncode}"


class Failed(Exception):
    """A measured child did not exit 0; the message is its exit code and last line."""


def run(cmd: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None,
        timeout: float = 60.0, check: bool = True) -> Run:
    """Run ``cmd`` to completion; ``os.wait4`` gives the rusage of this child alone (RUSAGE_CHILDREN
    would be the maximum over every child so far)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=dict(env) if env is not None else None, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        # A blocking wait (no polling: the child and the fake servers share two cores) with a
        # timer that kills a child that hangs.
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(wall, usage.ru_maxrss, proc.returncode,
                     out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    if result.returncode == -9 and wall >= timeout:
        raise Failed(f"still running after {timeout:g} s, killed")
    if check and result.returncode != 0:
        raise Failed(f"exit {result.returncode}: {result.last_line()}")
    return result
