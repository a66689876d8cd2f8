"""EVSH_POLL_INTERVAL is checked as --interval is (a finite number of seconds from 0 to a day),
in one place for `log --follow` and `projections run --follow`: a bad value is one line naming
the variable, exit 2, before anything is printed; no busy loop on -1, no traceback on 'abc'."""

from __future__ import annotations

import pytest

BAD = ["abc", "-1", "nan", "inf", "1e400", " ", "86401"]
FOLLOWERS = [("log", "--follow"), ("--domain", "shop", "projections", "run", "--follow")]


@pytest.mark.parametrize("command", FOLLOWERS, ids=["log", "projections"])
@pytest.mark.parametrize("value", BAD)
def test_a_bad_poll_interval_is_refused_with_one_line(cli, command, value):
    cli("append", "note-1", "NoteAdded", '{"text": "x"}')
    r = cli(*command, env={"EVSH_POLL_INTERVAL": value})
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith("evsh: error: EVSH_POLL_INTERVAL: ") and r.stderr.count("\n") == 1


def test_a_good_poll_interval_is_used(cli):
    cli("append", "note-1", "NoteAdded", '{"text": "x"}')
    r = cli("log", "--follow", "--nl", "--limit", "1", env={"EVSH_POLL_INTERVAL": "0.01"})
    assert r.exit_code == 0, r.stderr
    assert '"NoteAdded"' in r.stdout


def test_the_variable_is_not_read_without_follow(cli):
    cli("append", "note-1", "NoteAdded", '{"text": "x"}')
    assert cli("log", env={"EVSH_POLL_INTERVAL": "abc"}).exit_code == 0
    assert cli("--domain", "shop", "projections", "run", env={"EVSH_POLL_INTERVAL": "abc"}).exit_code == 0


def test_the_interval_option_wins_over_the_variable(cli):
    r = cli("--domain", "shop", "projections", "run", "--follow", "--interval", "-1", env={"EVSH_POLL_INTERVAL": "0.1"})
    assert r.exit_code == 2 and "--interval" in r.stderr
