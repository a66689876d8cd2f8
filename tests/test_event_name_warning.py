"""The "named like a command" warning: never for an event whose last word is in the past tense
(BookAdded, BookLent), still for PayOrder; silenced by filtering EventNameWarning in the domain
module; printed at most once per process, and not with --help."""

from __future__ import annotations

import textwrap
import warnings

import pytest

from evsh import EventNameWarning, event, load_domain

PAST = ["BookAdded", "BookLent", "BookReturned", "PaymentSent", "PayPaid", "OpenRead", "SetSet", "CloseShut",
        "ShipShipped", "MakeMade", "AddWritten", "StartBegun", "BookV2Lent", "SendGiven", "DoDone", "PlaceTaken"]
IMPERATIVE = ["PayOrder", "CloseAccount", "BookRoom", "SetPrice", "OpenFeed", "ShipParcel", "CreateOrder"]

LIBRARY = """
    from evsh import Aggregate, applies, command, event

    @event
    class BookAdded:
        title: str

    @event
    class BookLent:
        to: str

    @event
    class BookReturned:
        late_days: int
    {extra}
    class Book(Aggregate):
        title: str = ""

        @command
        def add(self, title: str):
            yield BookAdded(title)

        @applies
        def _added(self, e: BookAdded) -> None:
            self.title = e.title
"""
PAY_ORDER = """
    @event
    class PayOrder:
        order_id: str
"""


def _domain(tmp_path, extra: str = "", head: str = "", name: str = "library.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(head) + textwrap.dedent(LIBRARY).replace("{extra}", textwrap.dedent(extra)))
    return str(path)


@pytest.mark.parametrize("name", PAST)
def test_an_event_whose_last_word_is_past_tense_gets_no_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        event(type(name, (), {"__annotations__": {"x": int}}))


@pytest.mark.parametrize("name", IMPERATIVE)
def test_an_event_named_like_a_command_still_gets_one(name):
    with pytest.warns(EventNameWarning, match=f"{name}.*past tense"):
        event(type(name, (), {"__annotations__": {"x": int}}))


def test_a_library_domain_prints_no_warning(cli, tmp_path):
    r = cli("--domain", _domain(tmp_path), "exec", "book", "b1", "add", "--title", "Dune")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""


def test_the_warning_is_silenced_by_a_filter_in_the_domain_module(cli, tmp_path):
    head = """
        import warnings
        from evsh import EventNameWarning
        warnings.filterwarnings("ignore", category=EventNameWarning)
    """
    path = _domain(tmp_path, PAY_ORDER, head)
    assert load_domain(path).warnings == []
    r = cli("--domain", path, "exec", "book", "b1", "add", "--title", "Dune")
    assert r.exit_code == 0 and r.stderr == ""
    with pytest.warns(EventNameWarning):  # the filter does not outlive the module's loading
        event(type("PayBill", (), {"__annotations__": {"x": int}}))


@pytest.mark.parametrize("args", [("exec", "--help"), ("exec", "book", "b1", "--help"),
                                  ("exec", "book", "b1", "add", "--help"), ("exec",), ("--help",)])
def test_no_warning_with_help(cli, tmp_path, args):
    r = cli("--domain", _domain(tmp_path, PAY_ORDER), *args)
    assert "warning" not in r.stderr


def test_the_warning_is_printed_once_per_run(cli, tmp_path):
    first = _domain(tmp_path, PAY_ORDER, name="library_a.py")
    second = _domain(tmp_path, PAY_ORDER, name="library_b.py")  # another module, the same event name
    line = "#!/usr/bin/env -S evsh --domain {} run\nexec book b1 add --title Dune\n"
    for n, path in ((1, first), (2, second)):  # each script its own context, loading its own domain
        (tmp_path / f"s{n}.evsh").write_text(line.format(path))
    r = cli("run", str(tmp_path / "s1.evsh"), str(tmp_path / "s2.evsh"))
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("PayOrder is named like a command") == 1
