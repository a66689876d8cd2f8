"""`evsh stats`: handling metrics of reactors, projections and broker relays (table, JSON or Prometheus text)."""

from __future__ import annotations

from typing import Any

import click

from ..sanitise import rich_text, safe
from ..wording import number
from .context import app
from .output import Output, listing_options
from .render import console, stream_table

SPARK = "▁▂▃▄▅▆▇█"


def since_minute(text: str | None) -> str | float | None:
    """``--since`` as the metrics' minute key (YYYY-MM-DDTHH:MM, UTC), or a span back from the
    window's end in seconds (``2h``, ``30m``, ``7d``); bad input otherwise, since a filter that
    matches nothing would silently show everything or nothing."""
    if text is None:
        return None
    from datetime import datetime, timezone

    if text.strip()[-1:].lower() in ("s", "m", "h", "d", "w") and text.strip()[:1].isdigit():
        from ..engine.lifecycle import parse_duration

        try:
            return parse_duration(text)
        except Exception as exc:
            raise click.BadParameter(str(exc)) from None

    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if at.tzinfo is not None:
            at = at.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r} is not a time: write YYYY-MM-DDTHH:MM (UTC), e.g. 2026-01-01T09:30") from None
    return at.strftime("%Y-%m-%dT%H:%M")


def window_end(store: Any, window: str, per_log: dict[str, int]) -> str:
    """The minute the window ends at: the latest with metrics or appends, or (``event-time``)
    the newest event's, so a store whose events lie in the past still shows them."""
    from ..engine import metrics

    if window == "event-time":
        newest = next(iter(store.read_all(0, backwards=True, limit=1)), None)
        candidates = [newest.recorded_at] if newest is not None else []
    else:
        candidates = [m for m in (metrics.latest_minute(store), *per_log.keys()) if m]
    for minute in candidates:
        if type(minute) is not str:
            metrics.parse_minute(minute)  # a damaged store's time: said as such, not compared
    last = max((metrics.minute_of(m) for m in candidates), default="")
    if last:  # the one the window ends at (a damaged text sorts above the times: it is found here)
        metrics.parse_minute(last)
    return last


def sparkline(values: list[int]) -> str:
    top = max(values, default=0)
    if top == 0:
        return " " * len(values)
    return "".join(" " if v == 0 else SPARK[min(len(SPARK) - 1, (v * len(SPARK) - 1) // top)] for v in values)


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _label(v: str) -> str:
    return safe(v, lines=True).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(series: list[Any], head: int, consumers: list[dict[str, Any]] = ()) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []

    def labels(s: Any, extra: str = "") -> str:
        parts = [f'kind="{_label(s.kind)}"', f'name="{_label(s.name)}"']
        if s.event_type and s.event_type != "*":
            parts.append(f'event_type="{_label(s.event_type)}"')
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}"

    def family(name: str, kind: str, help: str, rows: list[str]) -> None:
        lines.append(f"# HELP {name} {help}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(rows)

    family("evsh_events_handled_total", "counter", "Events handled by a reactor or projection.",
           [f"evsh_events_handled_total{labels(s)} {s.handled}" for s in series])
    family("evsh_handler_errors_total", "counter", "Handler failures (each failed attempt).",
           [f"evsh_handler_errors_total{labels(s)} {s.errors}" for s in series])
    family("evsh_handler_retries_total", "counter", "Handler attempts that were retried.",
           [f"evsh_handler_retries_total{labels(s)} {s.retries}" for s in series])
    rows = []
    for s in series:
        for q in (0.5, 0.95, 0.99):
            v = s.p(q)
            if v is not None:
                quantile = 'quantile="' + str(q) + '"'
                rows.append(f"evsh_handling_latency_seconds{labels(s, quantile)} {v:.9g}")
        rows.append(f"evsh_handling_latency_seconds_sum{labels(s)} {s.latency_sum:.9g}")
        rows.append(f"evsh_handling_latency_seconds_count{labels(s)} {sum(s.hist.values())}")
    family("evsh_handling_latency_seconds", "summary", "Time to handle one event.", rows)
    seen: set[tuple[str, str]] = set()
    rows = []
    for s in series:
        if (s.kind, s.name) in seen or s.lag is None:
            continue
        seen.add((s.kind, s.name))
        rows.append(f'evsh_lag_events{{kind="{_label(s.kind)}",name="{_label(s.name)}"}} {s.lag}')
    family("evsh_lag_events", "gauge", "Events in the log after the subscriber's checkpoint.", rows)
    family("evsh_log_head_position", "gauge", "Position of the last event in the log.",
           [f"evsh_log_head_position {head}"])
    if consumers:
        family("evsh_consumer_messages_total", "counter",
               "Broker messages a consumer (evsh consume) handled, found duplicate or dead-lettered.",
               [f'evsh_consumer_messages_total{{name="{_label(c["name"])}",outcome="{o}"}} {c[o] or 0}'
                for c in consumers for o in ("handled", "duplicates", "dead_lettered")])
    return "\n".join(lines) + "\n"


@click.command()
@listing_options(what="series (one per subscriber and event type)",
                 json_help='JSON: {"head", "latest_minute", "window", "series": [...]}.',
                 nl_help="JSON lines: one series per line (as --csv and --tsv give rows).")
@click.option("--prometheus", "as_prom", is_flag=True, help="The Prometheus text exposition format.")
@click.option("--by-type/--by-subscriber", default=True, show_default=True,
              help="One row per event type, or one per reactor/projection.")
@click.option("--minutes", type=click.IntRange(min=1, max=1440), default=30, show_default=True,
              help="Width of the per-minute sparklines.")
@click.option("--since", default=None, callback=lambda ctx, param, value: since_minute(value),
              metavar="TIME|SPAN", help="Only buckets from this minute on (UTC; a date or an ISO time too), or"
                                        " this long before the window's end: 30m, 2h, 7d.")
@click.option("--window", type=click.Choice(["latest", "event-time"]), default="latest", show_default=True,
              help="Where the window ends: at the latest minute with data, or at the newest event's time"
                   " (a seeded or imported store, whose events lie in the past).")
def stats(out: Output, as_prom: bool, by_type: bool, minutes: int, since: str | float | None,
          window: str = "latest") -> None:
    """Metrics of reactors and projections: handled, errors, retries, latency p50/p95/p99, lag.

    Broker relays (evsh relay) show as kind "relay", one per destination: handled = events
    the broker confirmed, lag = head position minus the relay's checkpoint. Broker consumers
    (evsh consume) show as kind "consumer", with their duplicate and dead-lettered counts.

    Kept in the store as per-minute buckets, so every process and later runs see them.
    The sparklines show events per minute, ending at the latest minute with data.
    """
    from ..engine import metrics

    store = app().store()
    per_log = metrics.log_per_minute(store)
    last = window_end(store, window, per_log)
    if isinstance(since, float):
        since = metrics.minute_before(last, since) if last else None
    series = list(out.limited(metrics.collect(store, by_type, since)))
    from ..broker.inbox import consumer_rows

    consumers = consumer_rows(store)
    if as_prom:
        click.echo(prometheus(series, store.head_position(), consumers), nl=False)
        return
    if out.mode == "json":  # one document; --nl, --csv, --tsv: one series a line
        out.document({"head": store.head_position(), "latest_minute": metrics.latest_minute(store),
                      "window": {"ends": last or None, "at": window, "since": since},
                      "series": [s.as_dict() for s in series],
                      "consumers": [{k: c[k] for k in ("name", "source", "handled", "duplicates",
                                                        "dead_lettered", "last_position", "updated_at")}
                                    for c in consumers]})
        return
    if not out.table:
        out.items(s.as_dict() for s in series)
        return
    from rich.text import Text

    con = console()
    shown = metrics.minutes_ending(last, minutes) if last else []
    if shown:
        line = Text()
        line.append("events per minute  ", style="bold")
        line.append(sparkline([per_log.get(m, 0) for m in shown]), style="cyan")
        line.append(f"  {shown[0][11:]}–{shown[-1][11:]} UTC, peak {number(max(per_log.get(m, 0) for m in shown))}",
                    style="dim")
        con.print(line)
    if not series:
        con.print(Text("no reactor or projection has handled anything yet", style="dim"))
        return
    # who, what and how many are never cut; at a narrow terminal p95, p99 and retries go first
    right = {"justify": "right"}
    stream_table(
        [("kind", {"keep": True}), ("name", {"style": "bold", "keep": True}),
         ("event type", {"style": "cyan", "keep": True}), ("handled", {**right, "keep": True}),
         ("errors", {**right, "keep": True}), ("lag", {**right, "keep": True}), ("p50", {**right, "optional": True}),
         ("p95", {**right, "optional": True}), ("p99", {**right, "optional": True}),
         ("retries", {**right, "optional": True}), ("per minute", {"style": "cyan", "fill": True, "min_width": 8, "tail": True, "optional": True})],
        ([rich_text(s.kind), rich_text(s.name), rich_text(s.event_type if s.event_type not in ("", "*") else "(all)"),
          number(s.handled), Text(number(s.errors), style="red" if s.errors else ""),
          Text("" if s.lag is None else number(s.lag), style="yellow" if s.lag else ""),
          _ms(s.p(0.5)), _ms(s.p(0.95)), _ms(s.p(0.99)), Text(number(s.retries), style="yellow" if s.retries else ""),
          sparkline([s.per_minute.get(m, 0) for m in shown])] for s in series),
    )
    for c in consumers:
        con.print(rich_text(f"consumer {c['name']}: {number(c['handled'])} handled, {number(c['duplicates'])} duplicate,"
                            f" {number(c['dead_lettered'])} dead-lettered (from {c['source']})"))
