"""The README's examples run as written: its domain module, its CLI lines and its Python API."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def blocks(lang: str) -> list[str]:
    text = open(README, encoding="utf-8").read()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def test_readme_opens_with_the_demo_and_test_commands():
    first = blocks("bash")[0]
    assert "make demo" in first and "make test" in first


def test_readme_domain_runs_from_the_cli(tmp_path, cli):
    domain = next(b for b in blocks("python") if b.startswith("# counter.py"))
    (tmp_path / "counter.py").write_text(domain)
    lines = next(b for b in blocks("bash") if "--domain counter.py" in b).strip().splitlines()
    results = [cli(*shlex.split(line)[1:]) for line in lines]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.stderr for r in results]
    state = json.loads(results[-1].stdout)
    assert state == {"id": "c1", "version": 2, "name": "visits", "total": 3}
    rejected = cli("--domain", "counter.py", "exec", "counter", "c1", "increment", "--by", "0")
    assert rejected.exit_code == 1 and "positive" in rejected.stderr


def test_readme_python_api_example_prints_what_it_says(tmp_path):
    domain = next(b for b in blocks("python") if b.startswith("# counter.py"))
    api = next(b for b in blocks("python") if "build_engine" in b)
    (tmp_path / "counter.py").write_text(domain)
    out = subprocess.run([sys.executable, "-c", api], cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "{'id': 'c2', 'version': 2, 'name': 'api', 'total': 2}"
    assert lines[1:] == ["1 CounterOpened {'name': 'api'}", "2 CounterIncremented {'by': 2}"]


def test_readme_script_runs_and_its_expectations_hold(tmp_path, cli):
    script = next(b for b in blocks("text") if b.startswith("# order.evsh"))
    (tmp_path / "order.evsh").write_text(script)
    r = cli("--domain", "shop", "run", "order.evsh", "--echo")
    assert r.exit_code == 0, r.stdout + r.stderr
    broken = script.replace("status=confirmed", "status=cancelled")
    (tmp_path / "broken.evsh").write_text(broken)
    r = cli("--db", str(tmp_path / "other.db"), "--domain", "shop", "run", "broken.evsh")
    assert r.exit_code == 1 and "broken.evsh:4:" in r.stderr


def test_readme_walk_through_the_shop_runs(cli):
    walk = next(b for b in blocks("bash") if "export EVSH_DOMAIN=shop" in b)
    lines = walk.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("  #")[0])[1:] for line in lines
                if line.startswith("evsh ") and " tui" not in line]
    assert len(commands) >= 8
    for args in commands:
        r = cli(*args, env={"EVSH_DOMAIN": "shop"})
        assert r.exit_code == 0, (args, r.stderr)
    state = cli("state", "order", "o1", "--json", env={"EVSH_DOMAIN": "shop"})
    assert json.loads(state.stdout)["status"] == "confirmed"
