"""What long-running followers share: waiting for new events, and outliving a lost connection.

Idle, a follower waits in :func:`idle` until an event is appended (a server store wakes it at
once by NOTIFY; SQLite polls), its poll interval passes, or it is told to stop (heard within a
quarter of a second, whatever the interval).

A worker (``evsh reactors run``, ``evsh projections run --follow``, ``evsh log --follow``) that
loses its connection to a server store (a restart, a terminated backend, a network cut) does
not exit: it asks the store to reconnect, waiting 0.1 s, 0.2 s, ... up to 5 s between tries,
until the server answers or the worker is told to stop. Nothing is lost or done twice: the
server rolled back what the lost connection had not committed (effects and checkpoint
together), so the worker starts again from its committed checkpoint. An error that is not a
lost connection is raised as before. An embedded store never loses its connection.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from ..errors import StoreError

FIRST_DELAY = 0.1  # seconds before the second try
MAX_DELAY = 5.0  # seconds between tries at most


STOP_CHECK = 0.25  # seconds: how soon a waiting follower hears that it should stop


def backoff() -> Iterator[float]:
    """The seconds to wait before each next try: FIRST_DELAY, doubled each time, MAX_DELAY at most."""
    delay = FIRST_DELAY
    while True:
        yield delay
        delay = min(delay * 2, MAX_DELAY)


def idle(store: Any, head: int, poll: float, stop: Callable[[], bool], reconnect: "Reconnector") -> bool:
    """Wait until an event after ``head`` is appended, ``poll`` seconds pass, or ``stop()``;
    True when an event came. A lost connection is recovered from (see :class:`Reconnector`)."""
    deadline = time.monotonic() + poll
    while not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            if store.wait(head, min(STOP_CHECK, left)):
                return True
        except StoreError as exc:
            if not reconnect.recovered(exc) and not stop():  # (stopped while it was away: just stop)
                raise
            return False
    return False


class Reconnector:
    """Turns a lost connection into a pause: :meth:`recovered` after each StoreError."""

    def __init__(
        self,
        store: Any,
        *,
        stop: Callable[[], bool] = lambda: False,
        on_retry: Callable[[str, float], None] | None = None,
        on_back: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.stop = stop
        self.on_retry = on_retry  # (why, seconds until the next try) after each failed try
        self.on_back = on_back  # (why it was lost) once connected again
        self.sleep = sleep
        self.reconnects = 0

    def recovered(self, error: StoreError) -> bool:
        """True when ``error`` came from a lost connection and a new one is open (go on); False
        when the connection is fine (the error is something else: raise it) or when told to
        stop while the server was away."""
        delays = backoff()
        reason = str(error)
        while not self.stop():
            try:
                if not self.store.recover():
                    return False
            except StoreError as exc:  # still away
                reason = str(exc)
            else:
                self.reconnects += 1
                if self.on_back is not None:
                    self.on_back(str(error))
                return True
            delay = next(delays)
            if self.on_retry is not None:
                self.on_retry(reason, delay)
            self.sleep(delay)
        return False
