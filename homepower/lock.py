"""Serialise runs with an fcntl lock in STATE_DIR: a run waits for another (a minute at most) rather
than failing, then gives up with LockTimeout (exit 75). The kernel drops the lock if a run dies."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from typing import Iterator
from pathlib import Path

from homepower.errors import ConfigError, LockTimeout

WAIT_S = 60.0


@contextmanager
def hold(state_dir: Path, name: str = "poll", wait_s: float = WAIT_S) -> Iterator[Path]:
    path = Path(state_dir) / f"{name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"STATE_DIR={path.parent} cannot hold the run lock ({exc.strerror}): make it a writable directory"
        ) from None
    try:
        deadline = time.monotonic() + wait_s
        pause = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another run held {path} for more than {wait_s:g} s; "
                        f"this run stored nothing and the next one will try again"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
