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
    # transactions that began before the rewrite and were still open after the busy timeout: the
    # row versions they may read stay in the server's files until they end (PostgreSQL)
    held_back_by: list[str] = dataclasses.field(default_factory=list)

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


def _scrub_tables(store: Any, values: list[str], report: ForgetReport) -> None:
    """Replace the values wherever they stand in the store's other tables (inside the caller's
    transaction): whole values, whole JSON strings, and words inside longer text."""
    quoted_red = codec.dumps(REDACTED)
    for table, column in store.text_columns():
        changed = 0
        for value in values:
            changed += store.replace_text(table, column, value, REDACTED)  # whole values
            for form in _json_forms(value):  # whole JSON strings, wherever they stand
                for text in store.texts_containing(table, column, form):
                    changed += store.replace_text(table, column, text, text.replace(form, quoted_red))
            for needle in _needles(value):  # inside longer text, as a word of its own
                if len(needle) < MIN_IN_TEXT:
                    continue  # "A" or "jo" as a word is everywhere: only whole values and JSON strings
                word = _as_word(needle)
                for text in store.texts_containing(table, column, needle):
                    new = word.sub(REDACTED, text)
                    if new == text:
                        report.left_inside_words += 1
                        continue
                    changed += store.replace_text(table, column, text, new)
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
    live = store.subject_key(subject)  # at most one live key per subject
    keys = [live] if live is not None else []
    report.already_forgotten = not keys and store.subject_known(subject)
    step("finding the subject's values")
    values: set[str] = set()
    for key_id, key in keys:
        cipher = _aesgcm(key)
        marker = PREFIX + key_id + ":"
        for _, data, _ in store.events_containing(marker):
            if marker not in data:
                continue
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
        for data in store.events_with_field(spec.name, spec.subject, subject):
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
    with store.securely():
        with store.transaction():
            _scrub_tables(store, ordered, report)
            for value in ordered:
                for form in {value, *_json_forms(value)}:
                    report.snapshots_dropped += store.drop_snapshots_containing(form)
            leaking: set[int] = set()
            for value in ordered:
                for position, data, meta in store.events_containing(value):
                    # a short value may turn up inside ciphertext by chance: look at plain strings only
                    if _mentions(codec.loads(data), value) or _mentions(codec.loads(meta), value):
                        leaking.add(position)
            report.plaintext_in_log = len(leaking)
            store.destroy_subject_keys(subject)
            if keys:
                store.append(FORGOTTEN_STREAM, [NewEvent("SubjectForgotten", {"subject": subject}, {"schema_version": 1})])
        sh = shredder(engine)
        if sh is not None:
            sh.keys.clear()
        if not keys and not ordered and not report.already_forgotten:
            return report  # nothing of this subject anywhere: no need to rewrite the file
        step("rewriting the store file (VACUUM) and emptying the WAL")
        report.held_back_by = store.compact(secure=True) or []
    return report

