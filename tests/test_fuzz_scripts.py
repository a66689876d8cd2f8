"""Random `.evsh` scripts: `evsh run FILE` answers each with a documented exit code and one
`FILE:LINE:` line, never a traceback, and a failing line writes nothing.

Lines are drawn from the words scripts know (every command, say, expect, redeliver, repeat,
end, help, run) with arguments that mean something in the seeded shop store or are hostile
(control and bidi characters, markup, huge numbers, unbalanced quotes, variables, NUL). A
script runs its lines one by one, so when it fails at line N, the store must hold exactly what
the lines before N wrote: the same script cut before line N is run on a fresh copy (with the
same fixed clock and seeded ids) and both stores must hold the same events and rows.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_support import (
    JSON_JUNK,
    NAMES,
    NUMBERS,
    TEXTS,
    changed,
    check,
    copy_of,
    digest,
    examples,
    make_template,
    run_evsh,
)

RUN = ["--domain", "shop", "--clock", "fixed:2026-01-01T00:00:00Z,1ms", "--ids", "seed:fuzz"]
COMMAND_LINES = [
    "exec inventory p1 add-stock --quantity 2", "exec inventory p2 add-stock --quantity {n}",
    "exec order o{i} create --customer-id u1 --items '{items}'", "exec order o1 confirm", "exec order o1 cancel --reason {w}",
    "exec user u{i} register --email {w}@b.c --username {w}", "exec payment o1 refund", "exec inventory {w} reserve --order-id o1 --quantity {n}",
    "append a-1 Noted '{{\"n\": {n}}}'", "append {w} {w} {j}", "append a-1 Noted --expected-version {n}",
    "read a-1", "read {w} --from-version {n}", "log --limit {n}", "log --type {w}", "state order o1", "state inventory {w}",
    "streams", "streams meta a-1 --max-count {n}", "streams truncate a-1 --before {n}", "streams delete {w}",
    "projections run", "projections rebuild {w}", "projections reset inventory_levels", "projections skip {w} --position {n}",
    "reactors run", "reactors skip {w}", "step", "dlq list", "dlq show {n}", "dlq retry {n}", "dlq discard --all",
    "snapshot inventory p1", "snapshots inventory", "upcast --check", "scavenge --no-vacuum", "trace {w}",
    "sql \"{sql}\"", "sql \"{endless}\" --timeout {limit}", "stats", "forget {w} --yes", "import export.jsonl", "export -o {w}", "keys", "init",
    "seed --orders {n}", "backup {w}", "tui", "shell", "demo", "verify",
]
DIRECTIVES = [
    "say {w}", "help", "help {w}", "expect state inventory p1 on_hand={n}", "expect state order o1 status~'{w}'",
    "expect stream a-1 Noted", "expect stream {w} count={n}", "expect query \"{sql}\" = {j}", "expect rejected {cmd}",
    "expect error --match '{w}' {cmd}", "expect exit {n} {cmd}", "expect ok {cmd}", "expect {w}",
    "redeliver reactor order_workflow {n}", "redeliver projection {w} {n}", "redeliver {w}",
    "run s.evsh", "run {w}", "repeat {n}", "repeat {n} as v", "end", "say ${{v}}", "say ${{nope}}",
]
SQL = ["select 1", "select count(*) from events", "delete from events", "select * from subject_keys", "select '{w}'"]
ENDLESS = "with recursive r(x) as (select 1 union all select x+1 from r) select count(*) from r"  # stopped by --timeout


def words() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(TEXTS),
                     st.sampled_from(NUMBERS), st.sampled_from(["'", '"', "\\", "#", "${i}", "\x00", "a b"]),
                     st.text(max_size=8))


@st.composite
def script_line(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:  # junk
        return draw(st.one_of(st.text(max_size=40), st.sampled_from(TEXTS)))
    template = draw(st.sampled_from(COMMAND_LINES if kind < 6 else DIRECTIVES))
    fill = {
        "w": draw(words()), "n": draw(st.one_of(st.integers(-2, 6).map(str), st.sampled_from(NUMBERS))),
        "i": draw(st.integers(1, 4)), "j": draw(st.sampled_from(JSON_JUNK + ['{"n": 1}'])),
        "items": draw(st.sampled_from(JSON_JUNK)).replace("'", ""),
        "cmd": draw(st.sampled_from(COMMAND_LINES)).replace("{", "").replace("}", ""),
    }
    fill["sql"] = draw(st.sampled_from(SQL)).format(w=fill["w"].replace('"', ""))
    fill["endless"] = ENDLESS
    # never 0, which means no limit: such a query runs inside SQLite, where no alarm can stop it
    fill["limit"] = draw(st.sampled_from(["0.2", "0.5", "-1", "nan", "inf", "1e308", "x", "''"]))
    line = template.format(**fill)
    # a line is one line: a newline or a line separator drawn into it would make two
    return re.sub(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", " ", line)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    return make_template(str(tmp_path_factory.mktemp("fuzz-scripts")))


def failing_line(stderr: str) -> int | None:
    """N of the `s.evsh:N:` a failure names, if it names one."""
    m = re.search(r"(?:^|\n)s\.evsh:(\d+):", stderr)
    return int(m.group(1)) if m else None


@examples(3.0)
@given(st.lists(script_line(), min_size=1, max_size=8), st.booleans())
def test_any_script_gets_a_documented_answer_and_a_failing_line_writes_nothing(template, lines, keep_going):
    text = "\n".join(lines) + "\n"
    with copy_of(template) as folder:
        db = os.path.join(folder, "evsh.db")
        with open(os.path.join(folder, "s.evsh"), "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write(text)
        before = digest(db)
        run = run_evsh(folder, [*RUN, "run", *(["--keep-going"] if keep_going else []), "s.evsh"])
        after = digest(db)
        check(run, before, after if run.exit_code == 0 else before)  # a failed script wrote its earlier lines
        if run.exit_code == 0 or keep_going:
            return
        assert "Traceback" not in run.stderr
        n = failing_line(run.stderr)
        if n is None:  # the file as a whole (not UTF-8, too large): refused before any line ran
            assert run.stderr.startswith("evsh: ") and len(run.stderr.strip().splitlines()) == 1, run.stderr
            assert not changed(before, after, run.exit_code), run.stderr
            return
        if "expectation failed:" in run.stderr and lines[n - 1].split()[1:2] != ["state"]:
            return  # `expect rejected CMD` runs CMD for real: when it succeeds, it wrote, as it would anywhere
        if any(line.split()[:1] in (["repeat"], ["end"]) for line in lines):
            return  # a line in a loop fails at some turn: no prefix of lines ran just before it
        if not changed(before, after, run.exit_code):  # refused before anything ran, or at the first line that writes
            return
        tables = changed(after_cut(template, lines[: n - 1]), digest(db, exact=False), run.exit_code)
        assert not tables, (f"the store holds more (or less) than the lines before line {n} wrote ({', '.join(tables)}):"
                            f"\n{text}\n{run.stderr}")


def after_cut(template: str, lines: list[str]) -> dict[str, str]:
    """What the store holds after a script of these lines (those before a failing one)."""
    with copy_of(template) as folder:
        with open(os.path.join(folder, "s.evsh"), "w", encoding="utf-8", errors="surrogatepass") as fh:
            fh.write("".join(line + "\n" for line in lines) or "say nothing\n")
        run_evsh(folder, [*RUN, "run", "s.evsh"])
        return digest(os.path.join(folder, "evsh.db"), exact=False)
