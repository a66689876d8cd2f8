"""Crypto-shredding: personal fields are encrypted with a key per data subject; forgetting destroys the key.

An event class declares ``@event(personal=("email", ...), subject="user_id")``. On the way into
the store each personal field becomes a token ``evsh:pii:1:<key id>:<base64 nonce+ciphertext>``
(AES-256-GCM from the ``cryptography`` package, the key id as associated data); on the read path
tokens are decrypted, or read as ``[redacted]`` once the key is gone. The log itself is never
rewritten: every other field, every version and every position stays as it was.

``forget`` also removes what readers have already copied elsewhere: it decrypts the subject's
values one last time, scrubs them from every table that is not the log (read models, dead
letters, side-effect tables, recorded command parameters), drops snapshots holding them,
destroys the key, and then rewrites the file (secure_delete, VACUUM, WAL checkpoint with
truncation) so that no byte of them is left in the file, its free pages or the WAL.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
import re
import time
import typing
import uuid
from typing import Any, Callable, Iterable, Iterator

from ..domain.model import EventSpec
from ..errors import BadInput, DomainError, StoreError
from ..store import codec
from ..store.base import NewEvent, RecordedEvent, check_name
from .engine import Engine

PREFIX = "evsh:pii:1:"
_PLEN = len(PREFIX)
REDACTED = "[redacted]"
FORGOTTEN_STREAM = "$subjects"
MIN_IN_TEXT = 3  # shorter values are scrubbed as whole values and whole JSON strings only
RECHECK = 0.2  # seconds between checks for keys destroyed by another process
_SYSTEM_TABLES = {"events", "streams", "subject_keys", "sqlite_sequence", "evsh_meta", "checkpoints", "snapshots"}


def _aesgcm(key: bytes) -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


class Keyring:
    """Subjects' keys, read from the store and cached until another connection commits."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._by_id: dict[str, Any] = {}
        self._by_subject: dict[str, tuple[str, Any]] = {}
        self._epoch: int | None = None
        self._checked = float("-inf")

    def _fresh(self) -> None:
        # Another process may have destroyed a key: the store's epoch tells (asking costs more than
        # a decryption, so it is asked at most every RECHECK seconds; this process's own forget clears at once).
        now = time.monotonic()
        if now - self._checked < RECHECK:
            return
        self._checked = now
        epoch = self.store.epoch()
        if epoch != self._epoch:
            self.clear()
            self._epoch = epoch

    def clear(self) -> None:
        self._by_id.clear()
        self._by_subject.clear()
        self._checked = float("-inf")

    def active(self, subject: str, *, create: bool) -> tuple[str, Any] | None:
        """(key id, cipher) of the subject's live key; made on first use when ``create``."""
        self._fresh()
        hit = self._by_subject.get(subject)
        if hit is not None:
            return hit
        conn = self.store.conn
        sql = "SELECT key_id, key FROM subject_keys WHERE subject=? AND key IS NOT NULL"
        row = conn.execute(sql, (subject,)).fetchone()
        if row is None:
            if not create:
                return None
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            with self.store.transaction() as tx:
                tx.execute(
                    "INSERT OR IGNORE INTO subject_keys (key_id, subject, key, created_at) VALUES (?,?,?,?)",
                    (uuid.uuid4().hex, subject, AESGCM.generate_key(bit_length=256), self.store.clock()),
                )
                row = tx.execute(sql, (subject,)).fetchone()
        hit = (row[0], _aesgcm(row[1]))
        self._by_subject[subject] = hit
        self._by_id[row[0]] = hit[1]
        return hit

    def by_id(self, key_id: str) -> Any | None:
        """The cipher of a key id, or None when that key was destroyed (or never existed here)."""
        self._fresh()
        if key_id in self._by_id:
            return self._by_id[key_id]
        row = self.store.conn.execute("SELECT key FROM subject_keys WHERE key_id=?", (key_id,)).fetchone()
        cipher = _aesgcm(row[0]) if row is not None and row[0] is not None else None
        self._by_id[key_id] = cipher
        return cipher


def seal(key_id: str, cipher: Any, value: Any) -> str:
    nonce = os.urandom(12)
    ct = cipher.encrypt(nonce, codec.dumps(value).encode(), key_id.encode())
    return PREFIX + key_id + ":" + binascii.b2a_base64(nonce + ct, newline=False).decode()


def split_token(token: str) -> tuple[str, bytes]:
    key_id, _, body = token[_PLEN:].partition(":")
    return key_id, binascii.a2b_base64(body)


def unseal(cipher: Any, token: str) -> Any:
    key_id, raw = split_token(token)
    return codec.loads(cipher.decrypt(raw[:12], raw[12:], key_id.encode()))


def is_token(value: Any) -> bool:
    return type(value) is str and value.startswith(PREFIX)


class Shredder:
    """The write-side (encrypt) and read-side (decrypt or redact) transforms for one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.keys = Keyring(engine.store)
        self._redacted: dict[tuple[str, str], Any] = {}

    # -------------------------------------------------------------- writing
    def subject_of(self, spec: EventSpec, stream_id: str, data: dict[str, Any]) -> str:
        if spec.subject is None:
            return stream_id  # no subject declared: the stream is the data subject
        value = data.get(spec.subject)
        if value is None or isinstance(value, (dict, list, bool)):
            raise BadInput(f"event {spec.name}: personal fields need a subject, but {spec.subject!r} is {value!r}")
        return check_name(str(value), f"subject {spec.subject}")

    def encrypt(self, stream_id: str, ev: NewEvent, *, create: bool = True) -> NewEvent:
        domain = self.engine.domain
        spec = domain.event_type(ev.type) if domain is not None else None
        if spec is None or not spec.personal:
            return ev
        fields = [f for f in spec.personal if f in ev.data and ev.data[f] is not None and not is_token(ev.data[f])]
        if not fields:
            return ev
        key = self.keys.active(self.subject_of(spec, stream_id, ev.data), create=create)
        if key is None:
            return ev
        data = dict(ev.data)
        for f in fields:
            if data[f] != REDACTED:
                data[f] = seal(key[0], key[1], data[f])
        return dataclasses.replace(ev, data=data)

    # -------------------------------------------------------------- reading
    def redacted(self, type_: str, field: str) -> Any:
        """``[redacted]`` for text fields; None for others (declare them Optional)."""
        key = (type_, field)
        if key not in self._redacted:
            value: Any = REDACTED
            spec = self.engine.domain.event_type(type_) if self.engine.domain is not None else None
            if spec is not None:
                try:
                    hint = typing.get_type_hints(spec.cls).get(field, str)
                except Exception:
                    hint = str
                if hint is not str and hint is not typing.Any:
                    value = None
            self._redacted[key] = value
        return self._redacted[key]

    def decrypt(self, rec: RecordedEvent) -> RecordedEvent:
        data = rec.data
        out: dict[str, Any] | None = None
        redacted: list[str] = []
        for k, v in data.items():
            if type(v) is str and v.startswith(PREFIX):
                if out is None:
                    out = dict(data)
                key_id, _, body = v[_PLEN:].partition(":")
                cipher = self.keys.by_id(key_id)
                if cipher is None:
                    out[k] = self.redacted(rec.type, k)
                    redacted.append(k)
                    continue
                try:
                    raw = binascii.a2b_base64(body)
                    out[k] = codec.loads(cipher.decrypt(raw[:12], raw[12:], key_id.encode()))
                except Exception as exc:
                    raise StoreError(
                        f"event {rec.stream_id}@{rec.version}: field {k!r} cannot be decrypted ({type(exc).__name__})"
                    ) from None
        if out is None:
            return rec
        meta = {**rec.metadata, "redacted": redacted} if redacted else rec.metadata
        return rec._replace(data=out, metadata=meta)


def _has_personal(engine: Engine) -> bool:
    return engine.domain is not None and any(s.personal for s in engine.domain.events.values())


def shredder(engine: Engine) -> Shredder | None:
    return engine.__dict__.get("_evsh_shredder")


def install(engine: Engine, options: dict[str, Any]) -> None:
    """Encrypt on the way in when the domain has personal fields; decrypt on the read path when any key exists."""
    if not hasattr(engine.store, "conn"):
        return
    personal = _has_personal(engine)
    if personal:
        for spec in engine.domain.events.values():
            if spec.subject is not None and spec.subject in spec.personal:
                raise DomainError(f"event {spec.name}: the subject field {spec.subject!r} names whose key encrypts"
                                  " the personal fields, so it cannot be personal itself (use an id)")
            if spec.personal and spec.subject is not None and spec.subject not in spec.fields:
                raise DomainError(f"event {spec.name}: subject {spec.subject!r} is not a field")
    if not personal and engine.store.conn.execute("SELECT 1 FROM subject_keys LIMIT 1").fetchone() is None:
        return
    sh = Shredder(engine)
    engine.__dict__["_evsh_shredder"] = sh
    engine.transforms.insert(0, sh.decrypt)  # before upcasting: upcasters see plain values
    if personal:
        engine.write_transforms.append(sh.encrypt)


def reseal(engine: Engine, rec: RecordedEvent) -> RecordedEvent:
    """An event as readers see it, with its personal fields encrypted again (for ``export --upcast``).

    Never makes a key: a forgotten subject's fields stay redacted.
    """
    sh = shredder(engine)
    if sh is None:
        return rec
    ev = sh.encrypt(rec.stream_id, NewEvent(rec.type, rec.data, rec.metadata, rec.event_id), create=False)
    return rec if ev.data is rec.data else rec._replace(data=ev.data)


# ----------------------------------------------------------------------------- forgetting

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


def forget(engine: Engine, subject: str, *, on_step: Callable[[str], None] | None = None) -> ForgetReport:
    """Destroy the subject's keys and every copy of their personal values outside the log; then rewrite the file."""
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


# ----------------------------------------------------------------------------- moving keys between stores

def list_keys(store: Any) -> list[tuple[str, str, str, str | None]]:
    """(subject, key id, created_at, forgotten_at) of every key: never the key material."""
    return store.conn.execute(
        "SELECT subject, key_id, created_at, forgotten_at FROM subject_keys ORDER BY subject, created_at"
    ).fetchall()


def export_keys(store: Any) -> Iterator[dict[str, Any]]:
    """The live keys, for ``evsh keys export``: with the events exported, they make personal fields readable."""
    for key_id, subject, key, created_at in store.conn.execute(
        "SELECT key_id, subject, key, created_at FROM subject_keys WHERE key IS NOT NULL ORDER BY subject, created_at"
    ):
        yield {"key_id": key_id, "subject": subject, "key": binascii.b2a_base64(key, newline=False).decode(),
               "created_at": created_at}


def import_keys(store: Any, items: Iterable[tuple[int, Any]]) -> tuple[int, int]:
    """Add keys written by :func:`export_keys`, all or nothing; returns (added, skipped).

    A key already here is skipped; so is a key of a subject that has another live key here (and
    which, then, was forgotten there or registered anew here).
    """
    added = skipped = 0
    with store.transaction() as tx:
        for line, obj in items:
            try:
                if not isinstance(obj, dict) or set(obj) != {"key_id", "subject", "key", "created_at"}:
                    raise BadInput("expected an object with key_id, subject, key and created_at")
                key = binascii.a2b_base64(obj["key"])
                if len(key) != 32 or not all(isinstance(obj[k], str) for k in ("key_id", "subject", "created_at")):
                    raise BadInput("not an evsh subject key")
            except (binascii.Error, TypeError, AttributeError):
                raise BadInput(f"line {line}: not an evsh subject key") from None
            except BadInput as exc:
                raise BadInput(f"line {line}: {exc}") from None
            cur = tx.execute(
                "INSERT OR IGNORE INTO subject_keys (key_id, subject, key, created_at) VALUES (?,?,?,?)",
                (obj["key_id"], check_name(obj["subject"], "subject"), key, obj["created_at"]),
            )
            if cur.rowcount:
                added += 1
            else:
                skipped += 1
    return added, skipped
