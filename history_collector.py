#!/usr/bin/env python3
"""Build pvhistory: one row per local clock hour (see docs/collector.md).

The command is ``homepower.cli.collect``; installed (``pip install .``) it is ``homepower-collect``.
"""

import sys

from homepower.cli.collect import main

if __name__ == "__main__":
    sys.exit(main())
