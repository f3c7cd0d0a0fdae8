"""A durable, append-only spool of readings the database could not take (STATE_DIR/spool.jsonl).

One JSON line per reading, in the ``--replay`` format. Each append is a single ``write`` followed by
``fsync``, so a crash can at worst leave a torn last line; the next append starts on a fresh line, and a
drain sets torn or unreadable lines aside in ``spool.rejected`` instead of losing the good ones. Callers
hold the run lock, so a drain and an append never interleave. Draining is idempotent: a line stored
twice is one row (the store upserts on ts_utc), so a crash between commit and truncate loses nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from homepower.errors import ConfigError, DataError
from homepower.reading import Reading, from_line

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.jsonl"
REJECTED_FILE = "spool.rejected"


def spool_path(state_dir: Path) -> Path:
    return Path(state_dir) / SPOOL_FILE


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unusable(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"the spool {path} cannot be used ({exc.strerror or exc.__class__.__name__}): make "
        f"STATE_DIR and its files writable by the user cron runs as"
    )


def append(state_dir: Path, readings: list[Reading]) -> Path:
    """Append ``readings`` durably; returns the spool's path. ConfigError (78) if it cannot be written."""
    path = spool_path(state_dir)
    try:
        return _append(path, readings)
    except OSError as exc:
        raise _unusable(path, exc) from None


def _append(path: Path, readings: list[Reading]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        prefix = b""
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as handle:  # a torn last line (crash mid-write) must stay apart
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    prefix = b"\n"
        data = prefix + "".join(r.to_line() + "\n" for r in readings).encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    return path


def read(state_dir: Path) -> tuple[list[Reading], list[str]]:
    """The readings in the spool, and the lines that could not be read (torn or damaged)."""
    path = spool_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise _unusable(path, exc) from None
    readings, bad = [], []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            readings.append(from_line(line))
        except DataError:
            bad.append(line)
    return readings, bad


def clear(state_dir: Path, bad: list[str]) -> None:
    """Empty the spool after its readings were committed; unreadable lines go to spool.rejected."""
    path = spool_path(state_dir)
    try:
        if bad:
            rejected = Path(state_dir) / REJECTED_FILE
            with open(rejected, "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in bad))
                handle.flush()
                os.fsync(handle.fileno())
            log.warning("%d unreadable spool line(s) (torn by a crash?) set aside in %s", len(bad), rejected)
        try:
            os.truncate(path, 0)
        except FileNotFoundError:
            pass
    except OSError as exc:  # stored already: a later run stores the same lines again, as the same rows
        raise _unusable(path, exc) from None
