"""homepower.cli at the scripts' edge: a failed run shows only its one error line (with what its handlers
added to it), a run that succeeds shows its log."""

from __future__ import annotations

import io
import logging

import pytest

from homepower.cli import held_logs, run
from homepower.errors import StoreUnavailable


@pytest.fixture
def stderr():
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.INFO)
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_run_that_succeeds_writes_its_lines_afterwards_in_order(stderr):
    with held_logs():
        logging.getLogger("x").info("first")
        logging.getLogger("x").warning("second")
        logging.getLogger("x").debug("not at INFO")
        assert stderr.getvalue() == ""
    assert stderr.getvalue() == "first\nsecond\n"


def test_a_run_that_fails_writes_none_of_them(stderr):
    with pytest.raises(RuntimeError), held_logs():
        logging.getLogger("x").error("retrying")
        raise RuntimeError("down")
    assert stderr.getvalue() == ""
    logging.getLogger("x").info("after")
    assert stderr.getvalue() == "after\n"  # the live handler is back


def test_a_line_logged_at_once_is_written_at_once_and_the_others_after(stderr):
    from homepower.cli import AT_ONCE

    with held_logs():
        logging.getLogger("x").info("held")
        logging.getLogger("x").warning("retrying", extra=AT_ONCE)
        assert stderr.getvalue() == "retrying\n"
    assert stderr.getvalue() == "retrying\nheld\n"


def test_a_run_that_logs_more_than_it_holds_writes_the_oldest_early(stderr, monkeypatch):
    from solar3p import edge

    monkeypatch.setattr(edge, "HELD_LINES", 3)
    with pytest.raises(RuntimeError), held_logs():
        for n in range(4):
            logging.getLogger("x").info("line %d", n)
        assert stderr.getvalue() == "line 0\nline 1\nline 2\n"  # memory stays bounded
        raise RuntimeError("down")
    assert stderr.getvalue() == "line 0\nline 1\nline 2\n"


def test_at_debug_lines_stream_live(stderr):
    logging.getLogger().setLevel(logging.DEBUG)
    with held_logs():
        logging.getLogger("x").info("now")
        assert stderr.getvalue() == "now\n"


def test_what_a_handler_adds_to_an_error_is_on_its_one_line_with_its_exit_code(capsys):
    def body():
        try:
            raise StoreUnavailable("database x is unavailable: refused\nsecond line")
        except StoreUnavailable as exc:
            exc.add_note("the reading was spooled in var/spool.jsonl")
            raise

    assert run(body, "poll") == 75
    err = capsys.readouterr().err
    assert err == "database x is unavailable: refused - the reading was spooled in var/spool.jsonl\n"
