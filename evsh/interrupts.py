"""Whether a real Ctrl-C has arrived, so that user code's own KeyboardInterrupt can be told from it.

A domain's handler that raises KeyboardInterrupt (or calls sys.exit) is that code failing: exit 5
with its file and line. A real Ctrl-C reaches Python as the same KeyboardInterrupt, raised
wherever the program happens to be, often inside the user's code. The front end's signal handler
calls :func:`request` first, and the core asks :func:`requested` before taking a
KeyboardInterrupt for the user's code failing (evsh.domain.registry.user_code_error).
"""

from __future__ import annotations

_requested = False


def request() -> None:
    """A real Ctrl-C (or SIGTERM) arrived: called by a signal handler before it raises."""
    global _requested
    _requested = True


def requested() -> bool:
    """Whether a real interruption arrived in this process."""
    return _requested


def clear() -> None:
    """Forget it (a prompt that took the Ctrl-C and goes on)."""
    global _requested
    _requested = False
