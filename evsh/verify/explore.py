"""Generating commands against the state reached so far, so a lifecycle domain gets deep.

A sequence drawn up front from signatures alone barely gets past a domain's first command (a
deposit on an account never opened is rejected; a withdrawal of a random amount too). Here
each step is drawn while the example runs, from what the store holds at that point:

- the aggregate id: mostly one whose stream exists (ids that reactors' commands made count),
  sometimes a fresh word (for the commands that create);
- each parameter: from the type's strategy, or from values already seen under that name in
  events and states (``account_id``, ``amount``), or seen of that type (another account's id,
  a balance);
- the command: weighted towards commands that have not succeeded yet in this run, and, per
  (command, the target's state signature), towards what was accepted in such a state before:
  learnt from ``Rejected`` over the run. A rejected step is retried (a bounded number of
  times) with another draw.

Learning happens in an exploration phase before the properties run (examples drawn from a
seeded random source, not by hypothesis), then the weights are frozen: hypothesis must see the
same choices draw the same steps, or it cannot shrink (and calls the test flaky). Every choice
is drawn from one random source per example (drawn once), so the draws' shapes never change.
The run's coverage report counts what the exploration and the properties' examples reached:
commands tried/accepted/rejected, events produced/applied/projected/reacted to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from ..domain.registry import Domain
from .strategies import Step, Strategies

RETRIES = 2  # extra draws for a slot whose step was rejected
STATUS_NAMES = ("status", "state", "phase", "stage", "open", "closed", "active")


@dataclass
class CommandCount:
    tried: int = 0
    succeeded: int = 0
    rejected: int = 0
    invalid: int = 0  # refused as bad input before the aggregate decided (a value its validation refuses)
    by_reactors: int = 0  # accepted when a reactor sent it (a saga's steps)


@dataclass
class EventCount:
    produced: int = 0
    applied: int = 0
    projected: int = 0
    reacted: int = 0


@dataclass
class Coverage:
    """What the generated examples reached, over a whole run."""

    commands: dict[str, CommandCount] = field(default_factory=dict)
    events: dict[str, EventCount] = field(default_factory=dict)


class Explorer:
    """Draws steps for one domain, learning over a run which commands fit which states."""

    def __init__(self, domain: Domain, strategies: Strategies, max_steps: int) -> None:
        from ..engine import projections

        self.domain = domain
        self.strategies = strategies
        self.st = strategies.st
        self.max_steps = max_steps
        self.learning = True  # the weights change (exploration only)
        self.counting = True  # the coverage counts (until a property fails and shrinks)
        self.cmd_stats: dict[str, list[int]] = {}  # command -> [tried, ok]
        self.commands: list[tuple[str, str, list[tuple[str, Any, Any]]]] = []
        for category, name, params in strategies.command_params():
            self.commands.append((category, name, params))
        if not self.commands:
            from ..errors import DomainError

            raise DomainError(f"domain {domain.name} declares no commands to generate")
        self.stats: dict[tuple[str, tuple], list[int]] = {}  # (command, signature) -> [tried, ok]
        self.coverage = Coverage()
        for category, name, _ in self.commands:
            self.coverage.commands[f"{category}.{name}"] = CommandCount()
        self.appliers: dict[str, set[str]] = {c: set(cls.appliers()) for c, cls in domain.aggregates.items()}
        self.projected: set[str] = set()
        for p in projections.declared(domain).values():
            self.projected |= set(p.handlers)
        for cls in domain.aggregates.values():
            for t in cls.appliers():
                self.coverage.events.setdefault(t, EventCount())
        self.id_override = {c: strategies._override(f"{c}.ids", "ids")[0] for c in domain.aggregates}

    # ------------------------------------------------------------------ one example
    def plan(self, data: Any) -> "Plan":
        return Plan(self, data)

    def _pick(self, data: Any, weights: list[float]) -> int:
        """An index drawn with these weights, from the example's own random source (hypothesis's
        integers favour their bounds: every choice would be the first)."""
        x = data.rnd.random() * sum(weights)
        for i, w in enumerate(weights):
            if x < w:
                return i
            x -= w
        return len(weights) - 1

    def explore(self, sandbox: Callable[[], Any], rounds: int, seed: int,
                reset: Callable[[], None] = lambda: None) -> None:
        """Learn which commands fit which states: ``rounds`` examples twice as long as the
        properties', from a random source seeded by the run's seed (repeatable)."""
        import random

        from hypothesis.control import BuildContext
        from hypothesis.errors import StopTest
        from hypothesis.internal.conjecture.data import ConjectureData

        longer = self.max_steps
        self.max_steps = 2 * longer
        try:
            for n in range(rounds):
                cd = ConjectureData(random=random.Random(seed * 7919 + n))
                reset()
                with sandbox() as box, BuildContext(cd, is_final=False, wrapped_test=None):
                    try:
                        box.run(self.plan(cd))
                    except StopTest:  # the random source ran out of choices: the next round
                        continue
        finally:
            self.max_steps = longer

    def _signature(self, box: Any, category: str, id: str) -> tuple:
        """What about an instance decides which commands it accepts: new or not, its status-like
        fields, whether its numbers are zero, positive or negative."""
        cls = self.domain.aggregates[category]
        if not box.store.stream_version(cls.stream_id(id)):
            return ("new",)
        try:
            agg = box.engine.load(cls, id)
        except Exception:  # noqa: BLE001 - an applier that fails is reported by the properties
            return ("broken",)
        out = []
        for attr, _ in agg._defaults:
            v = getattr(agg, attr, None)
            if isinstance(v, bool) or isinstance(v, enum.Enum) or v is None:
                out.append((attr, repr(v)))
            elif isinstance(v, (int, Decimal, float)):
                out.append((attr, (v > 0) - (v < 0)))
            elif isinstance(v, str) and attr.lower() in STATUS_NAMES:
                out.append((attr, v))
            elif isinstance(v, (list, dict, set, tuple)):
                out.append((attr, bool(v)))
        return tuple(out)

    def draw_step(self, box: Any, data: Any, pools: "Pools") -> tuple[Step, str, tuple]:
        """The next step against the store as it is now, and the key its outcome teaches.

        Command and target are drawn together: a command weighs how rarely it was accepted at all
        (never: first) times how likely its likeliest target accepts it (learnt per state); its
        targets share that in proportion to how often the command was accepted in their state."""
        targets: dict[str, list[tuple[str, tuple]]] = {}
        for category in self.domain.aggregates:
            if self.id_override[category]:
                continue
            existing = sorted(pools.ids.get(category, ()))  # the streams this example wrote
            fresh = next(w for w in _fresh_words(self.strategies.words) if w not in existing)
            targets[category] = [(i, pools.signature(self, box, category, i)) for i in [*existing, fresh]]
        pairs: list[tuple[int, str | None, tuple]] = []
        weights: list[float] = []
        for n, (category, name, _) in enumerate(self.commands):
            key = f"{category}.{name}"
            tried, ok = self.cmd_stats.get(key, (0, 0))
            rarity = 3.0 if ok == 0 else 1.5 if ok < 5 else 1.0
            if category not in targets:  # ids from the domain's own strategy: drawn below
                pairs.append((n, None, ()))
                weights.append(rarity * (ok + 1) / (tried + 2))
                continue
            ps = []
            for id, sig in targets[category]:
                t, o = self.stats.get((key, sig), (0, 0))
                pairs.append((n, id, sig))
                ps.append((o + 1) / (t + 2))
            # the command weighs as much as its likeliest target (not as the number of instances)
            weights += [rarity * max(ps) * p / sum(ps) for p in ps]
        n, id, sig = pairs[self._pick(data, weights)]
        category, name, params = self.commands[n]
        if id is None:
            id = data.draw(self.strategies.ids(category))
            sig = self._signature(box, category, id)
        kwargs = []
        for pname, hint, strat in params:
            kwargs.append((pname, pools.draw(data, pname, hint, strat, self.st)))
        return Step(category, id, name, tuple(kwargs)), f"{category}.{name}", sig

    def learn(self, key: str, sig: tuple, outcome: str) -> None:
        if self.learning:
            for entry in (self.stats.setdefault((key, sig), [0, 0]), self.cmd_stats.setdefault(key, [0, 0])):
                entry[0] += 1
                entry[1] += outcome == "ok"
        if self.counting:
            c = self.coverage.commands[key]
            c.tried += 1
            c.succeeded += outcome == "ok"
            c.rejected += outcome == "rejected"
            c.invalid += outcome == "invalid"

    def count_events(self, box: Any) -> None:
        """What this example's store holds, into the coverage (reactors' events included)."""
        if not self.counting:
            return
        for rec in box.engine.read_all():
            cnt = self.coverage.events.setdefault(rec.type, EventCount())
            cnt.produced += 1
            category = rec.stream_id.split("-", 1)[0]
            if rec.type in self.appliers.get(category, ()):
                cnt.applied += 1
            if rec.type in self.projected:
                cnt.projected += 1

    def count_reactions(self, box: Any) -> None:
        """What reactors did after the last step (their log starts again with each command)."""
        if not self.counting:
            return
        for r in getattr(box.engine.reactors, "log", ()) or ():
            if r.status == "handled":
                self.coverage.events.setdefault(r.event.type, EventCount()).reacted += 1
            for o in r.commands:
                if o.outcome == "ok" and o.events and o.name in self.coverage.commands:
                    self.coverage.commands[o.name].by_reactors += 1


class Pools:
    """Values seen so far in one example: by field name, and by type."""

    def __init__(self, categories: tuple[str, ...] = ()) -> None:
        self.categories = categories
        self.ids: dict[str, list[str]] = {}  # category -> ids of its streams
        self.signatures: dict[tuple[str, str], tuple] = {}  # until the stream is written again
        self.by_name: dict[str, list[Any]] = {}
        self.by_type: dict[type, list[Any]] = {}
        self.position = 0

    def add(self, name: str, value: Any) -> None:
        if value is None or isinstance(value, (dict, list, tuple, set)):
            return  # (a dataclass is kept: an item added is the item to remove)
        for bucket in (self.by_name.setdefault(name, []), self.by_type.setdefault(type(value), [])):
            if value not in bucket and len(bucket) < 24:
                bucket.append(value)

    def observe(self, box: Any, domain: Domain, step: Step) -> None:
        """Take in the events written since last time and the target's state."""
        for rec in box.engine.read_all(self.position + 1):
            self.position = rec.position
            category, _, id = rec.stream_id.partition("-")
            self.signatures.pop((category, id), None)
            known = self.ids.setdefault(category, [])
            if id not in known:
                known.append(id)
            self.add(f"{category}_id", id)
            self.add("id", id)
            cls = domain.aggregates.get(category)
            entry = cls.appliers().get(rec.type) if cls is not None else None
            if entry is not None:
                try:
                    ev = entry[1].decode(rec.data)
                    values = {f: getattr(ev, f) for f in entry[1].fields}
                except Exception:  # noqa: BLE001 - an event that does not decode: the properties say so
                    values = {}
            else:
                values = {k: v for k, v in rec.data.items()} if isinstance(rec.data, dict) else {}
            for k, v in values.items():
                self.add(k, v)
        cls = domain.aggregates.get(step.aggregate)
        if cls is not None and box.store.stream_version(cls.stream_id(step.id)):
            try:
                agg = box.engine.load(cls, step.id)
            except Exception:  # noqa: BLE001
                return
            for attr, _ in agg._defaults:
                self.add(attr, getattr(agg, attr, None))

    def signature(self, ex: Explorer, box: Any, category: str, id: str) -> tuple:
        key = (category, id)
        if key not in self.signatures:
            self.signatures[key] = ex._signature(box, category, id)
        return self.signatures[key]

    def draw(self, data: Any, name: str, hint: Any, strat: Any, st: Any) -> Any:
        """From the strategy (what shrinks best), or a value seen under this name or of this type."""
        same_name = [v for v in self.by_name.get(name, ()) if _fits(v, hint)]
        same_type = list(self.by_type.get(hint, ())) if isinstance(hint, type) else []
        # ``from_account``, ``order_id``: ids of the aggregate the name mentions
        named = [i for c in self.categories if c in name.lower() for i in self.ids.get(c, ())] if hint is str else []
        pools = [p for p in (named, named, named, same_name, same_type) if p]
        k = data.rnd.randrange(len(pools) + 1)  # the example's own random source: cheap
        if k == 0:
            return data.draw(strat)
        return data.rnd.choice(pools[k - 1])


def _fresh_words(words: tuple[str, ...]):  # noqa: ANN202 - an endless generator of ids
    """The shared words, then the same with a number: an id no stream has yet, for creating."""
    yield from words
    n = 2
    while True:
        for w in words:
            yield f"{w}{n}"
        n += 1


def _fits(value: Any, hint: Any) -> bool:
    return isinstance(hint, type) and type(value) is hint


class Plan:
    """One example's steps: drawn against the store the first time a sandbox runs it, the same
    steps on every run after (a property that runs an example twice sees one sequence)."""

    def __init__(self, explorer: Explorer, data: Any) -> None:
        self.explorer = explorer
        self.data = data
        self.steps: list[Step] | None = None

    def drive(self, box: Any, after_each: Callable[[int], None] | None = None) -> None:
        if self.steps is not None:
            for n, step in enumerate(self.steps):
                box.run_one(step)
                if after_each is not None:
                    after_each(n)
            return
        ex, data = self.explorer, self.data
        import random

        data.rnd = random.Random(data.draw(ex.st.integers(0, 2**32 - 1)))
        steps: list[Step] = []
        pools = Pools(tuple(ex.domain.aggregates))
        wanted = data.draw(ex.st.integers(1, ex.max_steps))
        slots = 0
        while slots < wanted:
            slots += 1
            for attempt in range(RETRIES + 1):
                step, key, sig = ex.draw_step(box, data, pools)
                steps.append(step)
                o = box.run_one(step)
                ex.learn(key, sig, o.outcome)
                ex.count_reactions(box)
                if after_each is not None:
                    after_each(len(steps) - 1)
                pools.observe(box, ex.domain, step)
                if o.outcome != "rejected" or len(steps) >= 2 * ex.max_steps:
                    break
        self.steps = steps
        ex.count_events(box)

    def __iter__(self):  # noqa: ANN204 - a plan that has run reads as its steps
        return iter(self.steps or [])

    def __len__(self) -> int:
        return len(self.steps or [])
