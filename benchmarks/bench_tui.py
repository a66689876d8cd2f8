"""How fast `evsh tui` opens a big store and jumps around it (headless, 120x40).

    python benchmarks/bench_tui.py --db /tmp/big.db            # an existing store
    python benchmarks/bench_tui.py --db /tmp/big.db --orders 200000   # seed it first if missing

Seeding uses `evsh seed --orders N` (about 5 events per order). Figures, each from a fresh
process start (imports included, as a user waits for them):

- open: from process start to the first rows of $all on screen;
- jump to end at once: `end` pressed as soon as the first rows show, while the background work
  of opening (checking $all for holes, counting streams) still runs. The key's action is called
  (`action_last`), as a key press does: Textual's test pilot's `press` first waits until the
  process is idle (up to 2 s while worker threads work), which a user's key never waits for;
- jump to end: the same once that work is done (`home` first);
- page down x50: fifty `pagedown`s until each highlighted row is shown;
- streams end: `end` in the streams list (every stream of the store) until the last one shows;
- pages fetched: how many pages of 100 rows the events list read in all (never the whole log);
- open event: `enter` on the last event until the event screen shows it (payload, metadata);
- causal links: until that screen shows its causal links (the cause, and the chain's events
  within 2,000 positions);
- whole chain: until the chain is read from the whole log too (a scan of the log by metadata);
- search (in this process, not a child): Find's text search from the first event for a payload
  text near the end, narrowed in SQL (`log_rows(text=...)`) against the baseline of looking at
  every event in Python (`in_sql=False`, what Find did before), and for text found nowhere.

The same figures on a tiny store (20 orders), measured in the same run, show what is the
store's size and what is Python, Textual and the machine (compare the ratio, not the seconds).

Targets (issue): open <= 1.5 s and jump to the last event <= 1 s on 1,000,000 events, and on
10,000,000; text search <= 2 s on 1,000,000 events.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before evsh or textual are imported

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402


async def wait(pilot, cond, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise TimeoutError("condition not reached")
        await pilot.pause(0.001)


def child(db: str) -> dict[str, float]:
    t = time.perf_counter()
    import textual.app  # noqa: F401

    imported = time.perf_counter() - t
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.app import EvshApp

    figures: dict[str, float] = {}

    async def scenario() -> None:
        app = EvshApp(build_engine(open_store(db, create=False), load_domain("shop")), tail=False)
        async with app.run_test(size=(120, 40)) as pilot:
            lst = app.events
            await wait(pilot, lambda: lst.total and lst.current is not None)
            figures["open"] = time.perf_counter() - T0
            figures["import_textual"] = imported
            figures["events"] = lst.total
            t = time.perf_counter()
            lst.action_last()  # what `end` does: pilot.press would first wait for the process to idle
            await wait(pilot, lambda: lst.cursor == lst.total - 1 and lst.current is not None)
            figures["jump_end_at_once"] = time.perf_counter() - t
            # the background work of opening (verifying $all, counting streams) done: jump again
            tree = app.query_one("#categories")
            await wait(pilot, lambda: lst.index.verified and app.streams.total and tree.root.children)
            await pilot.press("home")
            await wait(pilot, lambda: lst.cursor == 0 and lst.current is not None)
            t = time.perf_counter()
            await pilot.press("end")
            await wait(pilot, lambda: lst.cursor == lst.total - 1 and lst.current is not None)
            figures["jump_end"] = time.perf_counter() - t
            from evsh.tui.screens.event import EventScreen

            t = time.perf_counter()
            app.action_open_event()  # what `enter` does (see jump_end_at_once)
            await wait(pilot, lambda: isinstance(app.screen, EventScreen) and hasattr(app.screen, "links_shown"))
            figures["open_event"] = time.perf_counter() - t
            await wait(pilot, lambda: app.screen.links_shown)
            figures["causal_links"] = time.perf_counter() - t
            await wait(pilot, lambda: hasattr(app.screen, "chain"))
            figures["whole_chain"] = time.perf_counter() - t
            await pilot.press("escape")
            await wait(pilot, lambda: not isinstance(app.screen, EventScreen))
            t = time.perf_counter()
            await pilot.press("home")
            for _ in range(50):
                await pilot.press("pagedown")
                await wait(pilot, lambda: lst.current is not None)
            figures["pagedown50"] = time.perf_counter() - t
            figures["pages_fetched"] = lst.fetches
            streams = app.streams
            await wait(pilot, lambda: streams.total > 0)
            figures["streams"] = streams.total
            streams.focus()
            t = time.perf_counter()
            await pilot.press("end")
            await wait(pilot, lambda: streams.cursor == streams.total - 1 and streams.current is not None)
            figures["streams_end"] = time.perf_counter() - t

    asyncio.run(scenario())
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="the store (seeded first when missing and --orders is given)")
    ap.add_argument("--orders", type=int, default=0, help="seed this many orders when the store is missing")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--search", action="store_true", help="also time Find's text search (in this process)")
    ap.add_argument("--only-search", action="store_true", help="time Find's text search only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(repr(child(args.db)))
        return
    if not os.path.exists(args.db):
        if not args.orders:
            sys.exit(f"{args.db} does not exist: pass --orders N to seed it")
        subprocess.run([sys.executable, "-m", "evsh", "--db", args.db, "seed", "--orders", str(args.orders)], check=True)
    if args.only_search:
        search(args.db, args.runs)
        return
    tiny = os.path.join(os.path.dirname(os.path.abspath(args.db)), "bench_tui_tiny.db")
    if not os.path.exists(tiny):
        subprocess.run([sys.executable, "-m", "evsh", "--db", tiny, "seed", "--orders", "20"], check=True,
                       capture_output=True)
    big, small = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        big.append(run_child(args.db))
        small.append(run_child(tiny))
    keys = ["open", "import_textual", "jump_end_at_once", "jump_end", "open_event", "causal_links", "whole_chain",
            "pagedown50",
            "streams_end"]
    print(f"store: {args.db}: {int(big[0]['events']):,} events, {int(big[0]['streams']):,} streams; "
          f"tiny: {int(small[0]['events']):,} events; {args.runs} runs each, medians (min .. max)")
    print(f"  {'':<17} {'big store':>22}   {'tiny store':>10}")
    for k in keys:
        b = [r[k] for r in big]
        t = [r[k] for r in small]
        print(f"  {k:<17} {statistics.median(b):6.3f} s ({min(b):.3f} .. {max(b):.3f})   {statistics.median(t):6.3f} s")
    print(f"  pages fetched by the events list in a run: {int(max(r['pages_fetched'] for r in big))} (100 rows each)")
    if args.search:
        search(args.db, args.runs)


def search(db: str, runs: int) -> None:
    """Find's text search on the big store: narrowed in SQL against looking at every event."""
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.data import Browser, Source
    from evsh.tui.search import Criteria

    browser = Browser(build_engine(open_store(db, create=False), load_domain("shop")))
    index = browser.index(Source())
    last = browser.event_at(index.last_key)
    needle = str(last.data.get("order_id") or last.stream_id.split("-", 1)[-1])  # found near the end only
    print(f"search from the first event, {runs} runs each, medians (min .. max):")
    for what, text in ((f"text {needle!r} near the end", needle), ("text found nowhere", "no-such-text-anywhere")):
        times = {}
        for in_sql in (False, True):
            got = []
            for _ in range(runs):
                t = time.perf_counter()
                row = browser.find(index, 0, Criteria(text=text), in_sql=in_sql)
                got.append(time.perf_counter() - t)
            times[in_sql] = got
            print(f"  {what:<34} {'in SQL' if in_sql else 'every event (baseline)':<24} "
                  f"{statistics.median(got):6.3f} s ({min(got):.3f} .. {max(got):.3f})  row {row}")
        print(f"  {'':<34} {'ratio baseline / SQL':<24} {statistics.median(times[False]) / statistics.median(times[True]):6.1f}x")
    browser.engine.store.close()


def run_child(db: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--db", db, "--child"], capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr

if __name__ == "__main__":
    main()
