"""Projections, reactors with their dead letters, and metrics: screens over the engine's own APIs.

They show what `evsh projections`, `evsh reactors` and `evsh stats` show, refreshed every
second or two in thread workers. A rebuild runs on its own store connection, so browsing stays
responsive while it works; `escape` leaves it running, `s` stops it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Sparkline, Static
from textual.worker import get_current_worker

from ...errors import EvshError
from ...sanitise import rich_text

REFRESH = 1.0
SPARK_MINUTES = 60


def cell(value: Any, style: str = "") -> Text:
    """DataTable reads plain strings as markup: user data goes in as sanitised Text."""
    if value is None:
        return Text("")
    return rich_text(value, style=style, no_wrap=True, overflow="ellipsis")


def ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


class OpsScreen(Screen):
    """A table refreshed in a worker while the screen is shown."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("ctrl+r", "refresh_now", "Refresh"),
    ]

    def __init__(self, app_: Any) -> None:
        super().__init__()
        self.evsh = app_
        self.browser = app_.browser

    def on_mount(self) -> None:
        self.refresh_data()
        self.set_interval(getattr(self.evsh, "ops_refresh", REFRESH), self.refresh_data)

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def action_close(self) -> None:
        self.dismiss()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="ops-load", exit_on_error=False)
    def load(self) -> None:
        try:
            with self.browser.lock:
                data = self.read()
        except EvshError as exc:
            self.app.call_from_thread(self.show_error, str(exc))
            return
        self.app.call_from_thread(self.show, data)

    def read(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError

    def show_error(self, message: str) -> None:
        self.query_one("#ops-status", Static).update(rich_text(message, style="red"))

    def fill(self, table: DataTable, rows: list[tuple[str, list[Text]]]) -> None:
        """Replace the rows, keeping the cursor on the same key when it is still there."""
        keep = None
        if table.row_count:
            try:
                keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # noqa: BLE001 - no cursor row
                keep = None
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if keep is not None:
            try:
                table.move_cursor(row=table.get_row_index(keep))
            except Exception:  # noqa: BLE001 - the row is gone
                pass


# ----------------------------------------------------------------------------- projections

class ProjectionsScreen(OpsScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "rebuild", "Rebuild"),
        Binding("s", "stop", "Stop rebuild"),
        Binding("t", "tables", "Tables"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Projections", style="bold"), classes="title")
            yield DataTable(id="projections", cursor_type="row", zebra_stripes=True)
            yield Static(id="ops-status")
            yield ProgressBar(id="rebuild-progress", total=None, show_eta=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#projections", DataTable)
        table.add_columns("name", "mode", "version", "checkpoint", "lag", "rows", "status", "last error")
        self.query_one("#rebuild-progress").display = False
        self.rebuilding: str | None = None
        self.rebuild_state = ""
        super().on_mount()

    def read(self) -> list[dict[str, Any]]:
        from ...engine import projections

        return projections.status(self.browser.engine)

    def show(self, data: list[dict[str, Any]]) -> None:
        self.data = data
        rows = []
        for p in data:
            err = p.get("error") or {}
            state = "error" if err else ("rebuilding" if p.get("rebuild_in_progress") is not None or p["name"] == self.rebuilding
                                         else ("stale" if p.get("needs_rebuild") else
                                               "not built yet" if p.get("built_version") is None else "ok"))
            skipped = p.get("skipped") or []
            if state == "ok" and skipped:  # it went on past events it could not apply: say so
                state = f"ok, {len(skipped)} skipped"
            style = {"error": "bold red", "rebuilding": "yellow", "stale": "yellow", "not built yet": "dim"}.get(
                state, "yellow" if skipped else "green")
            message = err.get("message", "") if isinstance(err, dict) else str(err)
            if not message and skipped:
                last = skipped[-1]
                message = f"skipped {last['position']} ({last['event_type']}): {last['error'] or 'by hand'}"
            rows.append((p["name"], [
                cell(p["name"], "bold"), cell(p.get("mode")), cell(p.get("version")), cell(p.get("checkpoint")),
                cell(p.get("lag"), "yellow" if p.get("lag") else ""), cell(p.get("rows")), cell(state, style),
                cell(message, "red"),
            ]))
        self.fill(self.query_one("#projections", DataTable), rows)
        if not data:
            self.query_one("#ops-status", Static).update(
                Text("The domain declares no projections (pass --domain).", style="dim"))

    def selected(self) -> str | None:
        table = self.query_one("#projections", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_tables(self) -> None:
        """`t`: the highlighted projection's tables and rows."""
        from .tables import TablesScreen

        name = self.selected()
        tables = next((p.get("tables") or [] for p in getattr(self, "data", []) if p["name"] == name), [])
        self.app.push_screen(TablesScreen(self.evsh, tables[0] if tables else None))

    def action_rebuild(self) -> None:
        name = self.selected()
        if name is None:
            return
        if self.rebuilding:
            self.notify(f"{self.rebuilding} is still rebuilding", severity="warning")
            return
        self.rebuilding = name
        bar = self.query_one("#rebuild-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#ops-status", Static).update(Text(f"rebuilding {name}…", style="yellow"))
        self.rebuild(name)

    def action_stop(self) -> None:
        for w in self.workers:
            if w.group == "rebuild":
                w.cancel()

    @work(thread=True, exclusive=True, group="rebuild", exit_on_error=False)
    def rebuild(self, name: str) -> None:
        from ...engine import projections

        worker = get_current_worker()
        engine = self.evsh.make_engine()
        try:
            result = projections.rebuild(
                engine, name,
                on_progress=lambda pos, head: self.app.call_from_thread(self.progress, pos, head),
                stop=lambda: worker.is_cancelled,
            )
        except EvshError as exc:
            self.app.call_from_thread(self.rebuilt, name, f"failed: {exc}")
            return
        finally:
            engine.store.close()
        if result is None:
            self.app.call_from_thread(self.rebuilt, name, "stopped; the old tables are unchanged")
        else:
            self.app.call_from_thread(
                self.rebuilt, name, f"rebuilt from {result.events:,} events: {result.rows:,} rows in {result.seconds:.1f} s")

    def progress(self, position: int, head: int) -> None:
        self.query_one("#rebuild-progress", ProgressBar).update(total=max(head, 1), progress=position)
        self.query_one("#ops-status", Static).update(
            Text(f"rebuilding {self.rebuilding}: {position:,} / {head:,}", style="yellow"))

    def rebuilt(self, name: str, message: str) -> None:
        self.rebuilding = None
        self.rebuild_state = message
        self.query_one("#rebuild-progress").display = False
        self.query_one("#ops-status", Static).update(rich_text(f"{name}: {message}"))
        self.notify(f"{name}: {message}", title="projection")
        self.refresh_data()


# ----------------------------------------------------------------------------- reactors

class ReactorsScreen(OpsScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "retry", "Retry parked"),
        Binding("d", "discard", "Discard parked"),
        Binding("tab", "focus_next", "Focus", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Reactors", style="bold"), classes="title")
            yield DataTable(id="reactors", cursor_type="row", zebra_stripes=True)
            yield Static(Text("Dead letters (parked events)", style="bold"), classes="title")
            yield DataTable(id="dead-letters", cursor_type="row", zebra_stripes=True)
            yield Static(id="ops-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#reactors", DataTable).add_columns(
            "name", "mode", "checkpoint", "lag", "handled", "parked", "state", "last error")
        self.query_one("#dead-letters", DataTable).add_columns(
            "id", "reactor", "position", "stream", "type", "attempts", "parked at", "error")
        super().on_mount()

    def read(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from ...engine import reactors

        rt = reactors.runtime(self.browser.engine)
        return rt.status(), reactors.dead_letters(self.browser.store)

    def show(self, data: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
        status, parked = data
        self.status_rows, self.parked = status, parked
        rows = []
        for r in status:
            state = "stopped" if r.get("stopped") else ("error" if r.get("error") else "ok")
            rows.append((r["name"], [
                cell(r["name"], "bold"), cell(r.get("mode")), cell(r.get("checkpoint")),
                cell(r.get("lag"), "yellow" if r.get("lag") else ""), cell(r.get("handled")),
                cell(r.get("parked"), "red" if r.get("parked") else ""),
                cell(state, {"stopped": "bold red", "error": "red"}.get(state, "green")), cell(r.get("error"), "red"),
            ]))
        self.fill(self.query_one("#reactors", DataTable), rows)
        self.fill(self.query_one("#dead-letters", DataTable), [
            (str(d["id"]), [
                cell(d["id"]), cell(d["reactor"], "bold"), cell(d["position"], "cyan"), cell(d["stream_id"], "green"),
                cell(d["event_type"]), cell(d["attempts"]), cell((d.get("parked_at") or "")[:19].replace("T", " ")),
                cell(d["error"], "red"),
            ]) for d in parked
        ])
        if not status:
            self.query_one("#ops-status", Static).update(
                Text("The domain declares no reactors (pass --domain).", style="dim"))

    def selected_dead_letter(self) -> int | None:
        table = self.query_one("#dead-letters", DataTable)
        if not table.row_count:
            self.notify("no parked events", severity="warning")
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_retry(self) -> None:
        dl = self.selected_dead_letter()
        if dl is not None:
            self.resolve(dl, retry=True)

    def action_discard(self) -> None:
        dl = self.selected_dead_letter()
        if dl is not None:
            self.resolve(dl, retry=False)

    @work(thread=True, exclusive=True, group="dead-letter", exit_on_error=False)
    def resolve(self, id: int, retry: bool) -> None:
        from ...engine import reactors

        try:
            with self.browser.lock:
                rt = reactors.runtime(self.browser.engine)
                if retry:
                    outcome, reaction = rt.retry_dead_letter(id)
                    message = {"retried": f"dead letter {id} retried: handled",
                               "duplicate": f"dead letter {id}: already handled meanwhile, nothing sent twice",
                               "failed": f"dead letter {id} failed again: "
                                         f"{getattr(reaction, 'error', '') or ''}"}[outcome]
                else:
                    rt.discard_dead_letter(id)
                    message = f"dead letter {id} discarded"
        except EvshError as exc:
            message = f"dead letter {id}: {exc}"
        self.app.call_from_thread(self.resolved, message)

    def resolved(self, message: str) -> None:
        self.last_message = message
        self.query_one("#ops-status", Static).update(rich_text(message))
        self.notify(message, title="dead letters")
        self.refresh_data()


# ----------------------------------------------------------------------------- metrics

class MetricsScreen(OpsScreen):
    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="spark-title", classes="title")
            yield Sparkline([], id="spark")
            yield Static(id="spark-range")
            yield Static(Text("Handlers (projections, reactors and broker relays)", style="bold"), classes="title")
            yield DataTable(id="handlers", cursor_type="row", zebra_stripes=True)
            yield Static(id="ops-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#handlers", DataTable).add_columns(
            "kind", "name", "event type", "handled", "errors", "retries", "p50", "p95", "lag")
        super().on_mount()

    def read(self) -> tuple[list[str], list[int], list[Any], list[dict[str, Any]]]:
        from ...engine import metrics

        store = self.browser.store
        per_minute = metrics.log_per_minute(store)
        minutes = metrics.minutes_ending(max(per_minute), SPARK_MINUTES) if per_minute else []
        from ...broker.inbox import consumer_rows

        return (minutes, [per_minute.get(m, 0) for m in minutes], metrics.collect(store, by_type=True),
                consumer_rows(store))

    def show(self, data: tuple[list[str], list[int], list[Any], list[dict[str, Any]]]) -> None:
        minutes, counts, series, consumers = data
        self.minutes, self.counts, self.series = minutes, counts, series
        title = Text("Events per minute", style="bold")
        if counts:
            title.append(f"  last {len(counts)} minutes of the log: {sum(counts):,} events, peak {max(counts):,}/min",
                         style="dim")
        self.query_one("#spark-title", Static).update(title)
        self.query_one("#spark", Sparkline).data = counts or [0]
        self.query_one("#spark-range", Static).update(
            Text(f"{minutes[0].replace('T', ' ')}  …  {minutes[-1].replace('T', ' ')} UTC" if minutes
                 else "no events yet", style="dim"))
        self.fill(self.query_one("#handlers", DataTable), [
            (f"{s.kind}:{s.name}:{s.event_type}", [
                cell(s.kind), cell(s.name, "bold"), cell(s.event_type), cell(s.handled),
                cell(s.errors, "red" if s.errors else ""), cell(s.retries), cell(ms(s.p(0.5))), cell(ms(s.p(0.95))),
                cell(s.lag, "yellow" if s.lag else ""),
            ]) for s in series
        ] + [  # a broker consumer (evsh consume) as a whole: errors = messages dead-lettered
            (f"consumer:{c['name']}:#", [
                cell("consumer"), cell(c["name"], "bold"), cell(f"(all) {c['duplicates']} duplicate"),
                cell(c["handled"]), cell(c["dead_lettered"], "red" if c["dead_lettered"] else ""), cell(""),
                cell(""), cell(""), cell(""),
            ]) for c in consumers
        ])


def open_projections(app: Any) -> None:
    app.push_screen(ProjectionsScreen(app))


def open_reactors(app: Any) -> None:
    app.push_screen(ReactorsScreen(app))


def open_metrics(app: Any) -> None:
    app.push_screen(MetricsScreen(app))
