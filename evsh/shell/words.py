"""The words of the .evsh language besides evsh's commands, shared by the parser, the
expectations and the interactive shell (one list, one "did you mean")."""

from __future__ import annotations

from typing import Iterable

from ..wording import did_you_mean

DIRECTIVES = ("say", "expect", "redeliver", "repeat", "end", "help")
# words of a session: leave (also ending a piped script), clear the screen, load another domain
SESSION = ("exit", "quit", "clear", "domain")
WORDS = DIRECTIVES + SESSION
NOT_IN_SCRIPTS = {"shell": "an interactive shell cannot run inside a script or another shell",
                  "demo": "evsh demo manages its own store: run `evsh demo` on its own",
                  "tui": "the TUI needs the whole terminal: run `evsh tui` on its own"}


def unknown_word(word: str, known: Iterable[str]) -> str:
    """``unknown command 'staet' (did you mean `state`?)``, for scripts and the shell."""
    hint = did_you_mean(word, [*known, *WORDS]) or " (`help` lists the commands)"
    return f"unknown command {word!r}{hint}"
