"""Events as export lines: the one encoder and validator of an event's JSON object.

``evsh export`` writes one object per event, ``evsh import`` reads them back, and the broker
relay sends the very same object as a message's body (the consumer reads it back with the same
checks), so an event means the same thing in a file and on a broker. Pure Python: no front end.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import BadInput
from ..sanitise import json_safe

# The largest position, version, count or id evsh accepts. SQLite integers are 64-bit; evsh
# stays below 2^62 so that "one more" (the next version, a cursor) still fits.
LARGEST = 2**62
# Bytes in one line of an export or a keys file, and in one event's data read from standard
# input (`evsh append ... -`): a device or an endless pipe stops here.
MAX_LINE = 64 * 1024 * 1024
FORMAT_KEY = "evsh_format"
FORMAT_VERSION = 1
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)")
_REQUIRED = ("event_id", "stream_id", "version", "type", "data")
_KNOWN = {*_REQUIRED, "metadata", "recorded_at", "position", FORMAT_KEY}
# metadata keys evsh itself reads back (upcasting, traces, reactors), and what each must be
_META_TEXT = ("correlation_id", "causation_id", "command_id", "command", "actor")


def export_line(rec: Any) -> str:
    """One recorded event as the line ``evsh export`` writes (without the newline).

    C1 controls and bidi characters are written as ``\\uXXXX``: the same strings, but a line
    that is safe to print or grep."""
    from . import codec  # not at import: cli.params takes LARGEST from here at start-up

    d = rec.as_dict()
    d[FORMAT_KEY] = FORMAT_VERSION
    return json_safe(codec.dumps(d).lstrip())


def check_metadata(meta: Any, what: str) -> dict[str, Any]:
    """Metadata as evsh will read it back: an object, with the keys evsh uses of the right type
    (a text schema_version would break `evsh upcast` later, not now)."""
    if type(meta) is not dict:
        raise BadInput(f"{what} must be a JSON object")
    if "schema_version" in meta:
        version = meta["schema_version"]
        if type(version) is not int or not 1 <= version <= LARGEST:
            raise BadInput(f"{what}: schema_version must be a whole number from 1, not {version!r}")
    for key in _META_TEXT:
        if meta.get(key) is not None and type(meta[key]) is not str:
            raise BadInput(f"{what}: {key} must be a string, not {meta[key]!r}")
    return meta


def import_row(obj: Any, domain: Any, now: str, known_streams: set[str], known_types: set[str]) -> tuple:
    """Every field of one exported event checked (BadInput saying which and why):
    (event id, stream id, version, type, data, metadata, recorded_at)."""
    from .base import SYSTEM_STREAMS, canonical_event_id, check_name, check_stream_id

    if type(obj) is not dict:
        raise BadInput("each line must be a JSON object (one event)")
    try:
        eid, sid, ver, etype, data = obj["event_id"], obj["stream_id"], obj["version"], obj["type"], obj["data"]
    except KeyError as missing:
        raise BadInput(f"missing key {missing.args[0]!r}") from None
    if not obj.keys() <= _KNOWN:
        raise BadInput(f"unknown key {sorted(obj.keys() - _KNOWN)[0]!r}")
    fv = obj.get(FORMAT_KEY, FORMAT_VERSION)
    if type(fv) is not int or fv < 1:
        raise BadInput(f"{FORMAT_KEY} must be a positive integer, not {fv!r}")
    if fv > FORMAT_VERSION:
        raise BadInput(f"{FORMAT_KEY} {fv!r} is newer than this evsh reads ({FORMAT_VERSION})")
    eid = canonical_event_id(eid)
    if type(sid) is not str:
        raise BadInput(f"stream_id must be a string, not {_json_type(sid)}")
    if sid not in known_streams:
        # evsh's own system streams ($streams: lifecycle events) travel too; other $ names are refused
        known_streams.add(check_stream_id(sid, reserved_ok=sid in SYSTEM_STREAMS))
    if type(ver) is not int or not 1 <= ver <= LARGEST:
        raise BadInput(f"version must be a whole number from 1 to {LARGEST}, not {ver!r}")
    position = obj.get("position")  # informative: the log gives imported events new positions
    if position is not None and (type(position) is not int or not 1 <= position <= LARGEST):
        raise BadInput(f"position must be a whole number from 1 to {LARGEST}, not {position!r}")
    if type(etype) is not str:
        raise BadInput(f"type must be a string, not {_json_type(etype)}")
    if etype not in known_types:
        known_types.add(check_name(etype, "type"))
    if type(data) is not dict:
        raise BadInput("data must be a JSON object")
    meta = obj.get("metadata")
    meta = {} if meta is None else check_metadata(meta, "metadata")
    at = obj.get("recorded_at") or now
    if not is_iso_time(at):
        raise BadInput(f"recorded_at {at!r} is not an ISO 8601 time such as 2026-01-01T09:00:00Z")
    if domain is not None:
        spec = domain.event_type(etype)
        if spec is not None and meta.get("schema_version", 1) == spec.schema_version:
            spec.decode(data)
    return eid, sid, ver, etype, data, meta, at


def is_iso_time(text: Any) -> bool:
    """Whether ``text`` is a time as evsh writes them (ISO 8601 with a date, a time and an offset
    or ``Z``, such as 2026-01-01T09:00:00Z), and a real one (no 25:00 or February 30)."""
    from datetime import datetime

    if type(text) is not str or not _ISO_TIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), "null")
