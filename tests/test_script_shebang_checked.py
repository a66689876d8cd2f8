"""A script's first line naming evsh is checked as `./FILE` would run it: an unclosed quote, no
`run`, an option `run` does not take or files after `run` are refused by `evsh run FILE` too
(one line naming FILE:1, exit 2, nothing run), instead of being silently ignored."""

from __future__ import annotations

import pytest

BAD = {
    "#!/usr/bin/env -S evsh --domain shop run --bogus": "No such option '--bogus'",
    "#!/usr/bin/env -S evsh --domain shop 'unclosed run": "cannot be split into words (No closing quotation)",
    "#!/usr/bin/env -S evsh --domain shop": "name evsh but not `run`",
    "#!/usr/bin/env -S evsh --domain shop run other.evsh": "name files after `run`",
    "#!/usr/bin/env -S evsh --domain shop run --help": "No such option '--help'",
    "#!/usr/bin/env -S evsh --domain shop --bogus run": "No such option",
}
GOOD = ["#!/usr/bin/env -S evsh --domain shop run", "#!/usr/bin/env -S evsh --domain shop run --echo -k",
        "#!/usr/local/bin/evsh --domain shop run", "#!/bin/sh 'not ours", "#!/usr/bin/env python3"]


def _script(tmp_path, first: str) -> str:
    path = tmp_path / "t.evsh"
    path.write_text(first + "\nappend note-1 NoteAdded '{\"text\": \"x\"}'\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("first", BAD)
def test_a_first_line_that_could_not_run_the_file_is_refused(cli, tmp_path, first):
    path = _script(tmp_path, first)
    r = cli("run", path)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"{path}:1: error: the options on the first line: ") and BAD[first] in r.stderr
    assert r.stderr.count("\n") == 1 and r.stdout == ""
    assert cli("log", "--json").stdout.strip() in ("", "[]")


@pytest.mark.parametrize("first", GOOD)
def test_a_first_line_that_works_or_is_not_evsh_s_runs(cli, tmp_path, first):
    r = cli("run", _script(tmp_path, first))
    assert r.exit_code == 0, r.stderr
    assert "appended NoteAdded to note-1" in r.stdout
