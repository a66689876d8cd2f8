"""Long-lived stores: snapshot loads, upcasting and decryption on replay, scavenge and forget.

Run:  python benchmarks/bench_snapshots.py [--events 100000] [--loads 200]

- loading a 100,000-event aggregate with a recent snapshot (10 events behind) <= 5 ms
  (median of --loads loads), shown beside a full replay of the same stream in the same run;
  every load here is a real one: the engines' aggregate caches are off (a cached load reads
  nothing, so it would time the cache, not the snapshot); a last line shows the cached load;
- replaying a stream whose events are all v1 (one upcaster each), as a ratio to the same stream
  stored in the current schema;
- reading events with an encrypted personal field, as a ratio to plain ones;
- scavenging a soft-deleted stream of --events events; forgetting one subject in that store.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

DOMAIN = '''
from evsh import Aggregate, applies, command, event, upcaster

@event(version=2)
class Ticked:
    by: int
    note: str

@upcaster("Ticked", 1)
def ticked_v1(data):
    return {"by": data["amount"], "note": ""}

@event(personal=("email",), subject="person_id")
class Registered:
    person_id: str
    email: str
    n: int

class Counter(Aggregate):
    total: int = 0
    count: int = 0

    @command
    def tick(self, by: int = 1):
        yield Ticked(by, "")

    @applies
    def _t(self, e: Ticked) -> None:
        self.total += e.by
        self.count += 1
'''


def rows(stream: str, n: int, v1: bool, start_version: int = 1):
    from evsh.store import codec

    at = "2026-01-01T00:00:00.000000Z"
    data = codec.dumps({"amount": 1}) if v1 else codec.dumps({"by": 1, "note": ""})
    meta = codec.dumps({"schema_version": 1 if v1 else 2})
    chunk = []
    for i in range(n):
        chunk.append((i, str(uuid.uuid4()), stream, start_version + i, "Ticked", data, meta, at))
        if len(chunk) == 10000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--loads", type=int, default=200)
    args = ap.parse_args()
    from evsh import load_domain, open_store
    from evsh.engine.forgetting import forget
    from evsh.engine.snapshots import take_snapshot
    from evsh.engine.wiring import build_engine

    folder = tempfile.mkdtemp(prefix="evsh-bench-snap-")
    dom_path = os.path.join(folder, "bench_domain.py")
    with open(dom_path, "w") as fh:
        fh.write(DOMAIN)
    domain = load_domain(dom_path)
    store = open_store(os.path.join(folder, "bench.db"))
    n = args.events
    store.import_rows(rows("counter-big", n - 10, v1=False))
    engine = build_engine(store, domain)
    plain = build_engine(store, domain, snapshots=False)
    cached = build_engine(store, domain)
    engine.cache_size = plain.cache_size = 0  # every load below reads the store
    counter = domain.aggregate("counter")
    take_snapshot(engine, counter, "big")
    for _ in range(10):
        engine.execute(counter, "big", "tick", {"by": 1})
    assert engine.load(counter, "big").count == n
    snap_ms = median_ms(lambda: engine.load(counter, "big"), args.loads)
    full_ms = median_ms(lambda: plain.load(counter, "big"), 3)
    assert plain.load(counter, "big").count == n
    print(f"load {n:,}-event aggregate, snapshot 10 behind: {snap_ms:.3f} ms (median of {args.loads})"
          f" | full replay {full_ms:.0f} ms | target <= 5 ms: {'OK' if snap_ms <= 5 else 'MISSED'}")
    cached.load(counter, "big")
    print(f"the same load answered by the engine's aggregate cache: "
          f"{median_ms(lambda: cached.load(counter, 'big'), args.loads):.3f} ms (median of {args.loads})")

    # upcasting cost on replay: same stream stored as v1 vs current
    store.import_rows(rows("counter-old", n, v1=True))
    store.import_rows(rows("counter-new", n, v1=False))
    old_ms = median_ms(lambda: plain.load(counter, "old"), 3)
    new_ms = median_ms(lambda: plain.load(counter, "new"), 3)
    assert plain.load(counter, "old").total == n
    print(f"replay {n:,} events: all v1 (upcast) {old_ms:.0f} ms vs current {new_ms:.0f} ms"
          f" -> upcasting costs x{old_ms / new_ms:.2f}")

    # decryption cost on reads: events with one encrypted personal field vs without
    k = min(n, 5_000)
    enc_from = store.head_position() + 1
    t = time.perf_counter()
    for i in range(k):
        engine.append(f"person-{i}", "Registered", {"person_id": f"p{i % 1000}", "email": f"user{i}@example.org", "n": i})
    enc_write_ms = (time.perf_counter() - t) * 1000
    plain_from = store.head_position() + 1
    t = time.perf_counter()
    for i in range(k):
        engine.append(f"plain-{i}", "Plain", {"person_id": f"p{i % 1000}", "email": f"user{i}@example.org", "n": i})
    plain_write_ms = (time.perf_counter() - t) * 1000
    enc_read = median_ms(lambda: sum(1 for _ in engine.read_all(enc_from, limit=k)), 5)
    plain_read = median_ms(lambda: sum(1 for _ in engine.read_all(plain_from, limit=k)), 5)
    print(f"{k:,} single appends: encrypted {enc_write_ms:.0f} ms vs plain {plain_write_ms:.0f} ms"
          f" (x{enc_write_ms / plain_write_ms:.2f}); reads {enc_read:.0f} ms vs {plain_read:.0f} ms"
          f" (x{enc_read / plain_read:.2f})")

    # scavenge a deleted stream of n events, then forget one subject in this store
    store.delete_stream("counter-old")
    t = time.perf_counter()
    result = store.scavenge()
    scav_s = time.perf_counter() - t
    print(f"scavenge of a deleted {n:,}-event stream: {scav_s:.2f} s, removed {result['removed']:,},"
          f" {result['bytes_before'] / 1e6:.1f} MB -> {result['bytes_after'] / 1e6:.1f} MB")
    t = time.perf_counter()
    report = forget(engine, "p7")
    print(f"forget one subject ({report.events} events, {report.values} values) in a store of"
          f" {store.head_position():,} positions: {time.perf_counter() - t:.2f} s (scrub + VACUUM)")
    store.close()


if __name__ == "__main__":
    main()
