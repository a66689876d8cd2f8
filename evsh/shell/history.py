"""The shell's history file, kept free of personal data.

`evsh forget` destroys a subject's key, but a line typed at the shell's prompt
(``exec user u1 register --email bob@example.com ...``) used to stay in the history file for
good. So a line that holds the value of a personal field (``@event(personal=(...))``) is never
written there; it stays in the running shell's memory (the Up arrow) until the shell ends or a
``forget`` runs in it. A value counts as personal when it is given

- to an option or a ``field=value`` named like a personal field (``--email X``, ``email=X``),
- under such a key inside JSON (``append user-u1 UserRegistered '{"email": "X", ...}'``),
- or when it is one of the personal values the session's own commands wrote, wherever it stands
  later (``sql "... WHERE email = 'X'"``).

Wrongly keeping a line out of the file costs a line of history; the other mistake costs a
person's data, so matching errs on the side of keeping lines out. ``evsh forget`` also removes
the lines mentioning the forgotten values from the history file (:func:`scrub_file`), which
reaches what was typed before these rules or in words they cannot recognise.

No prompt_toolkit here: ``evsh forget`` uses this module too.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from typing import Any, Iterable

SHORT = 3  # shorter values count only as a whole word of the line, not inside longer words


def _defaults() -> tuple[str, str]:
    """The default history file and its fallback where that folder cannot be made."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "evsh", "history"), os.path.join(os.path.expanduser("~"), ".evsh_history")


def default_history_file() -> str:
    """~/.local/share/evsh/history (XDG_DATA_HOME honoured), or ~/.evsh_history as a fallback."""
    path, fallback = _defaults()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path
    except OSError:
        return fallback


def history_files() -> list[str]:
    """The history files the shell writes without --history: EVSH_HISTORY when set, and the
    default one (its fallback when the default's folder does not exist). Nothing is created."""
    path, fallback = _defaults()
    found = [os.environ.get("EVSH_HISTORY") or "", path if os.path.isdir(os.path.dirname(path)) else fallback]
    return [p for p in dict.fromkeys(found) if p]


def personal_fields(domain: Any) -> set[str]:
    """Names of every personal field the domain's events declare."""
    if domain is None:
        return set()
    return {f for spec in domain.events.values() for f in spec.personal}


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:  # an open quote: the words as typed
        return line.split()


def mentions(text: str, values: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the values: anywhere for values of SHORT characters or more,
    as a whole word for shorter ones ("jo" is inside too many words)."""
    words: set[str] | None = None
    for value in values:
        if len(value) >= SHORT:
            if value in text:
                return True
        else:
            if words is None:
                words = set(_words(text))
            if value in words:
                return True
    return False


def _json_values(value: Any, fields: set[str], out: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in fields and v is not None and not isinstance(v, (dict, list)):
                out.add(str(v))
            else:
                _json_values(v, fields, out)
    elif isinstance(value, list):
        for v in value:
            _json_values(v, fields, out)


class PersonalValues:
    """Tells which shell lines hold personal values, learning the values as the session goes."""

    def __init__(self, fields: set[str]) -> None:
        self.fields = fields
        self.values: set[str] = set()

    @classmethod
    def of(cls, app: Any) -> "PersonalValues":
        """For the shell's context: the personal fields of its domain (none when it cannot load)."""
        try:
            return cls(personal_fields(app.domain()))
        except Exception:  # a broken domain is reported when a command needs it
            return cls(set())

    def follow(self, app: Any) -> None:
        """After `domain FILE` in the shell: the new domain's personal fields count too (the
        old ones still do: their values may be in this session's lines)."""
        try:
            self.fields |= personal_fields(app.domain())
        except Exception:  # a domain that cannot load was refused by `domain` already
            pass

    def head(self, app: Any) -> int | None:
        """The store's last position before an entry runs (None: no store yet, or nothing to learn)."""
        if not self.fields:
            return None
        try:
            return app.store().head_position()
        except Exception:  # no store yet, or it is busy
            return None

    def learn_written(self, app: Any, before: int | None) -> None:
        """Learn the personal values of the events written after position ``before``."""
        if not self.fields:
            return
        try:
            self.learn(written_values(app.engine(), before or 0))
        except Exception:  # no store, or a domain that cannot load: the lines' own words still count
            pass

    def named_in(self, line: str) -> set[str]:
        """Values the line gives to options, ``field=`` words or JSON keys named like a personal field."""
        found: set[str] = set()
        words = _words(line)
        for i, word in enumerate(words):
            name, eq, value = word.lstrip("-").partition("=")
            if name.replace("-", "_") in self.fields:
                if eq:
                    found.add(value)
                elif word.startswith("--") and i + 1 < len(words):
                    found.add(words[i + 1])
            if word[:1] in "{[":
                from ..store import codec

                try:
                    _json_values(codec.parse(word), self.fields, found)
                except ValueError:
                    pass
        found.discard("")
        return found

    def learn(self, values: Iterable[str]) -> None:
        self.values.update(v for v in values if v)

    def private(self, line: str) -> bool:
        """Whether the line holds a personal value (those it names are remembered for later lines)."""
        named = self.named_in(line)
        self.learn(named)
        return bool(named) or mentions(line, self.values)


def written_values(engine: Any, after: int, limit: int = 1000) -> set[str]:
    """Plain values of personal fields in the events after position ``after`` (at most ``limit``)."""
    from ..engine.shredding import REDACTED, is_token

    out: set[str] = set()
    domain = engine.domain
    for rec in engine.read_all(after + 1, limit=limit):
        spec = domain.event_type(rec.type)
        for f in (spec.personal if spec is not None else ()):
            v = rec.data.get(f)
            if v is not None and v != REDACTED and not is_token(v):
                out.add(v if isinstance(v, str) else str(v))
    return out


def scrub_file(path: str, values: Iterable[str]) -> int:
    """Remove the entries of a shell history file that mention any of the values; returns how many.

    The file keeps prompt_toolkit's layout (a ``# time`` line, then ``+``-prefixed lines per entry)
    and is replaced in one step, so a reader never sees half of it. A file that is not laid out
    so (or not UTF-8) raises ValueError and is left as it is.
    """
    values = [v for v in values if v]
    if not values or not os.path.isfile(path):
        return 0
    with open(path, "rb") as fh:
        raw = fh.read()
    if not raw.strip():
        return 0
    try:  # lines end at "\n" only, as the shell writes them (an entry may hold U+2028, a lone CR, ...)
        lines = raw.decode("utf-8").split("\n")
        lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text, so not a shell history file") from None
    if any(line.strip() and line[0] not in "#+" for line in lines):
        # not what the shell writes (another store, a document): rewriting it would destroy it
        raise ValueError("it does not look like a shell history file")
    entries: list[list[str]] = [[]]
    for line in lines:
        if not line.startswith("+") and entries[-1] and entries[-1][-1].startswith("+"):
            entries.append([])  # a line that is not text after an entry's text starts the next entry
        entries[-1].append(line)
    kept = [e for e in entries if not mentions("".join(x[1:] for x in e if x.startswith("+")), values)]
    removed = len(entries) - len(kept)
    if not removed:
        return 0
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".history-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(line for e in kept for line in e)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return removed
