"""Forgetting a data subject: destroy its key, and remove what readers copied elsewhere.

The log is never rewritten (see shredding): the subject's encrypted fields simply become
unreadable once the key is gone. ``forget`` also decrypts the subject's values one last time,
scrubs them from every table that is not the log (read models, dead letters, side-effect
tables, recorded command parameters), drops snapshots holding them, destroys the key, and then
rewrites the file (secure_delete, VACUUM, WAL checkpoint with truncation) so that no byte of
them is left in the file, its free pages or the WAL.

Kept apart from shredding, which every engine loads to decrypt on the read path; this runs only
when asked for.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from ..store import codec
from ..store.base import NewEvent, check_name
from .engine import Engine
from .shredding import FORGOTTEN_STREAM, PREFIX, REDACTED, _aesgcm, is_token, shredder, unseal

MIN_IN_TEXT = 3  # shorter values are scrubbed as whole values and whole JSON strings only
_SYSTEM_TABLES = {"events", "streams", "subject_keys", "sqlite_sequence", "evsh_meta", "checkpoints", "snapshots"}


@dataclasses.dataclass
class ForgetReport:
    subject: str
    keys: int = 0
    events: int = 0  # events holding encrypted fields of the subject (left in the log, now unreadable)
    values: int = 0
    scrubbed: dict[str, int] = dataclasses.field(default_factory=dict)  # "table.column" -> rows changed
    snapshots_dropped: int = 0
    plaintext_in_log: int = 0  # events holding one of the values unencrypted (see plaintext_events)
    plaintext_events: int = 0  # events holding the subject's personal fields unencrypted (older or imported)
    left_inside_words: int = 0  # texts where a value occurs only inside a longer word, left alone (see _as_word)
    already_forgotten: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _json_forms(value: str) -> set[str]:
    import json

    return {json.dumps(value, ensure_ascii=False), json.dumps(value, ensure_ascii=True), codec.dumps(value).lstrip()}


def _needles(value: str) -> list[str]:
    """The spellings of a value inside text: raw, and as JSON escapes it (ASCII-only or not)."""
    import json

    out = [value]
    for form in (json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]):
        if form not in out:
            out.append(form)
    return out


def _as_word(needle: str) -> re.Pattern[str]:
    """The needle where it stands on its own: "bob" in "Hello bob," but not in "bobsleigh", and one
    e-mail address never inside a longer one."""
    head = r"(?<!\w)" if re.match(r"\w", needle[0]) else ""
    tail = r"(?!\w)" if re.match(r"\w", needle[-1]) else ""
    return re.compile(head + re.escape(needle) + tail)


def _set(conn: Any, qt: str, qc: str, new: str, old: str) -> int:
    """Replace a text; where a unique key refuses (two rows would become the same), drop the rows."""
    import sqlite3

    try:
        return conn.execute(f"UPDATE {qt} SET {qc}=? WHERE {qc}=?", (new, old)).rowcount
    except sqlite3.IntegrityError:
        return conn.execute(f"DELETE FROM {qt} WHERE {qc}=?", (old,)).rowcount


def _scrub_tables(conn: Any, values: list[str], report: ForgetReport) -> None:
    tables = [
        r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            " AND sql NOT LIKE 'CREATE VIRTUAL%'"
        )
        if r[0] not in _SYSTEM_TABLES
    ]
    quoted_red = codec.dumps(REDACTED)
    for table in tables:
        qt = '"' + table.replace('"', '""') + '"'
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({qt})")]
        for column in columns:
            qc = '"' + column.replace('"', '""') + '"'
            changed = 0
            for value in values:
                changed += _set(conn, qt, qc, REDACTED, value)  # whole values
                for form in _json_forms(value):  # whole JSON strings, wherever they stand
                    texts = conn.execute(
                        f"SELECT DISTINCT {qc} FROM {qt} WHERE typeof({qc})='text' AND instr({qc}, ?) > 0", (form,)
                    ).fetchall()
                    for (text,) in texts:
                        changed += _set(conn, qt, qc, text.replace(form, quoted_red), text)
                for needle in _needles(value):  # inside longer text, as a word of its own
                    if len(needle) < MIN_IN_TEXT:
                        continue  # "A" or "jo" as a word is everywhere: only whole values and JSON strings
                    word = _as_word(needle)
                    texts = conn.execute(
                        f"SELECT DISTINCT {qc} FROM {qt} WHERE typeof({qc})='text' AND instr({qc}, ?) > 0", (needle,)
                    ).fetchall()
                    for (text,) in texts:
                        new = word.sub(REDACTED, text)
                        if new == text:
                            report.left_inside_words += 1
                            continue
                        changed += _set(conn, qt, qc, new, text)
            if changed:
                report.scrubbed[f"{table}.{column}"] = changed


def _mentions(obj: Any, value: str) -> bool:
    """Whether a plain (not encrypted) string inside a JSON value contains ``value`` as a word of its own."""
    if isinstance(obj, str):
        return not is_token(obj) and value in obj and _as_word(value).search(obj) is not None
    if isinstance(obj, dict):
        return any(_mentions(v, value) for v in obj.values())
    if isinstance(obj, list):
        return any(_mentions(v, value) for v in obj)
    return False


def forget(engine: Engine, subject: str, *, on_step: Callable[[str], None] | None = None,
           on_values: Callable[[list[str]], None] | None = None) -> ForgetReport:
    """Destroy the subject's keys and every copy of their personal values outside the log; then rewrite the file.

    ``on_values`` receives the subject's plain values (for scrubbing copies outside the store,
    such as the shell's history); they are never part of the report."""
    store = engine.store
    check_name(subject, "subject")
    engine.forget_cached()  # cached aggregates hold decrypted values
    report = ForgetReport(subject)
    step = on_step or (lambda s: None)
    conn = store.conn
    keys = conn.execute("SELECT key_id, key FROM subject_keys WHERE subject=? AND key IS NOT NULL", (subject,)).fetchall()
    report.already_forgotten = not keys and conn.execute(
        "SELECT 1 FROM subject_keys WHERE subject=?", (subject,)
    ).fetchone() is not None
    step("finding the subject's values")
    values: set[str] = set()
    for key_id, key in keys:
        cipher = _aesgcm(key)
        marker = PREFIX + key_id + ":"
        for (data,) in conn.execute("SELECT data FROM events WHERE instr(data, ?) > 0", (marker,)):
            report.events += 1
            for v in codec.loads(data).values():
                if is_token(v) and v.startswith(marker):
                    plain = unseal(cipher, v)
                    if plain is not None:
                        values.add(plain if isinstance(plain, str) else codec.dumps(plain))
    # personal fields stored in plaintext (written before they were declared personal, or imported):
    # the log keeps them, but their copies elsewhere are scrubbed all the same, and the report says so
    domain = engine.domain
    for spec in (domain.events.values() if domain is not None else ()):
        if not spec.personal or spec.subject is None:
            continue
        for (data,) in conn.execute(
            "SELECT data FROM events WHERE type=? AND json_extract(data, ?) = ?", (spec.name, f"$.{spec.subject}", subject)
        ):
            found = False
            for f, v in codec.loads(data).items():
                if f in spec.personal and v is not None and not is_token(v) and v != REDACTED:
                    values.add(v if isinstance(v, str) else codec.dumps(v))
                    found = True
            report.plaintext_events += found
    values.discard(REDACTED)
    values.discard("")
    ordered = sorted(values, key=len, reverse=True)  # longest first: a value inside another is replaced after it
    report.keys, report.values = len(keys), len(ordered)
    if on_values is not None:
        on_values(ordered)
    step("scrubbing read models and side-effect tables")
    conn.execute("PRAGMA secure_delete=ON")
    try:
        with store.transaction() as tx:
            _scrub_tables(tx, ordered, report)
            for value in ordered:
                for form in {value, *_json_forms(value)}:
                    report.snapshots_dropped += tx.execute(
                        "DELETE FROM snapshots WHERE instr(state, ?) > 0", (form,)
                    ).rowcount
            leaking: set[int] = set()
            for value in ordered:
                for position, data, meta in tx.execute(
                    "SELECT position, data, metadata FROM events WHERE instr(data, ?) > 0 OR instr(metadata, ?) > 0",
                    (value, value),
                ):
                    # a short value may turn up inside ciphertext by chance: look at plain strings only
                    if _mentions(codec.loads(data), value) or _mentions(codec.loads(meta), value):
                        leaking.add(position)
            report.plaintext_in_log = len(leaking)
            tx.execute(
                "UPDATE subject_keys SET key=NULL, forgotten_at=? WHERE subject=? AND key IS NOT NULL",
                (store.clock(), subject),
            )
            if keys:
                store.append(FORGOTTEN_STREAM, [NewEvent("SubjectForgotten", {"subject": subject}, {"schema_version": 1})])
    except BaseException:
        conn.execute("PRAGMA secure_delete=OFF")
        raise
    sh = shredder(engine)
    if sh is not None:
        sh.keys.clear()
    if not keys and not ordered and not report.already_forgotten:
        conn.execute("PRAGMA secure_delete=OFF")
        return report  # nothing of this subject anywhere: no need to rewrite the file
    step("rewriting the store file (VACUUM) and emptying the WAL")
    try:
        store.compact(secure=True)
    finally:
        conn.execute("PRAGMA secure_delete=OFF")
    return report
