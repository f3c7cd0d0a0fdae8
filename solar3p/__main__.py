"""``python -m solar3p``: see solar3p.cli."""

import sys

from solar3p.edge import missing_module  # stdlib and the project's own modules only
from solar3p.errors import EX_CONFIG

try:
    from solar3p.cli import main
except ModuleNotFoundError as exc:  # the system Python instead of .venv/bin/python: one line, not a traceback
    print(missing_module("solar3p", exc), file=sys.stderr)
    sys.exit(EX_CONFIG)

sys.exit(main())
