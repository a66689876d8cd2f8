"""The sandbox of one example: a fresh store and engine, the steps run on it, and what became
of each (accepted, rejected, raised), with the head position after it, so a reproducer can
replay exactly the interleaving that failed (deliver, redeliver right away, go on).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..domain.model import Aggregate
from ..domain.registry import Domain
from ..errors import BadInput, CommandRejected, DomainCodeError, EvshError
from ..store import codec
from .strategies import Step


class PropertyFailed(Exception):
    """A property does not hold for one example. ``tail``: the .evsh lines that check it, after
    the example's commands; ``script``: the whole reproducer instead."""

    def __init__(self, message: str, tail: Sequence[str] = (), *, script: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tail = list(tail)
        # the whole reproducer (commands and checks, in the order that failed), when the
        # counterexample's commands followed by ``tail`` would not replay it
        self.script = list(script) if script is not None else None


def plain(value: Any) -> Any:
    """A value as the JSON a user sees (Decimals as strings): what states are compared as."""
    return json.loads(codec.dumps(value))


def diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    lines = []
    for key in sorted(set(a) | set(b), key=str):
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            lines.append(f"{key}: {json.dumps(a.get(key, '<missing>'), default=str)} != "
                         f"{json.dumps(b.get(key, '<missing>'), default=str)}")
    return "; ".join(lines) or "(equal)"


# ----------------------------------------------------------------------------- the sandbox

@dataclass
class StepOutcome:
    step: Step
    outcome: str  # ok | rejected | error | invalid
    message: str = ""
    head: int = 0  # the store's head position after it (reactors' events included)
    events: list = field(default_factory=list)  # [type, data] of the events it wrote


class Sandbox:
    """A fresh store with an engine for one example; removed when closed."""

    def __init__(self, domain: Domain, folder: str, options: dict[str, Any] | None = None) -> None:
        from ..engine.wiring import build_engine
        from ..store.connect import open_store

        self.domain = domain
        self.folder = tempfile.mkdtemp(prefix="example-", dir=folder)
        self.path = os.path.join(self.folder, "verify.db")
        self.store = open_store(self.path)
        self.options = dict(options or {})
        self.engine = build_engine(self.store, domain, **self.options)
        self.outcomes: list[StepOutcome] = []

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, steps: Any, after_each: Callable[[int], None] | None = None) -> list[StepOutcome]:
        """Run every step (a plan draws its steps against this store as it grows, the first time
        it runs; the same steps after); a rejection, a domain error or invalid input is recorded."""
        if hasattr(steps, "drive"):
            steps.drive(self, after_each)
            return self.outcomes
        for n, step in enumerate(steps):
            self.run_one(step)
            if after_each is not None:
                after_each(n)
        return self.outcomes

    def run_one(self, step: Step) -> StepOutcome:
        """Run one step and record its outcome and the head position after it."""
        try:
            res = self.engine.execute(step.aggregate, step.id, step.command, step.kwargs)
            o = StepOutcome(step, "ok", events=[[e.type, plain(e.data)] for e in res.events])
        except CommandRejected as exc:
            o = StepOutcome(step, "rejected", exc.reason)
        except DomainCodeError as exc:
            o = StepOutcome(step, "error", str(exc))
        except BadInput as exc:
            o = StepOutcome(step, "invalid", str(exc))
        except EvshError as exc:
            o = StepOutcome(step, "error", str(exc))
        except Exception as exc:  # evsh itself broke: reported, never hidden
            o = StepOutcome(step, "error", f"internal error: {type(exc).__name__}: {exc}")
        o.head = self.store.head_position()
        self.outcomes.append(o)
        return o

    def instances(self) -> list[tuple[type[Aggregate], str]]:
        """Every aggregate instance that has a stream, in stream-id order."""
        out = []
        for cat, cls in sorted(self.domain.aggregates.items()):
            for info in self.store.streams(cat):
                out.append((cls, info.stream_id.split("-", 1)[1]))
        return out

    def replay(self, cls: type[Aggregate], id: str, chunks: Sequence[int] = ()) -> dict[str, Any]:
        """State from a full replay of the stream; with ``chunks``, applied in pieces of those sizes."""
        agg = cls(id)
        records = list(self.engine.read_stream(cls.stream_id(id)))
        if not chunks:
            self.engine.apply_records(agg, iter(records))
        else:
            i = 0
            sizes = list(chunks)
            while i < len(records):
                size = max(1, sizes.pop(0) if sizes else len(records))
                self.engine.apply_records(agg, iter(records[i:i + size]))
                i += size
        return plain(agg.state())

    def tables(self, specs: Sequence[Any]) -> dict[str, list[list[Any]]]:
        """Rows of these declared tables, sorted, as JSON values: what "equal tables" means."""
        out = {}
        for spec in specs:
            rows = [plain(list(r.values())) for r in self.store.table(spec).rows_where()]
            out[spec.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
        return out


def script_lines(outcomes: Sequence[StepOutcome]) -> list[str]:
    """The steps as .evsh lines; rejected ones expected to be rejected, so the script goes on."""
    out = []
    for o in outcomes:
        line = o.step.line()
        if o.outcome == "rejected":
            line = "expect rejected " + line
        elif o.outcome == "invalid":
            line = "expect error " + line
        out.append(line)
    return out


@dataclass
class Context:
    """What a property check gets besides the example: the domain, a temp folder, a worker."""

    domain: Domain
    folder: str
    worker: Any = None
    fresh: Any = None  # the domain's class and module state as at import (deciding.snapshot)
    # no backoff between a failing reactor's attempts: examples run in milliseconds
    options: dict[str, Any] = field(default_factory=lambda: {"reactor_backoff": 0.0})

    def sandbox(self) -> Sandbox:
        return Sandbox(self.domain, self.folder, self.options)

