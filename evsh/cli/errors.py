"""The one place where the CLI turns core errors into a message and an exit code.

Exit codes (documented in the README): 0 success; 1 a "no" from the domain or a check; 2 usage
error or bad input; 3 concurrency or id conflict; 4 store problem; 5 the domain's own code raised.
"""

from __future__ import annotations

import click

from ..errors import (
    BadInput,
    CommandRejected,
    ConcurrencyError,
    DomainCodeError,
    DomainError,
    EvshError,
    ExpectationFailed,
    IdConflict,
    StoreError,
)
from ..sanitise import safe

OK, NO, USAGE, CONFLICT, STORE, DOMAIN_CODE = 0, 1, 2, 3, 4, 5

EXIT_CODES: list[tuple[type[BaseException], int, str]] = [
    (CommandRejected, NO, "rejected"),
    (ExpectationFailed, NO, "failed"),
    (BadInput, USAGE, "error"),
    (DomainError, USAGE, "domain error"),
    (ConcurrencyError, CONFLICT, "conflict"),
    (IdConflict, CONFLICT, "conflict"),
    (StoreError, STORE, "store error"),
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
