#!/usr/bin/env python3
"""One poll of the Enphase IQ Gateway into enphase_production (see docs/poller.md).

The command is ``homepower.cli.poll``; installed (``pip install .``) it is ``homepower-poll``.
"""

import sys

from homepower.cli.poll import main, freeze

if __name__ == "__main__":
    code = main()
    freeze()
    sys.exit(code)
