"""Fake services on loopback for the poller's tests and the benchmark: an HTTPS IQ Gateway with a
self-signed certificate made at run time (openssl CLI), and Enlighten/Entrez. Importable
(``tests.fakes.gateway``) and startable as processes (``python -m tests.fakes.gateway --help``)."""

import time


def serve_until_interrupted(stop) -> int:
    """What a fake started as a process does after READY: serve until Ctrl-C (or SIGINT), then ``stop()``."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop()
    return 0
