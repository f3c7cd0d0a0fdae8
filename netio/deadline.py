"""One wall-clock deadline for a whole conversation with a server.

A per-read timeout alone does not bound a server that sends one byte a second (each read succeeds), so
while a request runs a timer (``signal.setitimer``) is armed for what is left of the conversation; when
it rings, whatever the library is blocked in (resolving, connecting, the TLS handshake, headers, the body,
a pause before a retry) is interrupted by ``Expired``. The library still does every byte. Signals reach
only the main thread (where the scripts run); in another thread the per-read timeouts, clipped to what is
left, are the bound. Standard library only.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator


class Expired(BaseException):
    """The timer rang. A BaseException, so that no library's ``except Exception`` takes it for a network
    error and retries or swallows it; the conversation turns it into ``netio.TimedOut``."""


def _ring(signum: int, frame: object) -> None:
    raise Expired()


class Deadline:
    """``seconds`` of wall time from creation; time spent in ``paused()`` blocks does not count."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.started = clock()
        self._paused = 0.0

    def elapsed(self) -> float:
        """Seconds counted against the deadline so far."""
        return self._clock() - self.started - self._paused

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self.seconds - self.elapsed()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time in the block (another conversation, e.g. asking Enlighten for a token) is not counted."""
        began = self._clock()
        try:
            yield
        finally:
            self._paused += self._clock() - began

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Within the block, ``Expired`` is raised once the deadline passes (main thread only). A timer
        armed by an enclosing block is put back, less the time this block took."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        began = self._clock()
        previous = signal.signal(signal.SIGALRM, _ring)
        outer, _ = signal.setitimer(signal.ITIMER_REAL, max(self.left(), 0.001))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if outer > 0:
                signal.setitimer(signal.ITIMER_REAL, max(outer - (self._clock() - began), 0.001))
