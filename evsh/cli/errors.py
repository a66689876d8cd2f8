"""The one place where the CLI turns core errors into a message and an exit code.

Exit codes (documented in the README): 0 success; 1 a "no" from the domain or a check; 2 usage
error or bad input; 3 concurrency or id conflict (or a second relay); 4 store or broker problem (or output that
cannot be written); 5 the domain's own code raised; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import errno

import click

from ..errors import (
    BadInput,
    BrokerError,
    CommandRejected,
    ConcurrencyError,
    DomainCodeError,
    DomainError,
    EvshError,
    ExpectationFailed,
    IdConflict,
    OutputError,
    RelayBusy,
    StoreError,
)
from ..sanitise import safe
from ..store.connect import driver_error

OK, NO, USAGE, CONFLICT, STORE, DOMAIN_CODE, INTERRUPTED = 0, 1, 2, 3, 4, 5, 130

EXIT_CODES: list[tuple[type[BaseException], int, str]] = [
    (CommandRejected, NO, "rejected"),
    (ExpectationFailed, NO, "failed"),
    (BadInput, USAGE, "error"),
    (DomainError, USAGE, "domain error"),
    (ConcurrencyError, CONFLICT, "conflict"),
    (IdConflict, CONFLICT, "conflict"),
    (RelayBusy, CONFLICT, "conflict"),
    (BrokerError, STORE, "broker error"),
    (StoreError, STORE, "store error"),
    (OutputError, STORE, "error"),
    (DomainCodeError, DOMAIN_CODE, "domain code raised"),
]


def classify(exc: BaseException) -> tuple[int, str]:
    """(exit code, label) for an error; unknown errors are treated as bad input."""
    for kind, code, label in EXIT_CODES:
        if isinstance(exc, kind):
            return code, label
    return USAGE, "error"


class CLIError(click.ClickException):
    """A core error carried through click with its exit code; shown as one line on stderr."""

    def __init__(self, exc: BaseException) -> None:
        code, label = classify(exc)
        message = safe(" ".join(str(exc).split("\n"))) or type(exc).__name__
        super().__init__(message)
        self.exit_code = code
        self.label = label
        self.original = exc

    def format_message(self) -> str:
        return f"{self.label}: {self.message}"

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(f"evsh: {self.format_message()}", err=True, file=file)


def to_click(exc: EvshError) -> CLIError:
    return CLIError(exc)


# what a failed write of the output looks like (a full disk, a dead disk, a size limit)
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def core_error(exc: BaseException, db: str) -> EvshError | None:
    """The core error an exception escaping a command stands for, or None for a bug.

    A driver's error that reached here without passing a store transaction goes through its
    backend's own mapping (read-only, damaged, full, locked, unreachable); a failed write of
    standard output or of an output file is an OutputError; a path given that cannot be opened
    (missing, a folder, not allowed, too long) is BadInput naming it."""
    if isinstance(exc, EvshError):
        return exc
    driver = driver_error(exc, db)
    if driver is not None:
        return driver
    if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
        return OutputError(f"cannot write {exc.filename or 'standard output'}: {exc.strerror or exc}")
    if isinstance(exc, OSError) and exc.filename is not None:  # a path given that names no usable file
        return BadInput(f"cannot open {exc.filename!r}: {exc.strerror or exc}")
    return None


class Interrupted(click.ClickException):
    """Ctrl-C: exit 130, as a shell reports a command ended by SIGINT."""

    exit_code = INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo("evsh: interrupted", err=True, file=file)
