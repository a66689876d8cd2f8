"""A second Python process that replays streams: the "fresh process" of `evsh verify`.

Started once per verify run (a process per example would cost ~150 ms each), with another
hash seed, so state that leaks between processes, depends on set or dict-of-hash order, or on
anything but the events shows up as a difference. Reads one JSON request per line on stdin
(``{"db": PATH, "streams": [[CATEGORY, ID], ...]}``) and answers one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


class Worker:
    """The parent's handle on the replay process."""

    def __init__(self, domain_spec: str) -> None:
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evsh.verify.worker", domain_spec],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )

    def states(self, db: str, streams: list[tuple[str, str]]) -> dict[str, Any]:
        return self.ask({"db": db, "streams": streams})["states"]

    def decide(self, db: str, step: Any, upto: int) -> dict[str, Any]:
        """The step's command decided there, against its stream's events up to ``upto``."""
        from .deciding import step_params

        argv = step.argv()
        req = {"aggregate": argv[1], "id": argv[2], "command": argv[3], "params": step_params(argv[4:]), "upto": upto}
        return self.ask({"db": db, "decide": req})["decision"]

    def fresh(self) -> str:
        """The domain's class and module state as at import there (deciding.export)."""
        return self.ask({"fresh": True})["fresh"]

    def upcast(self, type: str, version: int, data: dict[str, Any]) -> Any:
        return self.ask({"upcast": {"type": type, "version": version, "data": data}})["upcast"]

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        from ..errors import EvshError

        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request, default=str) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise EvshError(f"the replay process ended: {err.strip().splitlines()[-1] if err.strip() else 'no output'}")
        answer = json.loads(line)
        if "error" in answer:
            raise EvshError(f"the replay process failed: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def main(argv: list[str]) -> int:
    from ..domain.registry import load_domain
    from ..engine.wiring import build_engine
    from ..errors import EvshError
    from ..store import codec
    from ..store.connect import open_store

    from .deciding import decide_dry, export, restore, snapshot

    domain = load_domain(argv[0])
    fresh = snapshot(domain)  # class and module state as at import: restored before each request
    for line in sys.stdin:
        try:
            req = json.loads(line)
            restore(fresh)
            if "fresh" in req:
                sys.stdout.write(json.dumps({"fresh": export(fresh)}) + "\n")
                sys.stdout.flush()
                continue
            if "upcast" in req:
                sys.stdout.write(json.dumps({"upcast": _upcast(domain, req["upcast"])}, default=str) + "\n")
                sys.stdout.flush()
                continue
            with open_store(req["db"], create=False) as store:
                engine = build_engine(store, domain)
                if "decide" in req:
                    d = req["decide"]
                    sys.stdout.write(json.dumps({"decision": decide_dry(
                        engine, domain, d["aggregate"], d["id"], d["command"], d["params"], d["upto"])}) + "\n")
                    sys.stdout.flush()
                    continue
                states = {}
                for category, id in req["streams"]:
                    cls = domain.aggregate(category)
                    agg = cls(id)
                    engine.apply_records(agg, engine.read_stream(cls.stream_id(id)))
                    states[cls.stream_id(id)] = json.loads(codec.dumps(agg.state()))
            answer: dict[str, Any] = {"states": states}
        except EvshError as exc:
            answer = {"error": str(exc)}
        except Exception as exc:  # keep answering: the parent reports it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


def _upcast(domain: Any, req: dict[str, Any]) -> Any:
    """The old payload through the chain of upcasters from its type and version."""
    from ..engine.upcasting import Upcaster

    up = Upcaster.of(domain)
    data = dict(req["data"])
    for step in up.chain(req["type"], req["version"]):
        data = step.apply(dict(data), {})
    return data


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
