"""User text made safe to show: the one sanitiser every front end uses.

Stored data (payloads, stream ids, errors a handler raised, rows of read models, a script's
lines) may hold any character, and to a terminal some characters are instructions: ESC starts
sequences that set the window title (OSC 0), make links (OSC 8) or clear the screen; the C1
control U+009B is a one-byte CSI on some terminals; the bidirectional overrides (U+202E, ...)
reorder what is drawn, so a name can show as something else ("Trojan Source"); U+2028 breaks
lines. Every front end (the CLI's tables, trees, titles, progress bars and messages, the shell,
the TUI) passes user text through :func:`safe` (or :func:`rich_text`, which also keeps it from
ever being read as Rich markup), and JSON output through :func:`json_safe`. Names (stream ids,
event types, aggregate ids) may not hold these characters at all: :func:`first_unsafe`.

Pure Python with no import of rich or textual at module level: the store imports it for names.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations only: rich is imported when a Text is made
    from rich.text import Text

# C0 controls, DEL and C1 controls; beyond Latin-1 the Arabic letter mark, LRM/RLM, the line and
# paragraph separators, the bidi embeddings and overrides (U+202A-U+202E), the isolates
# (U+2066-U+2069) and lone surrogates (what undecodable bytes become with "surrogateescape").
_WIDE = r"\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(rf"[\x00-\x1f\x7f-\x9f{_WIDE}]")  # one line: \t and \n are escaped too
_UNSAFE_IN_LINES = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f{_WIDE}]")  # several lines: \t, \n kept
_UNSAFE_IN_JSON = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_WIDE}]")  # JSON's whitespace stays

# A regular expression that a whole text matches when it holds none of them: what input fields
# accept (Textual's ``Input(restrict=...)``), so a pasted escape sequence is refused, not drawn.
SAFE_INPUT = rf"[^\x00-\x1f\x7f-\x9f{_WIDE}]*"

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(value: Any, *, lines: bool = False) -> str:
    """``value`` as text a terminal shows and never obeys: control characters, bidi controls and
    lone surrogates become visible escapes (``\\x1b``, ``\\x9b``, ``\\u202e``, ``\\n``).

    With ``lines``, newlines and tabs stay (a multi-line value shown over several lines); a
    carriage return is escaped either way, as it would let a line overwrite itself."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case, in C: no control, format or surrogate character
        return text
    return (_UNSAFE_IN_LINES if lines else _UNSAFE).sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text with the characters encoders leave raw (DEL, C1, bidi controls, U+2028/9, lone
    surrogates) written as ``\\uXXXX``: still valid JSON that decodes to the same strings, and
    harmless on a terminal. Applied to whole documents: JSON whitespace between values stays."""
    if text.isascii() and "\x7f" not in text:  # C0 inside strings is escaped by every encoder
        return text
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


_USERINFO = re.compile(r"//([^/]*)@")


def without_password(text: str) -> str:
    """A URL (or an argument holding one) with the password of its user part as ``***``:
    ``amqp://u:secret@h/`` -> ``amqp://u:***@h/``; the user part runs to the last ``@`` before
    the path, so a password holding ``@`` or ``:`` is hidden whole."""
    def hide(m: re.Match[str]) -> str:
        user, colon, _ = m.group(1).partition(":")
        return f"//{user}:***@" if colon else m.group(0)

    return _USERINFO.sub(hide, text)


def first_unsafe(text: str) -> str | None:
    """The first character of ``text`` that :func:`safe` would escape (names may hold none)."""
    if text.isprintable():
        return None
    match = _UNSAFE.search(text)
    return match.group() if match else None


def describe_char(ch: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``, for messages that name a refused character."""
    import unicodedata

    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        what = "a lone surrogate: bytes that were not valid UTF-8"
    else:
        what = unicodedata.name(ch, "") or "a control character"
    return f"U+{code:04X} ({what})"


def rich_text(value: Any, style: str = "", *, lines: bool = False, **options: Any) -> Text:
    """A ``rich.text.Text`` of user text: made :func:`safe`, and never parsed as markup.

    Given a ``Text`` (evsh's labels with user text appended), returns it with the same styles
    on the same characters, escaped where needed (the same object when nothing needed it)."""
    from rich.text import Span, Text

    if not isinstance(value, Text):
        return Text(safe(value, lines=lines), style=style, **options)
    plain = value.plain
    if plain.isprintable():
        return value
    pattern = _UNSAFE_IN_LINES if lines else _UNSAFE
    parts: list[str] = []
    positions: list[int] = []  # where each escaped character was
    grown: list[int] = []  # characters added by the escapes up to and including that one
    last = added = 0
    for match in pattern.finditer(plain):
        escaped = _escape(match)
        parts += (plain[last:match.start()], escaped)
        last = match.end()
        added += len(escaped) - 1
        positions.append(match.start())
        grown.append(added)
    if not positions:
        return value
    parts.append(plain[last:])

    def moved(offset: int) -> int:
        before = bisect_left(positions, offset)  # escapes strictly before this offset
        return offset + (grown[before - 1] if before else 0)

    out = value.blank_copy("".join(parts))
    out.spans = [Span(moved(s.start), moved(s.end), s.style) for s in value.spans]
    return out
