"""Numbers and words (issue 18): thousands separators and the singular for one, in every message."""

from __future__ import annotations

import re
from pathlib import Path

import evsh

SHOP = ("--domain", "shop")
COUNTED = re.compile(r"""f["'].*\{[^}:]+\} (events?|commands?|streams?|rows?|keys?|snapshots?|lines?|entries|copies|"""
                     r"""columns?|projections?|reactors?|dead letters?|expectations?|properties)\b""")


def test_counts_read_with_separators_and_plurals(cli, tmp_path):
    assert cli("seed", "--orders", "250").exit_code == 0
    out = str(tmp_path / "all.jsonl")
    r = cli("export", "-o", out)
    assert re.search(r"^exported \d,\d{3} events to ", r.stderr), r.stderr
    one = tmp_path / "one.jsonl"
    one.write_text(Path(out).read_text().splitlines()[0] + "\n")
    r = cli("import", str(one), db=str(tmp_path / "one.db"))
    assert r.stdout == "imported 1 event\n"
    r = cli("trace", "inventory-p1", db=str(tmp_path / "one.db"))
    assert "(1 command, 1 event)" in r.stdout or "(0 commands, 1 event)" in r.stdout, r.stdout


def test_no_message_counts_by_hand():
    """Every front end message with a count goes through evsh.wording (counted, number)."""
    root = Path(evsh.__file__).parent
    offenders = []
    for folder in ("cli", "shell"):
        for path in (root / folder).glob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if COUNTED.search(line) and "counted(" not in line and "number(" not in line:
                    offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []
