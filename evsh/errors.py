"""Error types raised by evsh's core.

The core never decides how an error is shown: each front end (CLI, shell, scripts, TUI) turns
these types into a message and an exit code in one place.
"""

from __future__ import annotations


class EvshError(Exception):
    """Base of every error evsh raises on purpose."""


class BadInput(EvshError):
    """The caller gave something malformed: a stream id, a JSON payload, a parameter value."""


class CommandRejected(EvshError):
    """A command broke a business rule. Raised by domain code as ``Rejected("reason")``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConcurrencyError(EvshError):
    """The stream's version was not the one the writer expected; nothing was written."""

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r}: expected version {expected}, but the stream is at version {actual}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class StreamDeleted(CommandRejected):
    """A write to a hard-deleted stream (a tombstone): its name may never be used again."""


class IdConflict(EvshError):
    """An event id is already stored somewhere other than the place it is being written to."""


class StoreError(EvshError):
    """The store file cannot be used: missing, not an evsh store, too new, locked, unreadable."""


class StoreMissing(StoreError):
    pass


class NotAStore(StoreError):
    pass


class NewerStore(StoreError):
    pass


class StoreLocked(StoreError):
    pass


class StoreReadOnly(StoreError):
    """The file (or its folder) cannot be written: permissions, a read-only mount."""


class StoreCorrupt(StoreError):
    """SQLite found damaged pages: the file is not what SQLite wrote."""


class ServerUnreachable(StoreError):
    """A server store did not answer or dropped the connection (a restart, a network cut): a
    worker waits and tries again; any other StoreError is not outlived."""


class StoreFull(StoreError):
    """The disk (or a size limit) is full: the transaction was rolled back, nothing written."""


class BrokerError(EvshError):
    """A message broker cannot be used: unreachable, credentials refused, a missing exchange,
    queue or stream, a publish the broker refused or could not route (exit 4, like the store)."""


class BadMessage(BadInput):
    """A broker message is not one evsh's relay writes (a missing header, a body that is not an
    exported event, headers that disagree with the body): the consumer dead-letters it."""


class RelayBusy(EvshError):
    """Another relay holds the lease for this store and destination (exit 3, like a conflict)."""


class OutputError(EvshError):
    """Standard output or an output file could not be written (disk full, I/O error)."""


class DomainError(EvshError):
    """The domain module cannot be loaded or is inconsistent (a definition problem)."""


class DomainCodeError(EvshError):
    """The user's own domain code raised an exception; carries the user's file and line."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


# What the user's domain code may raise that is its own failure: any Exception, and sys.exit()
# or a KeyboardInterrupt of its own, which left alone would pass for evsh's exit codes or for
# Ctrl-C. Caught around every call into it, wrapped by evsh.domain.registry.user_code_error.
USER_CODE_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


class ExpectationFailed(EvshError):
    """A script expectation or a checked property did not hold."""


class ProjectionFailed(DomainCodeError):
    """A projection's handler raised on an event: names the projection and the event.

    Inline, the whole command is rolled back; in catch-up, the batch is, and the projection
    stops at that event with the error recorded.
    """

    def __init__(self, projection: str, position: int, event_type: str, stream_id: str, message: str,
                 where: str = "") -> None:
        super().__init__(
            f"projection {projection} failed on event {position} ({event_type} in {stream_id}): {message}", where
        )
        self.projection = projection
        self.position = position
        self.event_type = event_type
        self.stream_id = stream_id
        self.reason = message
