"""homepower.cli.held_logs: a failed run shows only its one error line; a run that succeeds shows its log."""

from __future__ import annotations

import io
import logging

import pytest

from homepower.cli import held_logs


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


def test_at_debug_lines_stream_live(stderr):
    logging.getLogger().setLevel(logging.DEBUG)
    with held_logs():
        logging.getLogger("x").info("now")
        assert stderr.getvalue() == "now\n"
