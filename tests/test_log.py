"""log.py: one configuration from LOG_LEVEL, timestamps on stderr, the original helpers still work."""

import logging

import pytest

import log


@pytest.fixture(autouse=True)
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_setup_uses_the_level_and_timestamps(capsys):
    log.setup("WARNING")
    logging.getLogger("homepower.x").info("quiet")
    logging.getLogger("homepower.x").warning("loud")
    err = capsys.readouterr().err
    assert "quiet" not in err
    assert "WARNING homepower.x: loud" in err
    assert err[:4].isdigit()  # starts with the date


def test_setup_twice_does_not_double_lines(capsys):
    log.setup("INFO")
    log.setup("INFO")
    log.loginfo("once")
    assert capsys.readouterr().err.count("once") == 1


def test_original_helpers(capsys):
    log.setup("DEBUG")
    log.logdebug("d")
    log.logerror("e")
    err = capsys.readouterr().err
    assert "DEBUG homepower: d" in err and "ERROR homepower: e" in err
