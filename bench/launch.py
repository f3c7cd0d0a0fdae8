"""Spawn a command, wait for it, and write its wall time, CPU time, exit status and peak memory as JSON.

    python -S bench/launch.py REPORT_FILE COMMAND [ARG ...]

Why a launcher: on Linux a child's ``ru_maxrss`` keeps the high-water mark of the process it was forked
from (exec does not reset it), so a child spawned by the bench would report at least the bench's own
memory. Spawned from this small interpreter instead, it reports its own. Stdlib only, started with -S.
"""

import json
import os
import sys
import time


def main() -> int:
    report, cmd = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(report, "w") as out:
        json.dump(
            {
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "returncode": os.waitstatus_to_exitcode(status),
                "maxrss_kib": usage.ru_maxrss,
            },
            out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
