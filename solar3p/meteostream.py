"""The one reader of forecast files: a row at a time, so that memory is bounded by a row, not by the file.

The archive stores every row as it comes (several issues of one hour are several forecasts) and holds
none; ``solar3p.meteo.read_meteo_file`` collects them for the model (one per hour). The file is read in
chunks and each ``forecast`` row (and each element of the other top-level lists) is decoded on its own
and let go. The top-level ``issued``/``provider`` may come after the rows (a Meteoserver download gets
them appended): then a first pass over the file finds them, and a second streams the rows. A key given
twice, two forecast lists or an hour twice is refused; the row checks are ``solar3p.meteo.RowChecks``
(exit 65, the file named).
"""

from __future__ import annotations

import json
import os
import re
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from solar3p.environment import command
from solar3p.errors import MeteoFileError
from solar3p.meteo import MAX_BYTES, MeteoRow, RowChecks, parse_issued, parse_provider

MAX_VALUE = 1024 * 1024  # one row, or one other top-level value: a forecast row is a few hundred bytes
CHUNK = 1024 * 1024
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_HEADER = ("issued", "provider")


class _Reader:
    """JSON values one at a time from a text stream, with at most a chunk and a value in memory."""

    def __init__(self, handle: IO[str], path: Path) -> None:
        self.handle, self.path = handle, path
        self.buf, self.pos, self.eof, self.line = "", 0, False, 1

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.handle.read(CHUNK)
        except (OSError, UnicodeDecodeError) as exc:
            raise MeteoFileError(self.path, f"cannot be read: {exc.__class__.__name__}") from None
        if not data:
            self.eof = True
            return False
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos :] + data, 0
        return True

    def _where(self, pos: int) -> int:
        return self.line + self.buf.count("\n", 0, pos)

    def bad(self, pos: int | None = None) -> MeteoFileError:
        at = self._where(self.pos if pos is None else pos)
        return MeteoFileError(self.path, f"is not complete JSON (truncated?) at line {at}")

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]  # always matches
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def take(self, chars: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            raise self.bad()
        self.pos += 1
        return ch

    def value(self) -> object:
        if not self.peek():
            raise self.bad()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof or len(self.buf) - self.pos > MAX_VALUE:
                    raise self.bad(exc.pos) from None
                self._more()
                continue
            except RecursionError:
                raise MeteoFileError(self.path, "is nested too deeply to be a forecast file") from None
            if end == len(self.buf) and not self.eof and self._more():
                continue  # a number may go on in the next chunk
            self.pos = end
            return obj


def _walk(reader: _Reader, rows: bool) -> Iterator[tuple[str, object]]:
    """The top-level object's events: ("key", (name, value)) for a top-level field of the header,
    ("row", item) for each ``forecast`` element (only with ``rows``), ("forecast", n) at the list's end."""
    if reader.peek() != "{":
        if reader.peek() and reader.peek() in '["-0123456789tfn':
            raise MeteoFileError(reader.path, "is not a JSON object")
        raise reader.bad()
    reader.take("{")
    if reader.peek() == "}":
        reader.take("}")
    else:
        while True:
            if reader.peek() != '"':
                raise reader.bad()
            name = reader.value()
            reader.take(":")
            if reader.peek() == "[" and name not in _HEADER:  # forecast, current, plaatsnaam: an element at a time
                reader.take("[")
                count = 0
                if reader.peek() == "]":
                    reader.take("]")
                else:
                    while True:
                        item = reader.value()
                        if name == "forecast":
                            count += 1
                            if rows:
                                yield "row", item
                        if reader.take(",]") == "]":
                            break
                if name == "forecast":
                    yield "forecast", count
            else:
                value = reader.value()
                if name == "forecast":
                    raise MeteoFileError(reader.path, "has an empty or malformed forecast list", "forecast")
                if name in _HEADER:
                    yield "key", (name, value)
            if reader.take(",}") == "}":
                break
    if reader.peek():
        raise MeteoFileError(reader.path, f"has more after its end at line {reader._where(reader.pos)}")


@dataclass
class MeteoStream:
    """An open forecast file: its top-level stamps (None where absent), its modification time (unix s),
    and ``rows()``, which yields (index, MeteoRow) in file order and raises MeteoFileError where the file
    is bad (a caller storing rows undoes what it stored)."""

    path: Path
    mtime: float
    issued: int | None
    provider: str | None
    _handle: IO[str]
    _first: Iterator[tuple[str, object]] | None  # the pass still at the first row, when one pass does

    def rows(self) -> Iterator[tuple[int, MeteoRow]]:
        events = self._first
        if events is None:
            self._handle.seek(0)
            events = _walk(_Reader(self._handle, self.path), rows=True)
        self._first = None
        checks = RowChecks(self.path)
        lists = 0
        for kind, item in events:
            if kind == "row":
                index = checks.count
                yield index, checks.row(item)
            elif kind == "forecast":
                lists += 1
        checks.finish(lists)


def _open(path: Path) -> IO[str]:
    """The file, refused unless it is a regular file under the cap (a FIFO or device would block or
    never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        fetch = command(".venv/bin/python -m solar3p fetch")
        raise MeteoFileError(path, f"does not exist (set METEO_FILE or run `{fetch}`)") from None
    except IsADirectoryError:
        raise MeteoFileError(path, "is a directory, not a forecast file") from None
    except OSError as exc:
        raise MeteoFileError(path, f"cannot be read: {exc.__class__.__name__}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise MeteoFileError(path, "is a directory, not a forecast file")
        if not stat.S_ISREG(st.st_mode):
            raise MeteoFileError(path, "is not a regular file (a pipe or device?): not a forecast file")
        if st.st_size > MAX_BYTES:
            raise MeteoFileError(
                path, f"is larger than {MAX_BYTES // 1024 // 1024} MiB: not one forecast file (split it)"
            )
        return os.fdopen(fd, "r", encoding="utf-8-sig", newline="")  # a BOM (Windows editors) is no part of it
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def open_meteo_stream(path: Path | str) -> Iterator[MeteoStream]:
    """Open and check a forecast file's head; MeteoFileError (65) naming the file when it is not one."""
    path = Path(path)
    handle = _open(path)
    with handle:
        mtime = os.fstat(handle.fileno()).st_mtime
        header: dict[str, object] = {}
        events = _walk(_Reader(handle, path), rows=True)
        first: Iterator[tuple[str, object]] | None = None
        for kind, item in events:
            if kind == "key":
                _add(header, path, item)
                continue
            if all(name in header for name in _HEADER):  # the stamps came first: one pass does
                first = _chain((kind, item), events)
            else:  # they may follow the rows: read to the end for them, then stream the rows again
                for kind2, item2 in _walk_rest(events):
                    if kind2 == "key":
                        _add(header, path, item2)
            break
        issued = parse_issued(path, header.get("issued"))
        provider = parse_provider(path, header.get("provider"))
        yield MeteoStream(path, mtime, issued, provider, handle, first)


def _add(header: dict[str, object], path: Path, item: object) -> None:
    assert isinstance(item, tuple)
    name, value = item
    if name in header:
        raise MeteoFileError(path, "is given twice", name)
    header[name] = value


def _chain(head: tuple[str, object], rest: Iterator[tuple[str, object]]) -> Iterator[tuple[str, object]]:
    yield head
    yield from rest


def _walk_rest(events: Iterator[tuple[str, object]]) -> Iterator[tuple[str, object]]:
    # The header pass decodes the rest of the rows (to find the file's end and its stamps) and drops them.
    for kind, item in events:
        if kind == "key":
            yield kind, item
