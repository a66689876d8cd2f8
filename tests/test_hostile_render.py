"""User data is data in every renderer.

A store whose every user-text field (stream and aggregate ids, payload strings, metadata, a
rejection's reason, dead-letter errors, rows of projections and reactor tables, subjects) holds
Rich markup, escape sequences (OSC 0 window titles, OSC 8 links, screen clears), the C1 control
U+009B and bidi overrides is shown through every listing and show command on a forced terminal,
as JSON, through a script, and in the TUI (pilot, notifications included). Only the escapes Rich
and Textual send themselves (colours, cursor moves) reach the output; markup shows as literal
text; nothing raises.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.tui_support import run, wait_for

OSC_TITLE = "\x1b]0;title\x07"
CLEAR = "\x1b[2J"
OSC_LINK = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
MARKUP = ("[link=http://x]y[/link]", "[/oops]", "[red]p[/red]")
HOSTILE = f"{' '.join(MARKUP)} {OSC_TITLE} {CLEAR} {OSC_LINK} \x9b31m \u202egnp.exe \u2066iso\u2069 \u200fx"

# the ids are what check_name allows: markup, but no control or bidi character
NOTE = "[/oops]"
LINK_NOTE = "[link=http://evil.example]x[/link]"
RED_NOTE = "[red]p[/red]"
LEGACY = "legacy-a\u202eb\x1b[2J"  # a stream id from past the checks (an older evsh accepted U+202E)

SGR = re.compile(r"\x1b\[[0-9;]*m")
# what Rich itself sends: colours, and for progress bars cursor hiding, line erasing and moving up
RICH_CONTROLS = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\r?\x1b\[2K|\x1b\[[0-9]*A")
# what must never reach a terminal raw: C0 but tab and newline, DEL, C1, bidi controls, separators
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

DOMAIN = textwrap.dedent('''
    from evsh import Aggregate, Projection, Rejected, applies, command, event, reactor, table

    @event
    class NoteAdded:
        text: str
        tags: list[str]

    @event(personal=("email",), subject="user_id")
    class UserRegistered:
        user_id: str
        email: str

    class Note(Aggregate):
        text: str = ""
        tags: list = []

        @command
        def add(self, text: str, tags: list[str]):
            yield NoteAdded(text, tags)

        @command
        def refuse(self, reason: str):
            raise Rejected(reason)

        @applies
        def _added(self, e: NoteAdded) -> None:
            self.text, self.tags = e.text, e.tags

    class User(Aggregate):
        email: str = ""

        @command
        def register(self, email: str):
            yield UserRegistered(self.id, email)

        @applies
        def _registered(self, e: UserRegistered) -> None:
            self.email = e.email

    notes = Projection("notes", version=1, tables=[table("notes", {"stream_id": str, "text": str}, pk="stream_id")])

    @notes.on(NoteAdded)
    def _note(event, rows):
        rows.table("notes").upsert({"stream_id": event.stream_id, "text": event.data["text"]})

    @reactor("echo", on=["NoteAdded"], tables=[table("echoes", {"event_id": str, "text": str}, pk="event_id")])
    def echo(event, ctx):
        ctx.table("echoes").insert({"event_id": event.event_id, "text": event.text}, ignore=True)

    @reactor("breaker", on=["NoteAdded"], attempts=1, backoff=0)
    def breaker(event, ctx):
        raise RuntimeError(event.text)
''')


@dataclass
class Out:
    code: int
    stdout: str
    stderr: str


@dataclass
class Hostile:
    db: str
    domain: str
    made: list[Out] | None = None  # what the commands that wrote the store printed

    def __call__(self, *args: str, db: str | None = None, input: str | None = None, columns: int = 100) -> Out:
        from evsh.cli.main import cli

        env = {"COLUMNS": str(columns), "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "NO_COLOR": None,
               "EVSH_DB": None, "EVSH_MODE": None, "EVSH_DOMAIN": None}
        r = CliRunner().invoke(cli, ["--db", db or self.db, "--domain", self.domain, *args], input=input, env=env,
                               catch_exceptions=False)
        return Out(r.exit_code, r.stdout, r.stderr)


def assert_clean(text: str, where: str) -> None:
    """No escape but Rich's own (colours, progress bars), no C1 control, no bidi control in ``text``."""
    rest = RICH_CONTROLS.sub("", text)
    bad = RAW.search(rest)
    assert bad is None, f"{where}: raw {bad.group()!r} in {rest[max(0, bad.start() - 60):bad.start() + 20]!r}"


def plain(text: str) -> str:
    return SGR.sub("", text)


def legacy_stream(db: str) -> None:
    """Write a stream id and type with a bidi override and an escape, past today's checks."""
    import evsh.store.batches as batches
    from evsh import NewEvent, open_store

    checked = batches.check_stream_id, batches.check_name
    batches.check_stream_id = batches.check_name = lambda value, *a, **k: value  # type: ignore[assignment]
    try:
        with open_store(db) as store:
            store.append(LEGACY, [NewEvent("Legacy\u202eType", {"x": HOSTILE}, {"m": HOSTILE})])
    finally:
        batches.check_stream_id, batches.check_name = checked


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Hostile:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile_domain.py").write_text(DOMAIN)
    h = Hostile(str(folder / "h.db"), str(folder / "hostile_domain.py"))
    made = [
        h("exec", "note", NOTE, "add", "--text", HOSTILE, "--tags", json.dumps([HOSTILE]), "--actor", HOSTILE,
          "--correlation-id", HOSTILE),
        h("exec", "note", LINK_NOTE, "add", "--text", HOSTILE, "--tags", "[]"),
        h("exec", "user", RED_NOTE, "register", "--email", HOSTILE),
        h("append", f"raw-{RED_NOTE}", "RawNote", json.dumps({"x": HOSTILE, "n": [HOSTILE]}),
          "--metadata", json.dumps({"m": HOSTILE})),
        h("projections", "run"),
        h("snapshot", "note", NOTE),
    ]
    for out in made:
        assert out.code == 0, out.stderr
    h.made = made
    legacy_stream(h.db)
    return h


def test_the_commands_that_wrote_it_showed_it_safely(hostile):
    for out in hostile.made:
        assert_clean(out.stdout, "writing the store")
        assert_clean(out.stderr, "writing the store")
    tree = plain(hostile.made[0].stdout)  # exec: the new event and what the reactors did
    assert "breaker" in tree and "RuntimeError: [link=http://x]y[/link] [/oops] [red]p[/red] \\x1b]0;title" in tree


LISTINGS = [
    ("read", f"note-{NOTE}"),
    ("read", "$all"),
    ("read", f"raw-{RED_NOTE}"),
    ("log",),
    ("log", "--category", "legacy"),
    ("streams",),
    ("streams", "meta", f"note-{NOTE}"),
    ("streams", "meta", f"note-{LINK_NOTE}"),
    ("state", "note", NOTE),
    ("state", "note", LINK_NOTE, "--at-version", "1"),
    ("state", "user", RED_NOTE),
    ("sql", "select * from notes"),
    ("sql", "select * from echoes"),
    ("sql", "select text as \"[red]col[/red]\" from notes"),
    ("sql", "select * from notes", "--csv"),
    ("stats",),
    ("stats", "--prometheus"),
    ("reactors",),
    ("dlq", "list"),
    ("dlq", "show", "1"),
    ("projections",),
    ("snapshots",),
    ("keys",),
    ("trace", f"note-{NOTE}"),
    ("trace", f"note-{LINK_NOTE}"),
    ("upcast", "--check"),
]


def test_the_terminal_is_forced(hostile):
    """Guards the tests below: Rich draws for a terminal (colours) although CliRunner captures."""
    assert re.search(r"\x1b\[[0-9;]*3[0-9]m", hostile("read", f"note-{NOTE}").stdout)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", LISTINGS, ids=lambda a: " ".join(a)[:40])
def test_listings_on_a_terminal_show_only_escapes(hostile, args, columns):
    out = hostile(*args, columns=columns)
    assert out.code == 0, out.stderr
    assert_clean(out.stdout, " ".join(args))
    assert_clean(out.stderr, " ".join(args))


@pytest.mark.parametrize(
    "args, title, literal",
    [
        (("state", "note", NOTE), f"note-{NOTE}", [*MARKUP, "\\x1b]0;title\\x07", "\\x9b31m", "\\u202egnp.exe"]),
        (("state", "note", LINK_NOTE, "--at-version", "1"), f"note-{LINK_NOTE} at version 1", MARKUP),
        (("streams", "meta", f"note-{LINK_NOTE}"), f"note-{LINK_NOTE}", []),
        (("dlq", "show", "1"), "dead letter 1", MARKUP),
        (("trace", f"note-{NOTE}"), f"correlation {MARKUP[0]}", [f"add note-{NOTE}"]),
        (("streams",), None, [f"note-{NOTE}", f"note-{LINK_NOTE}", "legacy-a\\u202eb\\x1b[2J"]),
        (("sql", 'select text as "[red]col[/red]" from notes'), None, ["[red]col[/red]", MARKUP[0]]),
        (("dlq", "list"), None, MARKUP[:2]),
    ],
    ids=["state", "state-at-version", "streams-meta", "dlq-show", "trace", "streams", "sql", "dlq-list"],
)
def test_markup_in_stored_data_is_shown_literally(hostile, args, title, literal):
    # wide enough for a dead letter's error to show whole after the temp folder's long path (a
    # listing cuts its last column to the line with "…")
    out = hostile(*args, columns=400)
    assert out.code == 0, out.stderr
    shown = plain(out.stdout)
    assert "\x1b]8;" not in out.stdout  # no link made of a [link=...] in the data
    if title is not None:  # titles (ids the user chose) were read as markup before
        assert shown.strip().splitlines()[0].strip().startswith(title), shown
    for text in literal:
        assert text in shown, (text, shown)


@pytest.mark.parametrize(
    "args, holds",
    [(("read", f"note-{NOTE}", "--json"), HOSTILE), (("read", "$all", "--nl"), LEGACY), (("log", "--json"), HOSTILE),
     (("state", "note", NOTE, "--json"), HOSTILE), (("sql", "select * from notes", "--json"), HOSTILE),
     (("dlq", "list", "--json"), HOSTILE), (("reactors", "--json"), HOSTILE), (("streams", "--json"), LEGACY),
     (("streams", "--nl"), LEGACY), (("trace", f"note-{NOTE}", "--json"), HOSTILE), (("stats", "--json"), None),
     (("export",), HOSTILE)],
    ids=lambda a: " ".join(a)[:30] if isinstance(a, tuple) else "",
)
def test_json_output_escapes_controls_and_decodes_to_the_same_strings(hostile, args, holds):
    out = hostile(*args)
    assert out.code == 0, out.stderr
    bad = RAW.search(out.stdout)
    assert bad is None, bad
    lines = args[-1] == "--nl" or args[0] == "export"
    docs = [json.loads(line) for line in out.stdout.splitlines()] if lines else [json.loads(out.stdout)]
    if holds is not None:
        assert any(holds in s for s in _strings(docs))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in [*value.keys(), *value.values()] for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_export_round_trips_through_import_exactly(hostile, tmp_path):
    exported = hostile("export")
    assert exported.code == 0
    assert "\\u009b" in exported.stdout and "\\u202e" in exported.stdout and "\x9b" not in exported.stdout
    copy = str(tmp_path / "copy.db")
    refused = hostile("import", "-", db=copy, input=exported.stdout)  # the older evsh's stream id
    assert refused.code == 2 and "U+202E (RIGHT-TO-LEFT OVERRIDE)" in refused.stderr
    legacy_free = "\n".join(line for line in exported.stdout.splitlines() if '"legacy-' not in line) + "\n"
    imported = hostile("import", "-", db=copy, input=legacy_free)
    assert imported.code == 0, imported.stderr
    again = hostile("export", db=copy)
    assert again.stdout == legacy_free
    assert [e["data"] for e in map(json.loads, again.stdout.splitlines())][0]["text"] == HOSTILE


@pytest.mark.parametrize(
    "args, code, words",
    [
        (("exec", "note", RED_NOTE, "refuse", "--reason", HOSTILE), 1, ["rejected:", *MARKUP, "\\x1b]0;title"]),
        (("read", "note-a\u202eb"), 2, ["U+202E (RIGHT-TO-LEFT OVERRIDE)", "'note-a\\u202eb'"]),
        (("append", "note-\u2066x", "T"), 2, ["U+2066 (LEFT-TO-RIGHT ISOLATE)"]),
        (("append", "note-1", "Ty\u200fpe"), 2, ["event type", "U+200F (RIGHT-TO-LEFT MARK)"]),
        (("append", "note-1", "T\u009b"), 2, ["U+009B", "control"]),
        (("exec", "note", "a\u061cb", "add", "--text", "x", "--tags", "[]"), 2, ["aggregate id", "U+061C"]),
        (("exec", "note", "a\u2028b", "add", "--text", "x", "--tags", "[]"), 2, ["U+2028 (LINE SEPARATOR)"]),
        (("exec", "note", "a\udcffb", "add", "--text", "x", "--tags", "[]"), 2, ["U+DCFF", "surrogate"]),
        (("dlq", "retry", "1"), 1, ["failed again", *MARKUP]),
    ],
    ids=["rejected", "read-bidi", "append-isolate", "type-rlm", "type-c1", "exec-alm", "exec-line-sep",
         "exec-surrogate", "dlq-retry"],
)
def test_errors_are_one_clean_line_naming_the_character(hostile, args, code, words):
    head = json.loads(hostile("log", "--json").stdout)[-1]["position"]
    out = hostile(*args)
    assert out.code == code, out.stderr
    assert_clean(out.stderr, " ".join(args))
    err = plain(out.stderr)
    for word in words:
        assert word in err, (word, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert json.loads(hostile("log", "--json").stdout)[-1]["position"] == head  # nothing written


def test_a_script_shows_hostile_text_and_failures_safely(hostile, tmp_path):
    script = tmp_path / "h.evsh"
    script.write_text(f"say {MARKUP[2]} {OSC_TITLE} \x9b \u202e end\nstate note {NOTE}\n"
                      f"expect state note {NOTE} text=nothing\n", encoding="utf-8")
    out = hostile("run", "--echo", str(script))
    assert out.code == 1
    assert_clean(out.stdout, "run stdout")
    assert_clean(out.stderr, "run stderr")
    assert MARKUP[2] in plain(out.stdout) and "\\x1b]0;title\\x07 \\x9b \\u202e end" in plain(out.stdout)
    assert "[link=http://x]y[/link]" in plain(out.stderr)  # what the expectation found


def test_shell_prompt_and_completions_are_safe(hostile):
    from prompt_toolkit.document import Document

    from evsh.cli.context import AppContext
    from evsh.shell.repl import EvshCompleter, prompt_text

    app = AppContext(db=hostile.db.replace("h.db", "a\x1b]0;t\x07.db"), domain_spec=hostile.domain, sync="normal",
                     busy_timeout=5.0, debug=False, config={})
    assert "\\x1b]0;t\\x07" in prompt_text(app) and "\x1b" not in prompt_text(app)
    app = AppContext(db=hostile.db, domain_spec=hostile.domain, sync="normal", busy_timeout=5.0, debug=False, config={})
    try:
        shown = [c.display_text for c in EvshCompleter(app, evsh_group()).get_completions(Document("read leg"), None)]
    finally:
        app.close()
    assert shown == ["legacy-a\\u202eb\\x1b[2J"]


# ----------------------------------------------------------------------------- the TUI

def open_tui(hostile: Hostile, db: str | None = None):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.app import EvshApp

    engine = build_engine(open_store(db or hostile.db, create=False), load_domain(hostile.domain))
    app = EvshApp(engine, poll_interval=0.05)
    app.ops_refresh = 0.05
    return app


def screen_output(app) -> str:
    """What the terminal would be sent for the whole screen (toasts included)."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def assert_screen_clean(app, where: str) -> None:
    """Only colours and cursor moves in what the screen sends to the terminal."""
    assert_clean(re.sub(r"\x1b\[\d+;\d+H|\x1b\[\?[0-9;]*[a-zA-Z]", "", screen_output(app)), where)


def test_tui_notifications_are_plain_text(hostile, tmp_path):
    """A notification naming `[/oops]` raised MarkupError (the TUI died after committing)."""
    empty = str(tmp_path / "empty.db")
    assert hostile("init", db=empty).code == 0
    app = open_tui(hostile, empty)

    async def scenario():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            app.notify(f"retried {MARKUP[1]} {MARKUP[2]} {OSC_TITLE} \x9b \u202e", title=f"{MARKUP[1]} \x1b[2J")
            await wait_for(pilot, lambda: "retried [/oops] [red]p[/red] \\x1b]0;title\\x07"
                           in app.export_screenshot().replace("&#160;", " "), "the notification")
            assert_screen_clean(app, "a notification")

    try:
        run(scenario())
    finally:
        app.engine.store.close()


def test_the_tui_shows_hostile_data_safely_and_survives_markup_in_notifications(hostile, tmp_path, monkeypatch):
    from textual.events import Paste

    from evsh.tui.app import EvshApp
    from evsh.tui.data import Source

    copy = str(tmp_path / "tui.db")  # the TUI retries a dead letter and runs a command: on a copy
    assert hostile("backup", copy).code == 0
    app = open_tui(hostile, copy)
    notes: list[str] = []
    original = EvshApp.notify

    def spy(self, message, **kw):
        notes.append(message)
        original(self, message, **kw)

    monkeypatch.setattr(EvshApp, "notify", spy)

    async def scenario():
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: app.events.total and app.events.current is not None, "the log")
            tree = app.query_one("#categories")
            await wait_for(pilot, lambda: len(tree.root.children) == 5, "the categories")
            await wait_for(pilot, lambda: app.streams.total == 5 and app.streams.loaded(4), "the streams")
            assert_screen_clean(app, "main screen")
            detail = app.query_one("#detail")
            for row in range(app.events.total):  # every event in the detail panel
                app.events.move_to(row)
                await wait_for(pilot, lambda: app.events.current and detail.rec is app.events.current.view, "its detail")
                assert_screen_clean(app, f"event {row}")
            await pilot.press("home")
            await wait_for(pilot, lambda: app.events.current and app.events.current.view.stream_id == f"note-{NOTE}",
                           "the first note")
            state = app.query_one("#state")
            await wait_for(pilot, lambda: state.shown is not None, "its state")
            assert_screen_clean(app, "state view")
            await pilot.press("o")  # the event screen: payload, metadata, causal links
            await wait_for(pilot, lambda: app.screen.query("#event-full"), "the event screen")
            await pilot.pause()
            assert_screen_clean(app, "event screen")
            svg = app.export_screenshot().replace("&#160;", " ")
            assert "[link=http://x]y[/link]" in svg and "\\u009b31m" in svg
            await pilot.press("escape")
            await pilot.press("r")  # reactors and dead letters; retry one: it fails again with the text
            await wait_for(pilot, lambda: getattr(app.screen, "parked", None), "the dead letters")
            assert_screen_clean(app, "reactors screen")
            app.screen.query_one("#dead-letters").focus()
            await pilot.press("y")
            await wait_for(pilot, lambda: any("failed again" in n for n in notes), "the retry's notification")
            await pilot.pause()
            assert_screen_clean(app, "dead letter notification")
            await pilot.press("escape")
            await pilot.press("p")  # projections
            await wait_for(pilot, lambda: getattr(app.screen, "data", None), "the projections")
            assert_screen_clean(app, "projections screen")
            await pilot.press("escape")
            app.load_source(Source(f"note-{NOTE}"))
            await wait_for(pilot, lambda: app.events.source.stream_id == f"note-{NOTE}" and app.events.current,
                           "the note's stream")
            await pilot.press("x")  # a command on stream note-[/oops]: its notification names the stream
            await wait_for(pilot, lambda: app.screen.query("#command"), "the command form")
            app.screen.query_one("#command").value = "add"
            await wait_for(pilot, lambda: app.screen.query("#param-tags"), "the form")
            text = app.screen.query_one("#param-text")
            text.post_message(Paste(HOSTILE))  # a paste holding escapes is refused, not drawn
            await pilot.pause()
            assert text.value == ""
            text.post_message(Paste(" ".join(MARKUP)))
            app.screen.query_one("#param-tags").value = json.dumps([RED_NOTE])
            await wait_for(pilot, lambda: text.value == " ".join(MARKUP), "the pasted markup")
            app.screen.action_run()
            await wait_for(pilot, lambda: any(f"note-{NOTE}" in n for n in notes), "the command's notification")
            await pilot.pause()
            assert_screen_clean(app, "command notification")
            assert app.browser.store.stream_version(f"note-{NOTE}") == 2  # it ran, and the TUI lives on

    try:
        run(scenario())
    finally:
        app.engine.store.close()


# ----------------------------------------------------------------------------- the sanitiser itself

def test_progress_descriptions_are_plain_text(monkeypatch, capsys):
    from evsh.cli.render import progress

    monkeypatch.setenv("FORCE_COLOR", "1")
    with progress(2, "") as bar:
        task = bar.add_task(f"rebuilding {MARKUP[1]} {OSC_TITLE}", total=2)
        bar.advance(task, 2)
    err = capsys.readouterr().err
    assert_clean(err, "a progress bar")
    assert "rebuilding [/oops] \\x1b]0;title\\x07" in plain(err)


# any character, surrogates included, and often one of those a terminal would obey
any_text = st.text(st.one_of(st.characters(exclude_categories=()),
                             st.sampled_from("\x00\t\n\r\x1b\x7f\x85\x9b\u061c\u200e\u2028\u202e\u2066\ud800\udcff\\[")),
                   max_size=40)


@given(any_text)
def test_json_safe_output_is_valid_json_of_the_same_text_with_nothing_raw(text):
    from evsh.sanitise import json_safe

    for encoded in (json.dumps({text: [text]}, ensure_ascii=False), json.dumps([text], ensure_ascii=False, indent=2)):
        out = json_safe(encoded)
        assert json.loads(out) == json.loads(encoded)
        assert RAW.search(out) is None and not re.search("[\ud800-\udfff]", out)


UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def shown_as(ch: str, lines: bool) -> str:
    """The spec: kept, or the escape a reader recognises from Python and JSON."""
    if not UNSAFE.match(ch) or (lines and ch in "\t\n"):
        return ch
    if ch in "\t\n\r":
        return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


@given(any_text, st.booleans())
def test_safe_text_escapes_exactly_what_a_terminal_would_obey(text, lines):
    from evsh.sanitise import safe

    out = safe(text, lines=lines)
    assert out == "".join(shown_as(ch, lines) for ch in text)
    assert RAW.search(out) is None


def test_rich_text_keeps_styles_on_the_same_characters():
    from rich.text import Text

    from evsh.sanitise import rich_text

    t = Text("id ")
    t.append("a\x1bb", style="red")
    t.append(" \u202e!", style="bold")
    out = rich_text(t)
    assert out.plain == "id a\\x1bb \\u202e!"
    assert [(out.plain[s.start:s.end], s.style) for s in out.spans] == [("a\\x1bb", "red"), (" \\u202e!", "bold")]
    clean = Text("plain [red]x[/red]")
    assert rich_text(clean) is clean and rich_text("[/oops]").plain == "[/oops]"


def evsh_group():
    """The evsh click group, which the shell is handed (it does not import the CLI)."""
    from evsh.cli.main import cli

    return cli
