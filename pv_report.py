#!/usr/bin/env python3
"""How good were the forecasts, and what did the panels do: a report over pvhistory (see docs/report.md).

The command is ``homepower.cli.report``; installed (``pip install .``) it is ``homepower-report``.
"""

import sys

from homepower.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
