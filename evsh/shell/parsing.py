"""Reading and parsing .evsh scripts: logical lines (continuations, quotes, comments), repeat
blocks, ${VAR} substitution, and the checks that make a script run nothing when any line is
wrong (an unknown command, an unclosed quote, a ``repeat`` without ``end``). Limits keep a
hostile script bounded (size, line length, nesting, repeat count: docs/scripts.md).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import IO, Iterator, Sequence, Union

from ..errors import BadInput, EvshError
from .words import NOT_IN_SCRIPTS, SESSION, unknown_word

MAX_REPEAT = 1_000_000  # times a line may run, counting every enclosing repeat
MAX_NESTING = 32  # repeat blocks inside one another
MAX_SCRIPT_CHARS = 10_000_000  # a script's size (docs/scripts.md)
MAX_LINE_CHARS = 100_000  # one line's length
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# ----------------------------------------------------------------------------- parse

@dataclass
class Line:
    """One logical line: its place, its text as written, its tokens (variables not yet filled)."""

    source: str
    lineno: int
    text: str
    tokens: list[str]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.lineno}"


@dataclass
class Repeat:
    source: str
    lineno: int
    count: int
    var: str
    body: list["Node"] = field(default_factory=list)


Node = Union[Line, Repeat]


class ScriptSyntaxError(EvshError):
    """A script cannot be parsed; carries FILE:LINE."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _scan(text: str) -> tuple[str, str | None, bool]:
    """(text without a trailing comment, the quote still open or None, ends with a backslash).

    A ``#`` starts a comment only at the start of a word and outside quotes, as in a shell, so
    ``'#1'`` and ``a#b`` are kept.
    """
    quote: str | None = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c == "\\":
            if i == n - 1:
                return text[:i], None, True
            i += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i], None, False
        i += 1
    return text, quote, False


def read_script(stream: IO[str], name: str) -> str:
    """A script's whole text, refusing one past MAX_SCRIPT_CHARS (ValueError): `evsh run
    /dev/zero` must not read without end."""
    text = stream.read(MAX_SCRIPT_CHARS + 1)
    if len(text) > MAX_SCRIPT_CHARS:
        raise ValueError(f"larger than {MAX_SCRIPT_CHARS:,} characters; is {name} a script?")
    return text


def read_stdin_script() -> str:
    """A script from standard input, decoded as strictly as a file is (``open(name,
    encoding="utf-8")``): in a C or POSIX locale Python reads stdin with "surrogateescape",
    which would turn bytes that are not UTF-8 into lone surrogates instead of an error."""
    import io
    import sys

    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text-only stand-in (an embedding program's): already decoded
        return read_script(sys.stdin, "standard input")
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    try:
        return read_script(text, "standard input")
    finally:
        text.detach()  # leave sys.stdin's own buffer open


def logical_lines(source: str, text: str) -> Iterator[Line]:
    """Join continuation lines (trailing backslash, or a quote left open), drop comments."""
    physical = text.splitlines()
    for n, raw in enumerate(physical, 1):
        if len(raw) > MAX_LINE_CHARS:
            raise ScriptSyntaxError(f"{source}:{n}", f"the line is longer than {MAX_LINE_CHARS:,} characters")
    i = 0
    while i < len(physical):
        start = i + 1
        buf = ""
        while True:
            if i >= len(physical):
                raise ScriptSyntaxError(f"{source}:{start}", "a quote opened here is never closed")
            raw = physical[i]
            i += 1
            joined = buf + raw
            kept, open_quote, cont = _scan(joined)
            if open_quote:
                buf = joined + "\n"
                continue
            if cont:
                buf = kept + " "
                if i >= len(physical):
                    kept, cont = kept, False
                else:
                    continue
            break
        if not kept.strip():
            continue
        try:
            tokens = shlex.split(kept, comments=False, posix=True)
        except ValueError as exc:
            raise ScriptSyntaxError(f"{source}:{start}", f"cannot split the line: {exc}") from None
        if tokens:
            yield Line(source, start, kept.strip(), tokens)


def parse(source: str, text: str, known_commands: Sequence[str]) -> list[Node]:
    """The whole script as a tree of lines and repeat blocks, checked before anything runs."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Repeat | None]] = [(root, None)]
    known = set(known_commands)
    for line in logical_lines(source, text):
        head = line.tokens[0]
        scope_vars = {r.var for _, r in stack if r is not None}
        for tok in line.tokens:
            for name in VAR.findall(tok):
                if name not in scope_vars:
                    hint = f" (in scope: {', '.join('${' + v + '}' for v in sorted(scope_vars))})" if scope_vars \
                        else " (variables exist only inside a repeat block)"
                    raise ScriptSyntaxError(line.where, f"unknown variable ${{{name}}}{hint}")
        if head == "repeat":
            stack[-1][0].append(rep := _parse_repeat(line, scope_vars))
            if len(stack) > MAX_NESTING:
                raise ScriptSyntaxError(line.where, f"repeat blocks nest more than {MAX_NESTING} deep")
            times = rep.count
            for _, outer in stack:
                times *= outer.count if outer is not None else 1
            if times > MAX_REPEAT:
                raise ScriptSyntaxError(line.where, f"with the repeats around it, this block's lines would run"
                                                    f" {times:,} times; at most {MAX_REPEAT:,}")
            stack.append((rep.body, rep))
            continue
        if head == "end":
            if len(line.tokens) != 1:
                raise ScriptSyntaxError(line.where, "`end` takes nothing after it")
            if len(stack) == 1:
                raise ScriptSyntaxError(line.where, "`end` without a `repeat`")
            stack.pop()
            continue
        check_line(line, known)
        stack[-1][0].append(line)
    if len(stack) > 1:
        rep = stack[-1][1]
        assert rep is not None
        raise ScriptSyntaxError(f"{rep.source}:{rep.lineno}", "this `repeat` has no `end`")
    return root


def _parse_repeat(line: Line, scope_vars: set[str]) -> Repeat:
    toks = line.tokens[1:]
    usage = "use `repeat N` or `repeat N as VAR`, then the lines to repeat, then `end`"
    if len(toks) not in (1, 3) or (len(toks) == 3 and toks[1] != "as"):
        raise ScriptSyntaxError(line.where, usage)
    from .expectations import number

    try:
        count = number(toks[0], "repeat count")
    except BadInput as exc:
        raise ScriptSyntaxError(line.where, f"{exc}; {usage}") from None
    if count > MAX_REPEAT:
        raise ScriptSyntaxError(line.where, f"repeat count {count} is above {MAX_REPEAT:,}")
    var = toks[2] if len(toks) == 3 else "i"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
        raise ScriptSyntaxError(line.where, f"{var!r} is not a variable name (letters, digits, _)")
    if var in scope_vars:
        raise ScriptSyntaxError(line.where, f"${{{var}}} is already the variable of an enclosing repeat; use `as NAME`")
    return Repeat(line.source, line.lineno, count, var)


def check_line(line: Line, known: set[str]) -> None:
    """Refuse, before anything runs, what can be refused without running: unknown words,
    malformed directives."""
    head = line.tokens[0]
    if head in ("say", "help"):
        return
    if head in SESSION:
        args = line.tokens[1:]
        if head in ("exit", "quit") and (len(args) > 1 or args and not args[0].isdigit()):
            raise ScriptSyntaxError(line.where, f"use `{head}` or `{head} N` (N: the exit status, a whole number)")
        if head == "clear" and args:
            raise ScriptSyntaxError(line.where, "`clear` takes nothing after it")
        if head == "domain" and len(args) > 1:
            raise ScriptSyntaxError(line.where, "use `domain FILE_OR_MODULE` (a .py file, shop, or a module)")
        return
    if head in ("expect", "redeliver"):
        from .expectations import parse_directive

        try:
            parse_directive(line.tokens, known)
        except BadInput as exc:
            raise ScriptSyntaxError(line.where, str(exc)) from None
        return
    if head.startswith("-"):
        raise ScriptSyntaxError(
            line.where,
            f"{head!r}: global options go before the script, as in `evsh {head} ... run FILE`, not on a line",
        )
    if head not in known:
        raise ScriptSyntaxError(line.where, unknown_word(head, known))
    if head in NOT_IN_SCRIPTS:
        raise ScriptSyntaxError(line.where, f"`{head}`: {NOT_IN_SCRIPTS[head]}")


def substitute(tokens: Sequence[str], env: dict[str, str]) -> list[str]:
    return [VAR.sub(lambda m: env[m.group(1)], t) if "${" in t else t for t in tokens]
