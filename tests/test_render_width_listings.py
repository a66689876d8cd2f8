"""Operational listings at 80 columns: nothing left out without saying so, names whole, and a
handler's error readable to its exception (wrapped in its column, never cut to a path)."""

from __future__ import annotations

import re

from tests.test_reactors import flaky  # noqa: F401  (the fixture: a reactor that fails on demand)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(cli, *args: str) -> list[str]:
    r = cli(*args, env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    lines = [ANSI.sub("", line).rstrip() for line in r.stdout.splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    return lines


def column(lines: list[str], name: str) -> list[str]:
    """The text of column ``name`` for each row (a row's wrapped lines joined with a space)."""
    start = lines[0].index(name)
    rows: list[str] = []
    for line in lines[1:]:
        if line.startswith("not shown:"):
            break
        if line[:start].strip():
            rows.append(line[start:].strip())
        else:
            rows[-1] += " " + line[start:].strip()
    return rows


def test_errors_of_reactors_and_dead_letters_show_their_exception_at_80_columns(cli, flaky):  # noqa: F811
    dom, fault = flaky
    fault.write_text("2")
    for n in (1, 2, 3):
        assert cli(*dom, "exec", "ping", f"x{n}", "send", "--n", str(n)).exit_code == 0
    lines = on_terminal(cli, *dom, "dlq", "list")
    assert lines[0].split()[:4] == ["id", "reactor", "position", "event"]
    (error,) = column(lines, "error")
    assert error.endswith("RuntimeError: ping 2 is broken") and "…" not in error
    assert lines[-1] == "not shown: parked_at (--vertical or --json shows it)"
    lines = on_terminal(cli, *dom, "reactors")
    errors = column(lines, "last error")
    assert errors[0].endswith("RuntimeError: ping 2 is broken")
    assert errors[1].startswith("stopped: #2") and errors[1].endswith("stopper cannot take ping 2")
    assert [line.split()[0] for line in lines[1:] if not line.startswith(" ")] == ["ponger", "stopper"]
