"""Crypto-shredding: personal fields are encrypted with a key per data subject; forgetting destroys the key.

An event class declares ``@event(personal=("email", ...), subject="user_id")``. On the way into
the store each personal field becomes a token ``evsh:pii:1:<key id>:<base64 nonce+ciphertext>``
(AES-256-GCM from the ``cryptography`` package, the key id as associated data); on the read path
tokens are decrypted, or read as ``[redacted]`` once the key is gone. The log itself is never
rewritten: every other field, every version and every position stays as it was.

Forgetting a subject (destroying its key and scrubbing what readers copied) is in
``forgetting``; this module is what every engine needs to read and write personal fields.
"""

from __future__ import annotations

import binascii
import dataclasses
import os
import re
import time
import typing
import uuid
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from ..errors import BadInput, ConcurrencyError, DomainError, StoreError
from ..store import codec
from ..store.base import NewEvent, RecordedEvent, check_name
from .engine import Engine

if TYPE_CHECKING:
    from ..domain.model import EventSpec

PREFIX = "evsh:pii:1:"
_PLEN = len(PREFIX)
REDACTED = "[redacted]"
FORGOTTEN_STREAM = "$subjects"
KEY_BYTES = 32  # AES-256
RECHECK = 0.2  # seconds between checks for keys destroyed by another process


def _aesgcm(key: bytes) -> Any:
    global _AESGCM
    if _AESGCM is None:  # imported on first use: a store without keys never pays for it
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        _AESGCM = AESGCM
    return _AESGCM(key)


_AESGCM: Any = None
_UNKNOWN = object()


class Keyring:
    """Subjects' keys, read from the store and cached until another connection commits.

    A subject's first key is made in memory (pending) and written by :meth:`write`, an append
    hook, inside the transaction of the events it encrypts: a command that fails writes no key,
    and a key written in a transaction that rolls back is forgotten with it (a rollback moves
    the store's epoch, which empties the cache).
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._by_id: dict[str, Any] = {}
        self._by_subject: dict[str, tuple[str, Any]] = {}
        self._pending: dict[str, tuple[str, bytes, Any]] = {}  # subject -> (key id, key, cipher), not written yet
        self._pending_ids: dict[str, str] = {}  # key id -> subject, of the pending keys
        self._epoch: int | None = None
        self._checked = float("-inf")

    def _fresh(self) -> None:
        # A rollback here moves the store's epoch at once (a key written in it is gone); another
        # process may have destroyed a key: the store's epoch tells (asking costs more than a
        # decryption, so it is asked at most every RECHECK seconds; this process's own forget clears at once).
        if self.store.epoch(check=False) != self._epoch:
            self.clear()
            self._epoch = self.store.epoch(check=False)
        now = time.monotonic()
        if now - self._checked < RECHECK:
            return
        self._checked = now
        epoch = self.store.epoch()
        if epoch != self._epoch:
            self.clear()
            self._epoch = epoch

    def clear(self) -> None:
        """Forget the cached keys (pending ones stay: events encrypted with them are about to be written)."""
        self._by_id.clear()
        self._by_subject.clear()
        self._checked = float("-inf")

    def active(self, subject: str, *, create: bool) -> tuple[str, Any] | None:
        """(key id, cipher) of the subject's live key; made on first use when ``create`` (and
        written with the first events it encrypts, see :meth:`write`)."""
        self._fresh()
        hit = self._by_subject.get(subject)
        if hit is not None:
            return hit
        pending = self._pending.get(subject)
        if pending is not None:
            return pending[0], pending[2]
        row = self.store.subject_key(subject)
        if row is None:
            if not create:
                return None
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            key_id, key = uuid.uuid4().hex, AESGCM.generate_key(bit_length=8 * KEY_BYTES)
            self._pending[subject] = (key_id, key, _aesgcm(key))
            self._pending_ids[key_id] = subject
            return key_id, self._pending[subject][2]
        hit = (row[0], _aesgcm(row[1]))
        self._by_subject[subject] = hit
        self._by_id[row[0]] = hit[1]
        return hit

    def ensure(self, subjects: Iterable[str]) -> None:
        """Live keys for many subjects at once, for bulk writers (`evsh seed`): one statement makes
        the missing keys and a few read them all into the cache, instead of a transaction each."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._fresh()
        wanted = [s for s in dict.fromkeys(subjects) if s not in self._by_subject]
        if not wanted:
            return
        with self.store.transaction():
            live = self.store.add_subject_keys(
                [(s, uuid.uuid4().hex, AESGCM.generate_key(bit_length=256)) for s in wanted])
        for subject, (key_id, key) in live.items():
            hit = (key_id, _aesgcm(key))
            self._by_subject[subject] = hit
            self._by_id[key_id] = hit[1]

    def by_id(self, key_id: str) -> Any | None:
        """The cipher of a key id, or None when that key was destroyed (or never existed here)."""
        self._fresh()
        if key_id in self._by_id:
            return self._by_id[key_id]
        subject = self._pending_ids.get(key_id)
        if subject is not None:
            return self._pending[subject][2]
        key = self.store.key_material(key_id)
        cipher = _aesgcm(key) if key is not None else None
        self._by_id[key_id] = cipher
        return cipher

    def load(self, key_ids: Iterable[str]) -> None:
        """Cache the ciphers of these key ids that are not cached yet, read in one statement (a
        page of events being decrypted), as by_id would one by one."""
        self._fresh()
        missing = [k for k in set(key_ids) if k not in self._by_id and k not in self._pending_ids]
        if missing:
            found = self.store.key_materials(missing)
            for key_id in missing:
                key = found.get(key_id)
                self._by_id[key_id] = _aesgcm(key) if key is not None else None

    def cached(self, key_id: str) -> Any | None:
        """by_id for keys just loaded (see load): a dictionary look-up first."""
        cipher = self._by_id.get(key_id, _UNKNOWN)
        return self.by_id(key_id) if cipher is _UNKNOWN else cipher

    def write(self, store: Any, recorded: Sequence[RecordedEvent]) -> None:
        """Append hook: write the pending keys these events were encrypted with, in their transaction."""
        if not self._pending:
            return
        used = {v[_PLEN:].partition(":")[0] for rec in recorded for v in rec.data.values() if is_token(v)}
        for key_id in used.intersection(self._pending_ids):
            subject = self._pending_ids.pop(key_id)
            _, key, cipher = self._pending.pop(subject)
            live = store.add_subject_key(subject, key_id, key)
            if live[0] != key_id:  # another writer gave the subject a key meanwhile: encrypt again with theirs
                self.clear()
                conflict = ConcurrencyError(recorded[0].stream_id, "a new key", 0)
                conflict.args = (f"subject {subject!r} was given a key by another writer meanwhile; try again",)
                raise conflict
            self._by_subject[subject] = (key_id, cipher)
            self._by_id[key_id] = cipher


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

    # Every sealed value starts with this: a stored text without it has nothing to decrypt.
    marker = PREFIX

    def decrypt_page(self, recs: list[RecordedEvent]) -> list[RecordedEvent]:
        """decrypt of each record (records holding sealed values), their keys read in one statement."""
        self.keys.load({v[_PLEN:].partition(":")[0] for rec in recs for v in rec.data.values()
                        if type(v) is str and v.startswith(PREFIX)})
        by_id = self.keys.cached
        return [self._decrypt(rec, by_id) for rec in recs]

    def decrypt(self, rec: RecordedEvent) -> RecordedEvent:
        return self._decrypt(rec, self.keys.by_id)

    def _decrypt(self, rec: RecordedEvent, by_id: Any) -> RecordedEvent:
        data = rec.data
        out: dict[str, Any] | None = None
        redacted: list[str] = []
        for k, v in data.items():
            if type(v) is str and v.startswith(PREFIX):
                if out is None:
                    out = dict(data)
                key_id, _, body = v[_PLEN:].partition(":")
                cipher = by_id(key_id)
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
        meta = {**rec.metadata, "redacted": redacted} if redacted else rec[6]  # as held: decoded or not yet
        return tuple.__new__(RecordedEvent, (*rec[:5], out, meta, rec[7]))


def _has_personal(engine: Engine) -> bool:
    return engine.domain is not None and any(s.personal for s in engine.domain.events.values())


def shredder(engine: Engine) -> Shredder | None:
    return engine.shredder


def install(engine: Engine, options: dict[str, Any]) -> None:
    """Encrypt on the way in when the domain has personal fields; decrypt on the read path when any key exists."""
    personal = _has_personal(engine)
    if personal:
        for spec in engine.domain.events.values():
            if spec.subject is not None and spec.subject in spec.personal:
                raise DomainError(f"event {spec.name}: the subject field {spec.subject!r} names whose key encrypts"
                                  " the personal fields, so it cannot be personal itself (use an id)")
            if spec.personal and spec.subject is not None and spec.subject not in spec.fields:
                raise DomainError(f"event {spec.name}: subject {spec.subject!r} is not a field")
    if not personal and not engine.store.has_subject_keys():
        return
    sh = Shredder(engine)
    engine.shredder = sh
    engine.transforms.insert(0, sh.decrypt)  # before upcasting: upcasters see plain values
    if personal:
        engine.write_transforms.append(sh.encrypt)
        engine.append_hooks.insert(0, sh.keys.write)  # first: a key is in the store before anything reads its events


def reseal(engine: Engine, rec: RecordedEvent) -> RecordedEvent:
    """An event as readers see it, with its personal fields encrypted again (for ``export --upcast``).

    Never makes a key: a forgotten subject's fields stay redacted.
    """
    sh = shredder(engine)
    if sh is None:
        return rec
    ev = sh.encrypt(rec.stream_id, NewEvent(rec.type, rec.data, rec.metadata, rec.event_id), create=False)
    return rec if ev.data is rec.data else rec._replace(data=ev.data)


# ----------------------------------------------------------------------------- moving keys between stores

def list_keys(store: Any) -> list[tuple[str, str, str, str | None]]:
    """(subject, key id, created_at, forgotten_at) of every key: never the key material."""
    return store.list_subject_keys()


def export_keys(store: Any) -> Iterator[dict[str, Any]]:
    """The live keys, for ``evsh keys export``: with the events exported, they make personal fields readable."""
    for key_id, subject, key, created_at in store.live_subject_keys():
        yield {"key_id": key_id, "subject": subject, "key": binascii.b2a_base64(key, newline=False).decode(),
               "created_at": created_at}


def import_keys(store: Any, items: Iterable[tuple[int, Any]]) -> tuple[int, int]:
    """Add keys written by :func:`export_keys`, all or nothing; returns (added, skipped).

    Every field of every line is checked (:func:`checked_key`): one that is wrong refuses the
    whole file. A key already here is skipped; so is a key of a subject that has another live
    key here (and which, then, was forgotten there or registered anew here).
    """
    added = skipped = 0
    with store.transaction():
        for line, obj in items:
            try:
                key_id, subject, key, created_at = checked_key(obj)
            except BadInput as exc:
                raise BadInput(f"line {line}: {exc}; give a file written by `evsh keys export`") from None
            if store.import_subject_key(key_id, subject, key, created_at):
                added += 1
            else:
                skipped += 1
    return added, skipped


KEY_FIELDS = ("key_id", "subject", "key", "created_at")
_KEY_ID = re.compile(r"[0-9a-f]{32}")  # what Keyring.active makes: uuid4().hex


def checked_key(obj: Any) -> tuple[str, str, bytes, str]:
    """(key id, subject, key, created_at) of one line of a keys file, each field as evsh writes
    it; BadInput naming the field otherwise."""
    from ..store.lines import is_iso_time

    if not isinstance(obj, dict) or set(obj) != set(KEY_FIELDS):
        raise BadInput("expected an object with key_id, subject, key and created_at")
    key_id, subject, encoded, created_at = (obj[f] for f in KEY_FIELDS)
    if type(key_id) is not str or not _KEY_ID.fullmatch(key_id):
        raise BadInput(f"key_id {_shown(key_id)} is not a key id evsh makes (32 lowercase hex digits)")
    check_name(subject, "subject")
    try:
        key = binascii.a2b_base64(encoded, strict_mode=True) if type(encoded) is str else None
    except ValueError:  # not base64, or not ASCII at all (binascii.Error is a ValueError)
        key = None
    if key is None or len(key) != KEY_BYTES:
        raise BadInput(f"key is not a {KEY_BYTES}-byte key in base64")
    if not is_iso_time(created_at):
        raise BadInput(f"created_at {_shown(created_at)} is not an ISO 8601 time such as 2026-01-01T09:00:00Z")
    return key_id, subject, key, created_at


def _shown(value: Any) -> str:
    """A field's value in a message: its repr (escapes, not raw control characters), cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
