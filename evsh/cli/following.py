"""What a following command (`log --follow`, `reactors run`, `projections run --follow`) says
while its connection to the store is lost: one wording for all of them; and how often the ones
without a --poll of their own look for new events (EVSH_POLL_INTERVAL)."""

from __future__ import annotations

from typing import Any, Callable

import click

from ..engine.following import Reconnector
from ..errors import BadInput
from ..sanitise import safe

DEFAULT_POLL = 0.2  # seconds between looks for new events, unless --interval or EVSH_POLL_INTERVAL says


def poll_interval(given: float | None = None) -> float:
    """The seconds between looks for new events: ``given`` (an --interval option, already
    checked by its type), else EVSH_POLL_INTERVAL, checked as the option is (a finite number of
    seconds from 0 to a day), else DEFAULT_POLL."""
    import os

    from .params import check_seconds

    if given is not None:
        return given
    raw = os.environ.get("EVSH_POLL_INTERVAL", "")
    if not raw:
        return DEFAULT_POLL
    try:
        return check_seconds(raw)
    except ValueError as exc:
        raise BadInput(f"EVSH_POLL_INTERVAL: {exc} (or unset it: {DEFAULT_POLL:g} s)") from None


def reconnector(store: Any, stop: Callable[[], bool] = lambda: False) -> Reconnector:
    """A :class:`~evsh.engine.following.Reconnector` on the store that says on stderr each failed
    try to reach it again, and when it is back."""

    def retrying(reason: str, delay: float) -> None:
        click.echo(safe(f"evsh: connection lost ({reason}); trying again in {delay:g} s"), err=True)

    def back(reason: str) -> None:
        click.echo(safe(f"evsh: connected again after a lost connection ({reason})"), err=True)

    return Reconnector(store, stop=stop, on_retry=retrying, on_back=back)


def when_reached(opened: Callable[[], Any]) -> Any:
    """``opened()`` (a store), tried again while its server cannot be reached, as a follower that
    loses its connection does (the same waits, the same words on stderr): a worker started while
    the database restarts waits for it instead of exiting. Ctrl-C stops the waiting."""
    import time

    from ..engine.following import backoff
    from ..errors import ServerUnreachable

    delays = backoff()
    waited = False
    while True:
        try:
            store = opened()
        except ServerUnreachable as exc:
            delay = next(delays)
            click.echo(safe(f"evsh: cannot reach the store yet ({exc}); trying again in {delay:g} s"), err=True)
            time.sleep(delay)
            waited = True
            continue
        if waited:
            click.echo("evsh: connected", err=True)
        return store


STOPPED_AWAY = "evsh: stopped while the store could not be reached; what was committed stays, and the next run goes on from there"
