"""Run a command against an aggregate from a form built from the command's signature."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...domain import types as T
from ...engine.engine import CommandOutcome
from ...errors import CommandRejected, EvshError
from ...sanitise import SAFE_INPUT, rich_text, safe
from ..data import Browser


class CommandScreen(ModalScreen[CommandOutcome | None]):
    """Pick a command, fill in its parameters (typed from its hints), run it; a "no" shows why."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("ctrl+s", "run", "Run"),
    ]

    def __init__(self, browser: Browser, stream_id: str) -> None:
        super().__init__()
        self.browser = browser
        self.stream_id = stream_id
        self.specs = browser.commands(stream_id)
        self.outcome: CommandOutcome | None = None
        self.built = ""  # the command whose form is shown
        self.result = ""  # the last outcome as plain text: "ok: ...", "rejected: ...", "error: ..."

    def compose(self) -> ComposeResult:
        cls = self.browser.aggregate_for(self.stream_id)
        with Vertical(id="dialog", classes="dialog wide"):
            title = Text("Run a command on ", style="bold")
            title.append(safe(self.stream_id), style="bold green")
            title.append(f"  ({cls.__name__ if cls else '?'})", style="dim")
            yield Static(title, classes="dialog-title")
            # an aggregate with events is not created again: nothing is chosen for the user then
            first = next(iter(self.specs), None) if self.browser.version(self.stream_id) == 0 else None
            yield Select([(s.cli_name, name) for name, s in self.specs.items()], id="command",
                         prompt="choose a command", allow_blank=True,
                         value=first if first is not None else Select.NULL)
            yield Static(id="command-doc", classes="doc")
            with VerticalScroll(id="params", can_focus=False):  # every command's form, made once: choosing one only shows it
                for name, spec in self.specs.items():
                    form = Vertical(*self.fields(spec), id=f"form-{name}", classes="form")
                    form.display = False
                    yield form
            yield Static(id="command-result")
            with Horizontal(classes="buttons"):
                yield Button("Run", id="run", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.build_form()
        self.query_one("#command", Select).focus()

    @on(Select.Changed, "#command")
    def command_changed(self) -> None:
        self.build_form()

    @property
    def command(self) -> str | None:
        """The chosen command (None: none chosen yet)."""
        value = self.query_one("#command", Select).value
        return value if isinstance(value, str) else None

    @staticmethod
    def fields(spec) -> list:
        """A command's labelled inputs, typed from its hints (made once, when the form opens)."""
        widgets: list = []
        for p in spec.params:
            label = Text(p.name, style="bold")
            label.append(f"  {T.describe(p.hint)}", style="cyan")
            label.append("  required" if p.required else f"  default {p.default!r}", style="dim")
            widgets.append(Label(rich_text(label)))
            widgets.append(Input(id=f"param-{p.name}", placeholder=safe(placeholder(p.hint, p.default)),
                                 classes="param", restrict=SAFE_INPUT))
        if not widgets:
            widgets.append(Label(Text("this command takes no parameters", style="dim")))
        return widgets

    def build_form(self) -> None:
        """Show the chosen command's form, at once (no mounting): a `tab` pressed right after
        choosing reaches its first field, and what is typed there stays."""
        name = self.command
        if name == self.built and self.built:
            return
        for form in self.query(".form"):
            form.display = form.id == f"form-{name}"
        doc = (rich_text(self.specs[name].doc or "", style="dim", lines=True) if name is not None
               else Text("choose a command above (enter opens the list, tab then goes to its fields)", style="dim"))
        self.query_one("#command-doc", Static).update(doc)
        self.query_one("#command-result", Static).update("")
        self.built = name or ""

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.command is None:
            return out
        form = self.query_one(f"#form-{self.command}")
        for p in self.specs[self.command].params:
            text = form.query_one(f"#param-{p.name}", Input).value
            if text != "" or p.required and p.hint is str:
                out[p.name] = text
        return out

    @on(Input.Submitted, ".param")
    @on(Button.Pressed, "#run")
    def action_run(self) -> None:
        if self.command is None:
            self.query_one("#command-result", Static).update(Text("choose a command first", style="yellow"))
            self.result = "choose a command first"
            return
        self.query_one("#command-result", Static).update(Text("running…", style="dim"))
        self.result = "running"
        self.run_command(self.command, self.values())

    @work(thread=True, exclusive=True, group="command", exit_on_error=False)
    def run_command(self, command: str, values: dict[str, str]) -> None:
        try:
            outcome = self.browser.execute(self.stream_id, command, values)
        except CommandRejected as exc:
            self.app.call_from_thread(self.show, "rejected", exc.reason, None)
        except EvshError as exc:
            self.app.call_from_thread(self.show, "error", str(exc), None)
        else:
            self.app.call_from_thread(self.show, "ok", "", outcome)

    def show(self, kind: str, message: str, outcome: CommandOutcome | None) -> None:
        box = self.query_one("#command-result", Static)
        if kind == "ok" and outcome is not None:
            self.outcome = outcome
            t = Text("ok: ", style="bold green")
            if outcome.events:
                t.append(", ".join(e.type for e in outcome.events))
                t.append(f"  → {self.stream_id} is at version {outcome.version}", style="dim")
            else:
                t.append("no events (nothing to do)", style="dim")
            box.update(rich_text(t))
            self.result = t.plain
            self.app.notify(t.plain, title="command")
        else:
            t = Text(f"{kind}: ", style="bold red")
            t.append(message)
            box.update(rich_text(t, lines=True))
            self.result = t.plain

    @on(Button.Pressed, "#close")
    def action_cancel(self) -> None:
        self.dismiss(self.outcome)


def placeholder(hint: object, default: object) -> str:
    name = T.describe(hint)
    if default is not None:
        return str(default)
    if "list" in name or "tuple" in name or "dict" in name or name[:1].isupper():
        return f"JSON, e.g. {example(hint)}"
    return name


def example(hint: object) -> str:
    import dataclasses
    import typing

    args = typing.get_args(hint)
    inner = args[0] if args else None
    if inner is not None and dataclasses.is_dataclass(inner):
        fields = ", ".join(f'"{f.name}": …' for f in dataclasses.fields(inner))
        return f"[{{{fields}}}]"
    return "[…]"
