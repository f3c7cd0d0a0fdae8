"""``python -m solar3p``: see solar3p.cli."""

import sys

from solar3p.cli import main

sys.exit(main())
