"""Run the properties with hypothesis: examples, shrinking, and a reproducer for each failure.

Each property gets its own hypothesis run (so each failure is shrunk for its own sake). The run
is seeded: the seed is shown, and ``--seed`` repeats it exactly. On a failure, hypothesis
replays the smallest failing example last; that one is kept, run once more to learn which of
its commands were rejected, and written as a .evsh script that `evsh run` replays.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..domain.registry import Domain
from ..errors import BadInput, EvshError
from .deciding import restore
from .explore import Coverage, Explorer
from .properties import PROPERTIES, Context, Property, PropertyFailed, Sandbox, StepOutcome, script_lines
from .strategies import WORDS, Step, Strategies

Progress = Callable[[str, int, int], None]  # (property, examples so far, examples wanted)


@dataclass
class Result:
    name: str
    promise: str
    status: str  # holds | fails | skipped
    examples: int = 0
    message: str = ""
    counterexample: list[StepOutcome] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    script: str | None = None
    note: str = ""
    body: list[str] | None = None  # the reproducer's lines, when the property gave them whole


def select(names: Sequence[str]) -> list[Property]:
    """Properties whose name contains any of ``names`` (all when none is given)."""
    if not names:
        return list(PROPERTIES)
    chosen = [p for p in PROPERTIES if any(n.lower() in p.name for n in names)]
    if not chosen:
        known = "; ".join(p.name for p in PROPERTIES)
        raise BadInput(f"no property matches {', '.join(names)} (properties: {known})")
    return chosen


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def verify(
    domain: Domain,
    domain_spec: str,
    *,
    examples: int = 100,
    seed: int | None = None,
    max_steps: int = 12,
    only: Sequence[str] = (),
    out_dir: str | None = "verify-failures",
    progress: Progress | None = None,
) -> tuple[list[Result], int, Coverage]:
    """Check the chosen properties on the domain; returns the results, the seed used and what
    the generated examples reached."""
    props = select(only)
    strategies = Strategies(domain)
    explorer = Explorer(domain, strategies, max_steps)
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    folder = tempfile.mkdtemp(prefix="evsh-verify-", dir=scratch_dir())
    ctx = Context(domain, folder)
    results = []
    try:
        from .deciding import adopt
        from .worker import Worker

        ctx.worker = Worker(domain_spec)
        # every example starts from the state a new process has (a script, the replay worker):
        # class attributes and module globals as at import, whatever ran in this process before
        ctx.fresh = adopt(domain, ctx.worker.fresh())
        fresh = ctx.fresh
        explorer.explore(ctx.sandbox, max(10, examples // 2), seed, lambda: restore(fresh))
        explorer.learning = False
        for prop in props:
            why = prop.needs(domain)
            if why:
                results.append(Result(prop.name, prop.promise, "skipped", message=why, note=prop.note(domain)))
                continue
            wanted = max(1, int(examples * prop.max_examples_factor))
            explorer.counting = True
            result = _run_one(prop, ctx, explorer, wanted, seed, progress)
            result.note = prop.note(domain)
            if result.status == "fails" and out_dir is not None:
                result.script = write_script(out_dir, domain, domain_spec, seed, result)
            results.append(result)
    finally:
        if ctx.worker is not None:
            ctx.worker.close()
        shutil.rmtree(folder, ignore_errors=True)
    return results, seed, explorer.coverage


def scratch_dir() -> str | None:
    """Where the throwaway stores of examples go: memory-backed /dev/shm when there is one (about
    3x faster here: a new store per example is mostly file creation and syncs), else the
    default temporary folder."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return None


def _run_one(prop: Property, ctx: Context, explorer: Explorer, wanted: int, seed: int,
             progress: Progress | None) -> Result:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky

    count = [0]
    failing: list[tuple[list[Step], PropertyFailed]] = []
    generating = [True]

    def stop_learning() -> None:
        # hypothesis shrinks and replays the failure next: the same choices must draw the same steps
        generating[0] = False
        explorer.counting = False

    def tally() -> None:
        if generating[0] and count[0] < wanted:
            count[0] += 1
            if progress:
                progress(prop.name, count[0], wanted)

    @hseed(seed)
    @settings(
        max_examples=wanted, deadline=None, database=None, verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )
    @given(st.data())
    def body(data: Any) -> None:
        if ctx.fresh is not None:
            restore(ctx.fresh)
        steps = explorer.plan(data)
        # Counted when it ends (held or failed): an example hypothesis cuts short (a draw past its
        # budget) is not one hypothesis counts either, so the run shows exactly ``wanted``.
        try:
            prop.check(ctx, steps, data)
            tally()
        except PropertyFailed as exc:
            tally()
            stop_learning()
            failing.append((list(steps), exc))
            raise
        except EvshError as exc:
            tally()
            stop_learning()
            failure = PropertyFailed(str(exc))
            failing.append((list(steps), failure))
            raise failure from None
        except Exception as exc:  # evsh or the domain broke in a way nobody expected
            tally()
            stop_learning()
            failure = PropertyFailed(f"{type(exc).__name__}: {exc}")
            failing.append((list(steps), failure))
            raise failure from None

    try:
        body()
    except (PropertyFailed, Flaky, BaseExceptionGroup):
        pass
    if not failing:
        return Result(prop.name, prop.promise, "holds", count[0])
    steps, exc = _shrink(prop, ctx, *failing[0], seed)
    if ctx.fresh is not None:
        restore(ctx.fresh)
    with Sandbox(ctx.domain, ctx.folder, ctx.options) as box:
        outcomes = box.run(steps)
    return Result(prop.name, prop.promise, "fails", count[0], exc.message, outcomes, exc.tail, body=exc.script)


def _attempt(prop: Property, ctx: Context, steps: list[Step], seed: int) -> PropertyFailed | None:
    """The property on these steps, its own draws from a seeded source: the failure, or None."""
    import random as _random

    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    cd = ConjectureData(random=_random.Random(seed))
    if ctx.fresh is not None:
        restore(ctx.fresh)
    try:
        with BuildContext(cd, is_final=False, wrapped_test=None):
            prop.check(ctx, steps, cd)
    except PropertyFailed as exc:
        return exc
    except StopTest:
        return None
    except Exception as exc:  # noqa: BLE001 - as the hypothesis run reports it
        return PropertyFailed(f"{type(exc).__name__}: {exc}")
    return None


def _shrink(prop: Property, ctx: Context, steps: list[Step], exc: PropertyFailed,
            seed: int) -> tuple[list[Step], PropertyFailed]:
    """The failing steps with every step whose removal keeps the property failing removed, last
    first, until a pass removes nothing. Deterministic (the same seed shrinks the same way) and
    cheaper than hypothesis's shrinker on steps drawn against the state (each try is a store)."""
    changed = True
    while changed and len(steps) > 1:
        changed = False
        for i in reversed(range(len(steps))):
            if len(steps) == 1:
                break
            candidate = steps[:i] + steps[i + 1:]
            failure = _attempt(prop, ctx, candidate, seed)
            if failure is not None:
                steps, exc, changed = candidate, failure, True
    # then text a reader can type: a word of the shared ones where any text would do
    for i, step in enumerate(list(steps)):
        for k, (name, value) in enumerate(step.params):
            if not isinstance(value, str) or (value.isascii() and value.isprintable() and len(value) <= 12):
                continue
            for word in WORDS:
                params = step.params[:k] + ((name, word),) + step.params[k + 1:]
                candidate = [*steps[:i], dataclasses.replace(step, params=params), *steps[i + 1:]]
                failure = _attempt(prop, ctx, candidate, seed)
                if failure is not None:
                    steps, exc, step = candidate, failure, candidate[i]
                    break
    return steps, exc


def script_text(domain: Domain, domain_spec: str, seed: int, result: Result, path: str) -> str:
    spec = os.path.abspath(domain_spec) if os.path.exists(domain_spec) else domain_spec
    lines = [
        f"# evsh verify: \"{result.name}\" does not hold for domain {domain.name} (seed {seed}).",
        *(f"# {part}" for part in _wrap(result.message)),
        "# Replay it on a new store; the last line fails until the domain is fixed:",
        f"#   rm -f repro.db && evsh --db repro.db --domain {spec} run {path}",
        "",
        *(result.body if result.body is not None else [*script_lines(result.counterexample), *result.tail]),
    ]
    return "\n".join(lines) + "\n"


def _wrap(message: str, width: int = 96) -> list[str]:
    out = []
    for para in message.splitlines() or [""]:
        while len(para) > width:
            cut = para.rfind(" ", 0, width)
            cut = cut if cut > 20 else width
            out.append(para[:cut])
            para = para[cut:].lstrip()
        out.append(para)
    return out


def script_path(out_dir: str, domain: Domain, property_name: str) -> str:
    """Where the script reproducing a failure of the property is written."""
    return os.path.join(out_dir, f"{slug(domain.name)}-{slug(property_name)}.evsh")


def check_out_dir(out_dir: str) -> None:
    """Refuse, before any example runs, an --out that cannot be made a folder: a file there, or
    a file where one of its parent folders should be (BadInput saying what to give instead)."""
    path = os.path.abspath(out_dir)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        what = f"--out {out_dir} is" if path == os.path.abspath(out_dir) else f"--out {out_dir}: {path} is"
        raise BadInput(f"{what} a file, not a folder; give a folder for the scripts of failures (made when one fails)")


def write_script(out_dir: str, domain: Domain, domain_spec: str, seed: int, result: Result) -> str | None:
    """Write the reproducer, after checking that it fails on a new store in a new process (a
    script that passes would say the flaw is fixed when it is not). Returns its path, or None
    when it does not reproduce (the result's message says so)."""
    os.makedirs(out_dir, exist_ok=True)
    path = script_path(out_dir, domain, result.name)
    candidates = [result.body] if result.body is not None else []
    candidates.append([*script_lines(result.counterexample), *result.tail])
    for body in candidates:
        result.body = body
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(script_text(domain, domain_spec, seed, result, path))
        if reproduces(domain_spec, path):
            return path
    os.remove(path)
    result.message += "\n(no reproducer written: replayed as a script on a new store, it did not fail)"
    return None


def reproduces(domain_spec: str, path: str) -> bool:
    """Does ``evsh run`` of the script fail on a new store, in a process of its own?"""
    import subprocess
    import sys

    folder = tempfile.mkdtemp(prefix="evsh-repro-", dir=scratch_dir())
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "evsh", "--db", os.path.join(folder, "repro.db"), "--domain", domain_spec,
             "run", path], capture_output=True, text=True, timeout=300, env=env, cwd=os.getcwd(),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # an expectation that fails, not a script that cannot run (which would fail on a fixed domain too)
    return proc.returncode == 1 and "expectation failed" in proc.stderr
