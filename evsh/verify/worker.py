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
        from ..errors import EvshError

        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"db": db, "streams": streams}) + "\n")
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
        return answer["states"]

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

    domain = load_domain(argv[0])
    for line in sys.stdin:
        try:
            req = json.loads(line)
            with open_store(req["db"], create=False) as store:
                engine = build_engine(store, domain)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
