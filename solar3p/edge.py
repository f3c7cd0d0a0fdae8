"""What every command shares at its edge (homepower's scripts and ``python -m solar3p``): usage errors exit
64, and every failure is one line on stderr with the contract's exit code (a traceback only at
LOG_LEVEL=DEBUG, never a secret). It lives in solar3p, below homepower, so that solar3p stands alone;
homepower's scripts import it from ``homepower.cli``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

from netio.errors import NetError
from solar3p.errors import EX_CONFIG, EX_USAGE, Solar3pError

EX_SOFTWARE = 70  # a bug of ours, not the user's
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# ``extra=AT_ONCE``: a line a person waiting needs now (a gateway that cannot be reached yet, while the run
# retries for minutes); ``held_logs`` writes it at once instead of holding it to the run's end.
AT_ONCE = {"at_once": True}


def setup_logging(level: str | None = None) -> None:
    """Configure stdlib logging once for a command: lines to stderr at ``level`` (default: LOG_LEVEL, else
    INFO), with timestamps. Modules only call ``logging.getLogger(__name__)``."""
    name = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(numeric)
    # urllib3 logs full URLs and headers at DEBUG; keep it quiet so nothing secret can leak.
    logging.getLogger("urllib3").setLevel(max(numeric, logging.INFO))
    # mysql-connector announces its plugins at INFO on every connection: noise in a cron mail.
    logging.getLogger("mysql.connector").setLevel(max(numeric, logging.WARNING))
    logging.getLogger("h5py").setLevel(max(numeric, logging.INFO))  # pvlib's import makes h5py chatter at DEBUG


CONSOLE_SCRIPTS = ("homepower-poll", "homepower-collect", "homepower-report", "solar3p")


def program(in_checkout: str) -> str:
    """The command's name for usage lines: the installed console script when it was called so (pyproject's
    ``[project.scripts]``), else ``in_checkout`` (the script's name in a checkout)."""
    called = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return called if called in CONSOLE_SCRIPTS else in_checkout


class Parser(argparse.ArgumentParser):
    """argparse with the contract's usage rules for every script (subcommands included): errors exit 64
    in one line, and an empty or blank value (``--hour ''``, ``--replay ' '``) is an error, never the
    option's absence (an unset shell variable must not turn ``--hour "$H"`` into the cron mode)."""

    def error(self, message: str) -> NoReturn:  # argparse would exit 2; the contract says 64, in one line
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(EX_USAGE)

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        # argparse's one conversion point for every value of every option and positional
        if isinstance(arg_string, str) and not arg_string.strip():
            name = "/".join(action.option_strings) or action.metavar or action.dest
            self.error(f"argument {name}: {name} is empty (give a value, or leave the option out)")
        return super()._get_value(action, arg_string)


def run(body: Callable[[], int | None], name: str) -> int:
    """Call ``body`` and turn what it raises into one line and an exit code."""
    try:
        return body() or 0
    except (Solar3pError, NetError) as err:  # netio's errors carry their exit code as ours do
        print(one_line(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`| head`): the work is done (every script stores before it
        # prints), there is just no one to tell. Python's own flush at exit must not fail on it again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as exc:  # an installation to fix (78), not a bug of ours
        _traceback_when_debugging(name)
        print(missing_module(name, exc), file=sys.stderr)
        return EX_CONFIG
    except Exception as exc:
        _traceback_when_debugging(name)
        print(
            f"{name}: unexpected error ({type(exc).__name__}); run with LOG_LEVEL=DEBUG for details and report it",
            file=sys.stderr,
        )
        return EX_SOFTWARE


def missing_module(name: str, exc: ModuleNotFoundError) -> str:
    """One line naming the module and the fix: most often the system Python instead of the checkout's."""
    from solar3p.environment import installed

    module = (exc.name or str(exc)).partition(".")[0]
    venv = Path(__file__).resolve().parent.parent / ".venv"
    if installed():  # pip install . put the packages here without their requirements (--no-deps?)
        fix = "install the project again with its requirements (pip install .)"
    elif Path(sys.prefix).resolve() == venv.resolve():  # the checkout's own .venv, with a requirement missing
        fix = "run `make install` to install the requirements into .venv"
    else:
        fix = "run the scripts with .venv/bin/python (`make install` creates it)"
    return f"{name}: the Python module {module!r} is not installed for {sys.executable}: {fix}"


def _traceback_when_debugging(name: str) -> None:
    """At DEBUG, the traceback of what the one line sums up. The failure may come before logging is set up
    (an import of the settings), so LOG_LEVEL is also read from the environment here."""
    root = logging.getLogger()
    if root.handlers and root.getEffectiveLevel() <= logging.DEBUG:
        logging.getLogger(name).debug("unexpected error", exc_info=True)
    elif os.environ.get("LOG_LEVEL", "").strip().upper() == "DEBUG":
        traceback.print_exc(file=sys.stderr)


def one_line(err: Solar3pError | NetError) -> str:
    """The error's message and, after " - ", what its handlers added to it (``add_note``): one line."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return " - ".join([text, *(note.splitlines()[0] for note in getattr(err, "__notes__", ()) if note)])


HELD_LINES = 10_000  # a run that logs more than this writes the oldest out early: memory stays bounded


class _Held(logging.Handler):
    """Holds lines for ``target``, except those logged with ``extra=AT_ONCE``, which go to it at once.
    logging.handlers.MemoryHandler did this, but importing that module (and pickle, for its socket
    handlers) cost every cron run more than these lines do."""

    def __init__(self, target: logging.Handler, capacity: int) -> None:
        super().__init__(target.level)
        self.target, self.capacity = target, capacity
        self.buffer: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "at_once", False):
            self.target.handle(record)
            return
        self.buffer.append(record)
        if len(self.buffer) >= self.capacity:
            self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            held, self.buffer = self.buffer, []
            for record in held:
                self.target.handle(record)
        finally:
            self.release()


@contextmanager
def held_logs() -> Iterator[None]:
    """Below DEBUG, hold a run's log lines back and write them only if the run succeeds, so that a failure
    is exactly the one line ``run`` prints (what cron mails, and what a person acts on); a line logged
    with ``extra=AT_ONCE`` is written at once all the same. At DEBUG the lines stream live, as a
    person debugging wants them."""
    root = logging.getLogger()
    if root.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    live = list(root.handlers)
    held = [_Held(target, HELD_LINES) for target in live]  # one per live handler, at its level
    for target, memory in zip(live, held, strict=True):
        root.removeHandler(target)
        root.addHandler(memory)
    ok = False
    try:
        yield
        ok = True
    finally:
        for target, memory in zip(live, held, strict=True):
            root.removeHandler(memory)
            root.addHandler(target)
            if ok:
                memory.flush()
            memory.close()  # a failed run's lines are dropped: run() prints its one line
