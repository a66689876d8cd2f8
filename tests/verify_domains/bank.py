"""A bank written the way a new user writes it from the README: accounts with Decimal amounts and
an enum, a transfer saga with compensation, an inline and a catch-up projection, a side-effect
reactor, snapshots, an upcaster for a renamed field. No VERIFY_STRATEGIES: verify must reach
deposits, withdrawals, debits, credits and compensations on its own.

The acceptance tests plant one flaw at a time by rewriting the FLAWS line (each flaw is the
code a user would write, behind ``if "<flaw>" in FLAWS``).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from evsh import Aggregate, Projection, Rejected, applies, command, event, reactor, table, upcaster

FLAWS: set[str] = set()

BRANCH = "main"  # only changed by the flawed command, read by the flawed upcaster
_BALANCE_CACHE: dict[str, Decimal] = {}  # only used by the flawed projection


class Kind(enum.Enum):
    CHECKING = "checking"
    SAVINGS = "savings"


@dataclass(frozen=True)
class Holder:
    name: str
    city: str


@event(version=2)
class AccountOpened:
    account_id: str
    holder: Holder
    kind: Kind
    branch: str = "main"
    number: int = 0


@upcaster("AccountOpened", 1)
def account_opened_v1(data):
    """v1 had ``owner`` (a name) where v2 has ``holder``."""
    out = {k: v for k, v in data.items() if k != "owner"}
    out["holder"] = {"name": data["owner"], "city": ""}
    if "upcaster-global" in FLAWS:
        out["branch"] = BRANCH
    return out


@event
class MoneyDeposited:
    account_id: str
    amount: Decimal


@event
class MoneyWithdrawn:
    account_id: str
    amount: Decimal


@event
class AccountDebited:
    account_id: str
    transfer_id: str
    amount: Decimal


@event
class AccountCredited:
    account_id: str
    transfer_id: str
    amount: Decimal


@event
class DebitReversed:
    account_id: str
    transfer_id: str
    amount: Decimal


@event
class TransferRequested:
    transfer_id: str
    from_account: str
    to_account: str
    amount: Decimal


@event
class TransferCompleted:
    transfer_id: str


@event
class TransferFailed:
    transfer_id: str
    reason: str


class Account(Aggregate):
    snapshot_every = 5
    opened_count = 0  # a class-level counter (only the flawed command uses it)
    open: bool = False
    kind: str = ""
    balance: Decimal = Decimal("0")
    opened_at: str = ""
    number: int = 0
    branch: str = ""
    transfers: dict = {}  # "debit:<transfer id>" -> amount: a saga's step asked twice is done once

    @command
    def open_account(self, holder: Holder, kind: Kind):
        """Open an account."""
        global BRANCH
        if self.open:
            raise Rejected("already open")
        number = 0
        if "class-counter" in FLAWS:  # numbers accounts in the order this process opened them
            Account.opened_count += 1
            number = Account.opened_count
        if "upcaster-global" in FLAWS:
            BRANCH = holder.city or "main"
        yield AccountOpened(self.id, holder, kind, "main", number)

    @command
    def deposit(self, amount: Decimal):
        if not self.open:
            raise Rejected("no such account")
        if amount <= 0:
            raise Rejected("amount must be positive")
        yield MoneyDeposited(self.id, amount)

    @command
    def withdraw(self, amount: Decimal):
        if not self.open:
            raise Rejected("no such account")
        if amount <= 0 or amount > self.balance:
            raise Rejected("insufficient funds")
        yield MoneyWithdrawn(self.id, amount)

    @command
    def debit(self, transfer_id: str, amount: Decimal):
        if not transfer_id.strip():
            raise Rejected("which transfer?")
        if not self.open:
            raise Rejected("no such account")
        if f"debit:{transfer_id}" in self.transfers:
            return  # done already: nothing to do
        if amount <= 0 or amount > self.balance:
            raise Rejected("insufficient funds")
        yield AccountDebited(self.id, transfer_id, amount)

    @command
    def credit(self, transfer_id: str, amount: Decimal):
        if not transfer_id.strip():
            raise Rejected("which transfer?")
        if not self.open:
            raise Rejected("no such account")
        if f"credit:{transfer_id}" in self.transfers:
            return
        yield AccountCredited(self.id, transfer_id, amount)

    @command
    def reverse_debit(self, transfer_id: str, amount: Decimal):
        if not transfer_id.strip():
            raise Rejected("which transfer?")
        if f"debit:{transfer_id}" not in self.transfers:
            raise Rejected(f"no debit for transfer {transfer_id} to reverse")
        if f"reverse:{transfer_id}" in self.transfers:
            return
        yield DebitReversed(self.id, transfer_id, amount)

    @applies
    def _opened(self, e: AccountOpened) -> None:
        self.open, self.kind, self.number, self.branch = True, e.kind.value, e.number, e.branch
        if "clock" in FLAWS:
            self.opened_at = datetime.now(timezone.utc).isoformat()

    @applies
    def _deposited(self, e: MoneyDeposited) -> None:
        self.balance += e.amount

    @applies
    def _withdrawn(self, e: MoneyWithdrawn) -> None:
        self.balance -= e.amount

    @applies
    def _debited(self, e: AccountDebited) -> None:
        self.balance -= e.amount
        self.transfers[f"debit:{e.transfer_id}"] = e.amount

    @applies
    def _credited(self, e: AccountCredited) -> None:
        self.balance += e.amount
        self.transfers[f"credit:{e.transfer_id}"] = e.amount

    @applies
    def _reversed(self, e: DebitReversed) -> None:
        self.balance += e.amount
        self.transfers[f"reverse:{e.transfer_id}"] = e.amount


class Transfer(Aggregate):
    status: str = "new"
    from_account: str = ""
    to_account: str = ""
    amount: Decimal = Decimal("0")

    @command
    def request(self, from_account: str, to_account: str, amount: Decimal):
        """Move money between two accounts (the saga does the work)."""
        if self.status != "new":
            raise Rejected(f"transfer {self.id} is {self.status}")
        if amount <= 0 or from_account == to_account:
            raise Rejected("a transfer needs two accounts and a positive amount")
        yield TransferRequested(self.id, from_account, to_account, amount)

    @command
    def complete(self):
        if self.status != "requested":
            raise Rejected(f"transfer {self.id} is {self.status}")
        yield TransferCompleted(self.id)

    @command
    def fail(self, reason: str):
        if self.status != "requested":
            raise Rejected(f"transfer {self.id} is {self.status}")
        yield TransferFailed(self.id, reason)

    @applies
    def _requested(self, e: TransferRequested) -> None:
        self.status = "requested"
        self.from_account, self.to_account, self.amount = e.from_account, e.to_account, e.amount

    @applies
    def _completed(self, e: TransferCompleted) -> None:
        self.status = "completed"

    @applies
    def _failed(self, e: TransferFailed) -> None:
        self.status = "failed"


@reactor("transfer_saga", on=["TransferRequested", "AccountDebited"])
def transfer_saga(event, ctx):
    """Debit, then credit; when the credit is refused, reverse the debit and fail the transfer."""
    if event.type == "TransferRequested":
        out = ctx.send("account", event.from_account, "debit", transfer_id=event.transfer_id, amount=event.amount)
        if out.outcome != "ok" and ctx.load("transfer", event.transfer_id).status == "requested":
            ctx.send("transfer", event.transfer_id, "fail", reason=out.reason or "debit refused")
        return
    transfer = ctx.load("transfer", event.transfer_id)
    if transfer.status != "requested":
        return
    out = ctx.send("account", transfer.to_account, "credit", transfer_id=event.transfer_id, amount=event.amount)
    if out.outcome == "ok":
        ctx.send("transfer", event.transfer_id, "complete")
    else:
        ctx.send("account", event.account_id, "reverse_debit", transfer_id=event.transfer_id, amount=event.amount)
        ctx.send("transfer", event.transfer_id, "fail", reason="credit refused")


STATEMENTS = table("statements_sent", {"event_id": str, "account_id": str}, pk="event_id")


@reactor("statement_mailer", on=["MoneyDeposited", "MoneyWithdrawn"], tables=[STATEMENTS], attempts=1)
def statement_mailer(event, ctx):
    """Record a statement per movement (the side effect), keyed by the event: idempotent."""
    if "reactor-raises" in FLAWS:
        raise RuntimeError("the mail server is not configured")
    if "random-id" in FLAWS:
        ctx.table("statements_sent").insert({"event_id": str(uuid.uuid4()), "account_id": event.account_id})
        return
    sent = ctx.table("statements_sent")
    if not sent.exists(event.event_id):
        sent.insert({"event_id": event.event_id, "account_id": event.account_id})


account_balances = Projection(
    "account_balances", version=1, mode="inline",
    tables=[table("account_balances", {"account_id": str, "balance": Decimal}, pk="account_id"),
            table("account_balances_seen", {"event_id": str}, pk="event_id")],
    description="Balance per account.",
)


@account_balances.on(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountDebited, AccountCredited, DebitReversed)
def _balance(event, rows):
    seen = rows.table("account_balances_seen")
    if "no-guard" not in FLAWS:
        if seen.exists(event.event_id):
            return
        seen.insert({"event_id": event.event_id})
    d = event.data
    balances = rows.table("account_balances")
    if event.type == "AccountOpened":
        if not balances.exists(d["account_id"]):
            balances.insert({"account_id": d["account_id"], "balance": Decimal("0")})
        return
    sign = -1 if event.type in ("MoneyWithdrawn", "AccountDebited") else 1
    row = balances.get(d["account_id"], None)
    if "global-cache" in FLAWS:
        before = _BALANCE_CACHE.get(d["account_id"], Decimal("0"))
    else:
        before = row["balance"] if row is not None else Decimal("0")
    new = before + sign * Decimal(d["amount"])
    _BALANCE_CACHE[d["account_id"]] = new
    if row is None:
        balances.insert({"account_id": d["account_id"], "balance": new})
    else:
        balances.update(d["account_id"], {"balance": new})


transfer_report = Projection(
    "transfer_report", version=1,
    tables=[table("transfer_report", {"transfer_id": str, "status": str}, pk="transfer_id")],
    description="Status per transfer (catch-up).",
)


@transfer_report.on(TransferRequested, TransferCompleted, TransferFailed)
def _transfer(event, rows):
    status = {"TransferRequested": "requested", "TransferCompleted": "completed", "TransferFailed": "failed"}[event.type]
    rows.table("transfer_report").put({"transfer_id": event.data["transfer_id"], "status": status})
