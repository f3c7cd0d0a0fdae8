"""A durable, append-only spool of readings the database could not take (STATE_DIR/spool.jsonl).

One JSON line per reading, in the ``--replay`` format. Each append is a single ``write`` followed by
``fsync``, so a crash can at worst leave a torn last line (no newline: the normal trace of a kill
mid-write). That tail is never taken for a reading: the next append or drain sets it aside in
``spool.rejected`` with one warning, and every whole line is stored; a whole line that cannot be
understood is set aside too, and the run says so (exit 65). Callers
hold the run lock, so a drain and an append never interleave. Draining is idempotent: a line stored
twice is one row (the store upserts on ts_utc), so a crash between commit and truncate loses nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from homepower.errors import ConfigError, DataError
from homepower.reading import Reading, from_line

log = logging.getLogger(__name__)

SPOOL_FILE = "spool.jsonl"
REJECTED_FILE = "spool.rejected"
MAX_TAIL = 1024 * 1024  # a torn line is at most one reading's line (MAX_LINE); more is read no further


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
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        torn = _torn_tail(fd)
        if torn is not None:  # a crash mid-write: set the tail aside, append after the last whole line
            offset, tail = torn
            set_aside_torn(path.parent, tail)
            os.ftruncate(fd, offset)
        data = "".join(r.to_line() + "\n" for r in readings).encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)
    return path


def _torn_tail(fd: int) -> tuple[int, str] | None:
    """Where the torn last line starts and its text, or None when the file ends with a newline."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return None
    start = max(0, size - MAX_TAIL)
    chunk = os.pread(fd, size - start, start)
    cut = chunk.rfind(b"\n")
    offset = start + cut + 1 if cut >= 0 else start
    return offset, chunk[offset - start :].decode("utf-8", errors="replace")


def set_aside_torn(state_dir: Path, tail: str) -> None:
    """Keep a torn last line in spool.rejected (for a person to look at), with one warning line."""
    rejected = Path(state_dir) / REJECTED_FILE
    with open(rejected, "a", encoding="utf-8") as handle:
        handle.write(tail + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.warning(
        "the spool's last line was cut short (a run killed while writing it) and is no reading: set aside in %s",
        rejected,
    )


class Found:
    """What draining the spool met besides readings: how many readings, the whole lines that could not be
    understood, and the torn last line (no newline after it: a write cut short), if any."""

    def __init__(self) -> None:
        self.count = 0
        self.bad: list[str] = []
        self.torn: str | None = None


def each(state_dir: Path, found: Found) -> Iterator[Reading]:
    """The spool's readings one at a time, a line at a time (a spool of months is never held whole);
    ``found`` is complete once the iterator is exhausted."""
    path = spool_path(state_dir)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _unusable(path, exc) from None
    with handle:
        for raw in handle:
            if not raw.endswith(b"\n"):  # the last line, cut short
                tail = raw.decode("utf-8", errors="replace")
                found.torn = tail if tail.strip() else None
                break
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            try:
                reading = from_line(line)
            except DataError:
                found.bad.append(line)
                continue
            found.count += 1
            yield reading


def read(state_dir: Path) -> tuple[list[Reading], list[str], str | None]:
    """The readings in the spool, the whole lines that could not be understood, and the torn last line
    (no newline after it: a write cut short), if any."""
    found = Found()
    readings = list(each(state_dir, found))
    return readings, found.bad, found.torn


def clear(state_dir: Path, bad: list[str], torn: str | None = None) -> None:
    """Empty the spool after its readings were committed; unreadable lines and the torn last line go to
    spool.rejected."""
    path = spool_path(state_dir)
    try:
        if torn is not None:
            set_aside_torn(Path(state_dir), torn)
        if bad:
            rejected = Path(state_dir) / REJECTED_FILE
            with open(rejected, "a", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in bad))
                handle.flush()
                os.fsync(handle.fileno())
            log.warning("%d spool line(s) that cannot be understood set aside in %s", len(bad), rejected)
        try:
            os.truncate(path, 0)
        except FileNotFoundError:
            pass
    except OSError as exc:  # stored already: a later run stores the same lines again, as the same rows
        raise _unusable(path, exc) from None
