"""What homepower's scripts share at their edge: solar3p's (``solar3p.edge``), so every command of the
project has the same usage rules, one-line errors and exit codes."""

from solar3p.edge import (
    AT_ONCE,
    EX_SOFTWARE,
    HELD_LINES,
    Parser,
    held_logs,
    missing_module,
    one_line,
    program,
    run,
    setup_logging,
)

__all__ = [
    "AT_ONCE",
    "EX_SOFTWARE",
    "HELD_LINES",
    "Parser",
    "held_logs",
    "missing_module",
    "one_line",
    "program",
    "run",
    "setup_logging",
]
