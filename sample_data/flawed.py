"""A deliberately flawed domain: each flaw breaks one promise of event sourcing, and
`evsh verify --domain flawed` finds every one of them, shrinks it to a small example and writes
a script that shows it with `evsh run`. Read it as a list of what not to do.

1. Ticket: an applier reads the clock (``opened_at``): every replay gives another state.
2. Raffle: an applier draws a random number: every replay picks another lucky number.
3. ticket_counts: a projection that counts with ``+ 1`` and no guard: an event delivered twice
   is counted twice.
4. ticket_notifier: a reactor that sends a command to a freshly made id: an event handled twice
   sends a second notification.

5. Ticket.open numbers tickets from a class-level counter: the decision depends on state that
   is not in the events (a fresh process numbers the same ticket differently).
6. raffle_entered_v1: an upcaster that reads a module global a command changes (``PRIZE``): the
   same old event upcasts differently depending on what the process did before.
7. raffle_announcer: a reactor that raises on every event it gets: each one is parked.

The fixes: put the time or the random number in the event (decide it in the command, where I/O
is allowed); make handlers idempotent (remember handled event ids, or derive ids from the
event, as ``notification-<ticket id>``).
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

from evsh import Aggregate, Projection, Rejected, applies, command, event, reactor, table, upcaster

PRIZE = "a mug"  # FLAW 6: module state an upcaster reads and a command changes


@event
class TicketOpened:
    ticket_id: str
    title: str
    number: int = 0


@event
class TicketClosed:
    ticket_id: str


@event(version=2)
class RaffleEntered:
    raffle_id: str
    name: str
    prize: str = ""


@upcaster("RaffleEntered", 1)
def raffle_entered_v1(data):
    return {**data, "prize": PRIZE}  # FLAW 6: the old event's prize depends on a module global


@event
class NotificationSent:
    notification_id: str
    ticket_id: str


class Ticket(Aggregate):
    status: str = "new"
    title: str = ""
    opened_at: str = ""
    next_number = 1  # FLAW 5: a class-level counter, shared by every ticket, not in any event

    @command
    def open(self, title: str):
        """Open a ticket with a title."""
        if self.status != "new":
            raise Rejected(f"ticket {self.id} is already {self.status}")
        number = Ticket.next_number
        Ticket.next_number += 1
        yield TicketOpened(self.id, title, number)

    @command
    def close(self):
        """Close an open ticket."""
        if self.status != "open":
            raise Rejected(f"ticket {self.id} is {self.status}, not open")
        yield TicketClosed(self.id)

    @applies
    def _opened(self, e: TicketOpened) -> None:
        self.status, self.title = "open", e.title
        self.opened_at = datetime.now(timezone.utc).isoformat()  # FLAW 1: state from the clock, not the event

    @applies
    def _closed(self, e: TicketClosed) -> None:
        self.status = "closed"


class Raffle(Aggregate):
    entries: int = 0
    lucky_number: int = 0
    prize: str = ""

    @command
    def enter(self, name: str):
        """Enter someone into the raffle."""
        global PRIZE
        PRIZE = f"a prize for {name}"
        yield RaffleEntered(self.id, name, PRIZE)

    @applies
    def _entered(self, e: RaffleEntered) -> None:
        self.entries += 1
        self.prize = e.prize
        self.lucky_number = random.randint(1, 10**9)  # FLAW 2: state from a random number


class Notification(Aggregate):
    sent: bool = False
    ticket_id: str = ""

    @command
    def send(self, ticket_id: str):
        """Tell the team about a ticket."""
        if self.sent:
            raise Rejected(f"notification {self.id} was already sent")
        yield NotificationSent(self.id, ticket_id)

    @applies
    def _sent(self, e: NotificationSent) -> None:
        self.sent, self.ticket_id = True, e.ticket_id


ticket_counts = Projection(
    "ticket_counts", version=1,
    tables=[table("ticket_counts", {"status": str, "tickets": int}, pk="status")],
    description="How many tickets were opened and closed.",
)


@ticket_counts.on(TicketOpened, TicketClosed)
def _count(event, rows):
    status = "opened" if event.type == "TicketOpened" else "closed"
    counts = rows.table("ticket_counts")
    row = counts.get(status, None)
    if row is None:
        counts.insert({"status": status, "tickets": 1})
    else:
        counts.update(status, {"tickets": row["tickets"] + 1})  # FLAW 3: a redelivered event counts again


@reactor("ticket_notifier", on=["TicketOpened"])
def ticket_notifier(event, ctx):
    """Send a notification when a ticket opens."""
    ctx.send("notification", ctx.new_id(), "send", ticket_id=event.ticket_id)  # FLAW 4: a new id per delivery


@reactor("raffle_announcer", on=["RaffleEntered"], attempts=1)
def raffle_announcer(event, ctx):
    """Announce an entry (on a channel that is not configured)."""
    raise ConnectionError("no announcement channel configured")  # FLAW 7: every event gets parked
