"""docs/tutorial.md and its demos cannot drift apart: every section names a bundled demo, and
every evsh command the reader is told to type is a line of that demo (which the suite runs)."""

from __future__ import annotations

import re
import shlex
from importlib.resources import files
from pathlib import Path

import pytest

from evsh.shell.parsing import Line, Repeat, parse, substitute

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
GLOBAL_WITH_VALUE = {"--db", "--domain", "--mode", "--clock", "--ids", "--sync", "--busy-timeout"}
NOT_CHECKED = {"shell", "demo", "tui"}
OUTCOMES = {"rejected", "conflict", "error"}
CONCEPTS = ["metadata", "concurrency conflict", "Publish/subscribe", "registration fan-out", "compensations",
            "outage", "CQRS", "rebuild", "Stream processing", "Idempotent", "Monitoring", "trace", "time travel"]


def sections() -> list[tuple[str, str]]:
    text = TUTORIAL.read_text()
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return [(p.split("\n", 1)[0], p) for p in parts]


def norm(words: list[str]) -> str:
    return " ".join(words)


def demo_lines(name: str) -> set[str]:
    """Every command line of a demo, repeats expanded, and the commands inside `expect rejected
    ...`-style lines, as normalised word lists."""
    from evsh.cli.main import COMMANDS

    text = files("evsh.samples").joinpath("demos", f"{name}.evsh").read_text()
    out: set[str] = set()

    def walk(nodes, env):
        for node in nodes:
            if isinstance(node, Repeat):
                for n in range(1, node.count + 1):
                    walk(node.body, {**env, node.var: str(n)})
                continue
            assert isinstance(node, Line)
            words = substitute(node.tokens, env)
            out.add(norm(words))
            if words[:1] == ["expect"] and len(words) > 2 and (words[1] in OUTCOMES or words[1] == "exit"):
                rest = words[2:] if words[1] in OUTCOMES else words[3:]
                while rest and rest[0] == "--match":
                    rest = rest[2:]
                out.add(norm(rest))

    walk(parse(name, text, list(COMMANDS)), {})
    return out


def typed_commands(body: str) -> list[list[str]]:
    """The evsh commands and shell lines a reader types in a section's console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", body, flags=re.S):
        for raw in block.splitlines():
            m = re.match(r"^\$ (evsh .*)$", raw) or re.match(r"^evsh \([^)]*\)> (.*)$", raw)
            if not m:
                continue
            words = shlex.split(m.group(1), comments=True)
            if words and words[0] == "evsh" and raw.startswith("$"):
                words = words[1:]
                while words and words[0].startswith("--"):
                    opt = words.pop(0)
                    if opt in GLOBAL_WITH_VALUE and "=" not in opt:
                        words.pop(0)
            if words and words[0] not in NOT_CHECKED:
                out.append(words)
    return out


def test_the_tutorial_covers_every_concept_of_the_seed_article():
    text = TUTORIAL.read_text()
    for concept in CONCEPTS:
        assert concept.lower() in text.lower(), concept
    assert "evsh step" in text


@pytest.mark.parametrize("title, body", sections())
def test_each_section_is_backed_by_a_demo_that_contains_its_commands(title, body):
    m = re.search(r"Behind this section: `evsh demo (\w+)`", body)
    assert m, f"section {title!r} names no demo"
    name = m.group(1)
    lines = demo_lines(name)
    typed = typed_commands(body)
    assert typed, f"section {title!r} shows no command to type"
    for words in typed:
        assert norm(words) in lines, f"{title}: `{shlex.join(words)}` is not a line of {name}.evsh"
