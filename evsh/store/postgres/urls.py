"""What a ``postgresql://`` store URL says: the driver's connection string, the schema the store
lives in (``?schema=``, default ``evsh``), and the URL as messages show it (no password)."""

from __future__ import annotations

import urllib.parse

import psycopg

from ...errors import BadInput
from ...sanitise import first_unsafe, without_password

DEFAULT_SCHEMA = "evsh"


def split_url(url: str) -> tuple[str, str, str]:
    """(conninfo for the driver, schema, the URL as shown to users: no password).

    A URL the driver could not use (a bad port or IPv6 address, percent-escapes that are not
    UTF-8 or a NUL, an option libpq does not know) is bad input, said before connecting."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0-65535
        for piece in (parts.path, parts.username or "", parts.password or "", parts.query):
            if "\x00" in urllib.parse.unquote(piece, errors="strict"):
                raise ValueError("%00 (a NUL) is not allowed")
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"store URL {_hidden(url)!r}: {_reason(exc)}; write postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
                       "[?schema=NAME]") from None
    schema = DEFAULT_SCHEMA
    rest = []
    for k, v in query:
        if k == "schema":
            schema = v
        else:
            rest.append((k, v))
    if not schema or len(schema) > 63 or first_unsafe(schema) is not None:
        raise BadInput(f"schema {schema!r} in {_hidden(url)!r}: give a name of 1 to 63 characters,"
                       " none of them a control or bidi character")
    scheme = "postgresql" if parts.scheme in ("postgresql", "postgres") else parts.scheme
    conninfo = urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, urllib.parse.urlencode(rest), ""))
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)  # libpq's own check: unknown options, bad escapes
    except (psycopg.Error, UnicodeDecodeError) as exc:
        raise BadInput(f"store URL {_hidden(url)!r}: {_reason(exc)}") from None
    host = parts.hostname or "localhost"
    shown_netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    shown = urllib.parse.urlunsplit((scheme, shown_netloc, parts.path, "", ""))
    return conninfo, schema, shown + (f"?schema={schema}" if schema != DEFAULT_SCHEMA else "")


def _hidden(url: str) -> str:
    """A URL for a message: its password as ***."""
    return without_password(url)[:120]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "a percent-escape is not UTF-8 text"
    return " ".join(str(exc).split()) or type(exc).__name__
