"""Broker URLs: ``amqp://user:password@host:5672/vhost`` (RabbitMQ) and ``nats://host:4222``
(NATS JetStream), parsed and checked before anything connects.

A malformed URL is bad input (exit 2); whether the broker answers is the publisher's concern
(a :class:`~evsh.errors.BrokerError`, exit 4). A URL is never shown with its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..errors import BadInput
from ..sanitise import first_unsafe

SCHEMES = {"amqp": ("amqp", 5672), "amqps": ("amqp", 5671), "nats": ("nats", 4222), "tls": ("nats", 4222)}
DEFAULT_EXCHANGE = "evsh"
DEFAULT_STREAM = "EVSH"
_EXCHANGE = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")  # RabbitMQ: letters, digits, - _ . :
_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,255}$")  # JetStream: no spaces, dots, * > / \


@dataclass(frozen=True)
class BrokerURL:
    """A parsed broker URL. ``kind`` is ``amqp`` or ``nats``."""

    scheme: str
    kind: str
    host: str
    port: int
    user: str | None
    password: str | None
    vhost: str  # AMQP's virtual host ("/" by default); empty for NATS
    url: str  # as given (with credentials: for the client only, never shown)

    @property
    def _place(self) -> str:
        """host:port and, for AMQP, the virtual host: the broker, whoever connects to it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = "" if self.kind == "nats" else "/" + ("%2F" if self.vhost == "/" else self.vhost)
        return f"{host}:{self.port}{path}"

    @property
    def shown(self) -> str:
        """The URL without its password, for messages and keys."""
        who = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{who}{self._place}"

    def destination(self, target: str) -> str:
        """The relay's key for this broker and exchange/stream: where a checkpoint and a lease
        belong (credentials play no part: the same broker under another user is the same place)."""
        return f"{self.kind}://{self._place}#{target}"


def parse_url(text: str) -> BrokerURL:
    """Parse ``amqp://``, ``amqps://``, ``nats://`` or ``tls://`` URLs; BadInput says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("broker URL is empty; give amqp://user:password@host:5672/ or nats://host:4222")
    bad = first_unsafe(text)
    if bad is not None or " " in text:
        raise BadInput("broker URL holds a space or a control character")
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme not in SCHEMES:
        raise BadInput(f"broker URL must start with amqp://, amqps://, nats:// or tls://, not {_head(text)!r}")
    kind, default_port = SCHEMES[scheme]
    try:
        parts = urlsplit(text)
        port = parts.port if parts.port is not None else default_port
        if port == 0:
            raise ValueError("port 0 is no port; give 1-65535")
    except ValueError as exc:
        raise BadInput(f"broker URL {_head(text)!r}: {exc}") from None
    host = parts.hostname or ""
    if not host:
        raise BadInput(f"broker URL {_head(text)!r} names no host")
    if parts.query or parts.fragment:
        raise BadInput("broker URL: query strings and fragments are not supported")
    path = parts.path
    if kind == "nats":
        if path not in ("", "/"):
            raise BadInput("a nats:// URL has no path; name the stream with --stream")
        vhost = ""
    else:
        vhost = unquote(path[1:]) if len(path) > 1 else "/"
        if "/" in path[1:]:
            raise BadInput("an amqp:// URL's path is one virtual host (write / as %2F)")
    if kind == "amqp" and parts.username is not None and parts.password is None:
        # pika cannot connect with a user and no password (it fails with a TypeError)
        raise BadInput(f"broker URL {_head(text)!r} names a user without a password:"
                       " write amqp://USER:PASSWORD@host:5672/ (or no user: guest)")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return BrokerURL(scheme, kind, host, port, user, password, vhost, text)


def check_exchange(name: str) -> str:
    """A RabbitMQ exchange name evsh will declare (not the default exchange, not ``amq.*``)."""
    if not _EXCHANGE.match(name or "") or name.startswith("amq."):
        raise BadInput(f"exchange name {name!r}: use letters, digits, - _ . : (not starting with amq.)")
    return name


def check_stream(name: str) -> str:
    """A JetStream stream name: letters, digits, - and _ only."""
    if not _STREAM.match(name or ""):
        raise BadInput(f"stream name {name!r}: use letters, digits, - and _")
    return name


def check_word(name: str, what: str) -> str:
    """One word of a NATS subject or a durable consumer's name (``--subject-prefix``,
    ``--durable``): no dots, spaces, * > / \\, control or bidi characters."""
    if not name or any(c in name for c in " .*>/\\") or first_unsafe(name) is not None:
        raise BadInput(f"{what} {name!r}: one word (no dots, spaces, * > / \\ or control characters)")
    return name


def check_queue(name: str) -> str:
    """A RabbitMQ queue name evsh may declare: 1-255 characters, no control or bidi ones, not amq.*."""
    if not name or len(name) > 255 or first_unsafe(name) is not None or name.startswith("amq."):
        raise BadInput(f"queue name {name!r}: 1 to 255 characters, no control characters, not starting with amq.")
    return name


def check_pattern(pattern: str, what: str) -> str:
    """A routing-key pattern (``--topic``, ``--bind``): dot-separated words, ``*`` one word,
    ``#`` any number."""
    words = pattern.split(".")
    if (not pattern or first_unsafe(pattern) is not None
            or any(not w or (w not in ("*", "#") and any(c in w for c in " *#>")) for w in words)):
        raise BadInput(f"{what} {pattern!r}: dot-separated words, where * is one word and # any number (order.*, #)")
    return pattern


def _head(text: str) -> str:
    """The start of a URL for a message: never its credentials."""
    return re.sub(r"//[^/]*@", "//***@", text)[:60]  # the whole user part: to its last @
