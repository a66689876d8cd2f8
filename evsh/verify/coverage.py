"""What a verify run reached, as the user reads it: per command and per event type, warnings
for what never happened (with the hint that fixes it), and the percentages --min-coverage checks."""

from __future__ import annotations

import dataclasses
from typing import Any

from .explore import Coverage


def as_dict(coverage: Coverage) -> dict[str, Any]:
    return {
        "commands": {k: dataclasses.asdict(v) for k, v in sorted(coverage.commands.items())},
        "events": {k: dataclasses.asdict(v) for k, v in sorted(coverage.events.items())},
    }


def warnings(coverage: Coverage) -> list[str]:
    out = []
    for name, c in sorted(coverage.commands.items()):
        if not c.succeeded and not c.by_reactors:
            out.append(f"command {name} never succeeded ({c.tried} tried, {c.rejected} rejected): the properties"
                       f" never saw what it does. Steer it: VERIFY_STRATEGIES = {{\"{name}.PARAM\": [values it"
                       f" accepts], \"{name.split('.')[0]}.ids\": [...]}} (docs/verify.md), or more --examples/--steps")
    for name, e in sorted(coverage.events.items()):
        if not e.produced:
            out.append(f"event type {name} was never produced: no applier, projection or reactor saw it. Make the"
                       " command that emits it succeed (see the command warnings, VERIFY_STRATEGIES)")
    return out


def percentages(coverage: Coverage) -> tuple[int, int]:
    """(commands that succeeded, event types produced), in whole percent (100 when there are none)."""
    cmds = list(coverage.commands.values())
    evs = list(coverage.events.values())
    c = 100 * sum(1 for x in cmds if x.succeeded or x.by_reactors) // len(cmds) if cmds else 100
    e = 100 * sum(1 for x in evs if x.produced) // len(evs) if evs else 100
    return c, e
