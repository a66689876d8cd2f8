"""Expectations and verification directives of the .evsh language.

Each directive is parsed (``parse_directive``) before a script runs, so a malformed one runs
nothing, and checked (``run_directive``) when its line is reached. A failed expectation raises
ExpectationFailed whose message shows what was expected and what was found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from ..errors import BadInput, ExpectationFailed
from .words import unknown_word

OPS = ("==", "!=", ">=", "<=", "=", "<", ">", "~")
CHECK = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(==|!=|>=|<=|=|<|>|~)(.*)$", re.S)
OUTCOMES = {"rejected": 1, "conflict": 3, "error": 2}
KINDS = ("state", "stream", "query", "rejected", "conflict", "error", "exit", "replay", "rebuild", "idempotent", "decision")
SUBSCRIBERS = ("projection", "reactor")

EXPECT_USAGE = "expect " + "|".join(KINDS) + " ... (see `help expect`)"


@dataclass
class Check:
    path: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.path} {'=' if self.op == '==' else self.op} {self.value}"


# ----------------------------------------------------------------------------- parsing

def parse_checks(tokens: Sequence[str], what: str) -> list[Check]:
    """``field=value`` tokens (or ``field = value`` as three tokens); ops = != < <= > >= ~."""
    out: list[Check] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if i + 2 < len(tokens) and tokens[i + 1] in OPS and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", tok):
            op, value = tokens[i + 1], tokens[i + 2]
            i += 3
        else:
            m = CHECK.match(tok)
            if not m:
                raise BadInput(f"{what}: {tok!r} is not a check; write FIELD=VALUE (or != < <= > >= ~)")
            tok, op, value = m.groups()
            i += 1
        if op == "~" and "${" not in value:  # with a variable, checked when the line runs
            regex(value, f"{what}: {tok}~")
        out.append(Check(tok, "==" if op == "=" else op, value))
    if not out:
        raise BadInput(f"{what}: say what to check, e.g. status=confirmed")
    return out


def _split_match(tokens: list[str], what: str) -> tuple[str | None, list[str]]:
    pattern = None
    while tokens and tokens[0].startswith("--match"):
        tok = tokens.pop(0)
        if "=" in tok:
            pattern = tok.split("=", 1)[1]
        elif tokens:
            pattern = tokens.pop(0)
        else:
            raise BadInput(f"{what}: --match needs a pattern")
        regex(pattern, f"{what}: --match")
    return pattern, tokens


def regex(pattern: str, what: str, flags: int = 0) -> re.Pattern[str]:
    """The compiled pattern, or BadInput naming where it was written."""
    try:
        return re.compile(pattern, flags)
    except (re.error, OverflowError, RecursionError) as exc:
        raise BadInput(f"{what} {pattern!r} is not a regular expression ({exc})") from None


def number(text: str, what: str) -> int:
    """A whole number in a script line, read as options read theirs (cli.params.whole_number),
    or BadInput naming ``what``."""
    from ..cli.params import whole_number

    try:
        return whole_number(text)
    except ValueError as exc:
        raise BadInput(f"{what}: {exc}") from None


def parse_directive(tokens: Sequence[str], known: set[str] | Sequence[str]) -> dict[str, Any]:
    """The directive's parts, or BadInput saying what is wrong with it."""
    known = set(known)
    head, rest = tokens[0], list(tokens[1:])
    if head == "redeliver":
        usage = "use `redeliver projection NAME POSITION` or `redeliver reactor NAME POSITION`"
        if len(rest) != 3 or rest[0] not in SUBSCRIBERS:
            raise BadInput(usage)
        if "${" not in rest[2]:
            number(rest[2], f"redeliver: position; {usage}")
        return {"kind": "redeliver", "subscriber": rest[0], "name": rest[1], "position": rest[2]}
    if not rest:
        raise BadInput(f"expect what? {EXPECT_USAGE}")
    kind, args = rest[0], rest[1:]
    what = f"expect {kind}"
    if kind == "state":
        at = None
        if len(args) < 2:
            raise BadInput(f"{what}: use `expect state AGGREGATE ID [--at-version N] FIELD=VALUE...`")
        agg, id_, more = args[0], args[1], list(args[2:])
        if more and more[0].startswith("--at-version"):
            tok = more.pop(0)
            at = tok.split("=", 1)[1] if "=" in tok else (more.pop(0) if more else "")
            if "${" not in at:
                number(at, f"{what}: --at-version needs a version number")
        return {"kind": kind, "aggregate": agg, "id": id_, "at": at, "checks": parse_checks(more, what)}
    if kind == "stream":
        if not args:
            raise BadInput(f"{what}: use `expect stream STREAM TYPE...` or `expect stream STREAM count=N`")
        stream, more = args[0], args[1:]
        types: list[str] = []
        checks: list[Check] = []
        for tok in more:
            m = CHECK.match(tok)
            if m and m.group(1) in ("count", "version"):
                checks.append(Check(m.group(1), "==" if m.group(2) == "=" else m.group(2), m.group(3)))
            elif m:
                raise BadInput(f"{what}: only count=N and version=N can be checked on a stream, not {m.group(1)!r}")
            else:
                types.append(tok)
        if not types and not checks:
            raise BadInput(f"{what}: list the event types expected in order, or give count=N")
        return {"kind": kind, "stream": stream, "types": types, "checks": checks}
    if kind == "query":
        if len(args) != 3 or args[1] not in OPS:
            raise BadInput(f"{what}: use `expect query \"SELECT ...\" = VALUE` (one SQL argument, an operator, a value)")
        return {"kind": kind, "sql": args[0], "op": "==" if args[1] == "=" else args[1], "value": args[2]}
    if kind in OUTCOMES or kind == "exit":
        code = OUTCOMES.get(kind)
        if kind == "exit":
            if not args:
                raise BadInput(f"{what}: use `expect exit N [--match REGEX] COMMAND...`")
            code, args = number(args[0], f"{what}: use `expect exit N [--match REGEX] COMMAND...`; N"), args[1:]
        pattern, command = _split_match(list(args), what)
        if not command:
            raise BadInput(f"{what}: name the command that should fail, e.g. `{what} exec order o1 confirm`")
        if command[0] not in known:
            raise BadInput(f"{what}: {unknown_word(command[0], known)}")
        return {"kind": kind, "code": code, "pattern": pattern, "command": command}
    if kind == "replay":
        if len(args) != 2:
            raise BadInput(f"{what}: use `expect replay AGGREGATE ID`")
        return {"kind": kind, "aggregate": args[0], "id": args[1]}
    if kind == "rebuild":
        if len(args) != 2 or args[0] != "projection":
            raise BadInput(f"{what}: use `expect rebuild projection NAME`")
        return {"kind": kind, "name": args[1]}
    if kind == "decision":
        if len(args) < 4 or args[0] != "exec":
            raise BadInput(f"{what}: use `expect decision exec AGGREGATE ID COMMAND [--PARAM VALUE]...`")
        from ..cli.domain_cmds import parse_param_args

        return {"kind": kind, "aggregate": args[1], "id": args[2], "command": args[3],
                "params": parse_param_args(list(args[4:]))}
    if kind == "idempotent":
        if len(args) != 3 or args[0] not in SUBSCRIBERS or not args[2].isdigit() and "${" not in args[2]:
            raise BadInput(f"{what}: use `expect idempotent projection|reactor NAME POSITION`")
        return {"kind": kind, "subscriber": args[0], "name": args[1], "position": args[2]}
    raise BadInput(f"unknown expectation {kind!r}: {EXPECT_USAGE}")


# ----------------------------------------------------------------------------- values

def show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def equal(actual: Any, expected: str) -> bool:
    """Does a stored value equal the value written in a script? Text compares as text,
    numbers as numbers (``20`` = ``"20.00"``), everything else as JSON."""
    if isinstance(actual, str) and actual == expected:
        return True
    a, e = _number(actual), _number(expected)
    if a is not None and e is not None:
        return a == e
    ok, parsed = _json(expected)
    if ok:
        if parsed == actual:
            return True
        if isinstance(parsed, (list, dict)) and isinstance(actual, (list, dict)):
            return _normal(parsed) == _normal(actual)
    if actual is None and expected in ("", "null", "None"):
        return True
    return show(actual) == expected


def _normal(value: Any) -> Any:
    """Numbers as Decimals all the way down, so JSON 20 equals a stored "20.00"."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, tuple):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    n = _number(value) if not isinstance(value, str) or re.fullmatch(r"-?\d+(\.\d+)?", value) else None
    return n if n is not None else value


def compare(actual: Any, op: str, expected: str) -> bool:
    if op == "==":
        return equal(actual, expected)
    if op == "!=":
        return not equal(actual, expected)
    if op == "~":
        return regex(expected, "~").search(show(actual)) is not None
    a, e = _number(actual), _number(expected)
    if a is None or e is None:
        raise ExpectationFailed(f"{op} compares numbers, but {show(actual)!r} or {expected!r} is not a number")
    return {"<": a < e, "<=": a <= e, ">": a > e, ">=": a >= e}[op]


def lookup(data: Any, path: str) -> tuple[bool, Any]:
    cur = data
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and re.fullmatch(r"-?\d+", part) and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return False, None
    return True, cur


def failed(title: str, expected: Any, actual: Any) -> ExpectationFailed:
    return ExpectationFailed(f"{title}\n  expected: {expected}\n  actual:   {actual}")


# ----------------------------------------------------------------------------- running

def run_directive(runner: Any, tokens: list[str]) -> str:
    """Check one directive; returns a short note for --echo, raises ExpectationFailed."""
    spec = parse_directive(tokens, runner.known_commands())
    kind = spec["kind"]
    app = runner.app
    if kind == "state":
        return _state(app, spec)
    if kind == "stream":
        return _stream(app, spec)
    if kind == "query":
        return _query(app, spec)
    if kind in OUTCOMES or kind == "exit":
        return _outcome(runner, spec)
    if kind == "replay":
        from .verification import expect_replay

        return expect_replay(app, spec["aggregate"], spec["id"])
    if kind == "rebuild":
        from .verification import expect_rebuild

        return expect_rebuild(app, spec["name"])
    if kind == "decision":
        from .verification import expect_decision

        return expect_decision(app, spec["aggregate"], spec["id"], spec["command"], spec["params"])
    if kind == "idempotent":
        from .verification import expect_idempotent

        return expect_idempotent(app, spec["subscriber"], spec["name"], int(spec["position"]))
    if kind == "redeliver":
        from .verification import redeliver

        return redeliver(app, spec["subscriber"], spec["name"], number(spec["position"], "redeliver: position"))
    raise BadInput(f"unknown directive {kind!r}")  # pragma: no cover - parse_directive refuses it first


def _state(app: Any, spec: dict[str, Any]) -> str:
    domain = app.domain(required=True)
    cls = domain.aggregate(spec["aggregate"])
    at = number(spec["at"], "expect state: --at-version") if spec["at"] is not None else None
    agg = app.engine(domain_required=True).load(cls, spec["id"], at)
    data = agg.state()
    where = cls.stream_id(spec["id"]) + (f" at version {at}" if at is not None else "")
    for c in spec["checks"]:
        found, value = lookup(data, c.path)
        if not found:
            fields = ", ".join(data)
            raise failed(f"state of {where} has no field {c.path!r}", c, f"fields are {fields}")
        if not compare(value, c.op, c.value):
            raise failed(f"state of {where}: {c.path}", f"{c.op} {c.value}" if c.op != "==" else c.value, show(value))
    return f"{where}: " + ", ".join(str(c) for c in spec["checks"])


def _stream(app: Any, spec: dict[str, Any]) -> str:
    from ..store.base import check_stream_id

    engine = app.engine()
    sid = spec["stream"]
    if sid == "$all":
        events = list(engine.read_all(1))
    else:
        check_stream_id(sid)
        events = list(engine.read_stream(sid))
    types = [e.type for e in events]
    if spec["types"] and types != spec["types"]:
        raise failed(f"events of {sid}", " ".join(spec["types"]), " ".join(types) or "(no events)")
    facts = {"count": len(events), "version": events[-1].version if events else 0}
    for c in spec["checks"]:
        if not compare(facts[c.path], c.op, c.value):
            raise failed(f"{c.path} of {sid}", f"{c.op} {c.value}" if c.op != "==" else c.value,
                         f"{facts[c.path]} ({' '.join(types) or 'no events'})")
    parts = ([" ".join(types)] if spec["types"] else []) + [str(c) for c in spec["checks"]]
    return f"{sid}: " + "; ".join(parts)


def query_rows(app: Any, sql: str) -> tuple[list[str], list[tuple]]:
    """Run a read-only query over the store (events and read models), held to `evsh sql`'s
    default time limit."""
    from ..cli.store_cmds import SQL_TIMEOUT

    with app.store().query(sql, timeout=SQL_TIMEOUT) as (headers, rows):
        return headers, list(rows)


def _query(app: Any, spec: dict[str, Any]) -> str:
    headers, rows = query_rows(app, spec["sql"])
    if len(headers) == 1 and len(rows) == 1:
        actual: Any = rows[0][0]
    elif len(headers) == 1:
        actual = [r[0] for r in rows]
    else:
        actual = [list(r) for r in rows]
    if not compare(actual, spec["op"], spec["value"]):
        exp = spec["value"] if spec["op"] == "==" else f"{spec['op']} {spec['value']}"
        raise failed(f"query {spec['sql']}", exp, show(actual) if rows else "(no rows)")
    return f"query = {show(actual)}"


def _outcome(runner: Any, spec: dict[str, Any]) -> str:
    code, message = runner.call(spec["command"])
    want = spec["code"]
    label = spec["kind"] if spec["kind"] != "exit" else f"exit {want}"
    if code == 0:
        raise failed(f"{label}: the command succeeded", f"{label}" + (f" matching /{spec['pattern']}/" if spec["pattern"] else ""),
                     "success (exit 0)")
    if code != want:
        raise failed(f"{label}: the command failed differently", label, f"exit {code}: {message}")
    if spec["pattern"] and not regex(spec["pattern"], "--match", re.I).search(message):
        raise failed(f"{label}: the message does not match", f"/{spec['pattern']}/", message)
    return f"{message}"
