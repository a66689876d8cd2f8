"""`evsh verify` at an 80-column terminal: the counterexample and the reproduce command are each
one line (the terminal wraps them), so pasting them runs what was printed."""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_the_reproduce_command_and_the_counterexample_are_never_broken_at_80_columns(cli, tmp_path):
    out = tmp_path / "reproducers-in-a-folder-with-a-long-name"
    r = cli("verify", "--domain", "flawed", "--examples", "12", "--seed", "3", "--property", "deciding",
            "--out", str(out), env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 1, r.stdout + r.stderr
    lines = [ANSI.sub("", line).rstrip() for line in r.stdout.splitlines()]
    (script,) = list(out.iterdir())
    (reproduce,) = [line for line in lines if line.startswith("  reproduce: ")]
    assert len(reproduce) > 80 and reproduce.endswith(f" run {script}")  # longer than the line, and whole
    assert " --db repro.db --domain flawed run " in reproduce
    start = lines.index(next(line for line in lines if "smallest counterexample" in line)) + 1
    example = lines[start:lines.index(reproduce)]
    assert example and all(line.startswith("    ") for line in example)  # no line broken off a command
    assert any(line.strip().startswith("expect decision exec ticket") for line in example)
