"""`evsh verify` on domains written the way users write them (tests/verify_domains: a bank with a
transfer saga and an Emmett-style cart), with one flaw planted at a time: every flaw is caught
by the default properties, its reproducer fails on the flawed domain and passes on the correct
one, and the correct domains pass (reaching every command and event type, unaided)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "verify_domains"
EXAMPLES = os.environ.get("EVSH_VERIFY_TEST_EXAMPLES", "25")
FLAG = "FLAWS: set[str] = set()"

# flaw -> (domain, the property that must fail, a word of its message)
FLAWS = {
    "class-counter": ("bank", "deciding depends on the events alone", "decided differently"),
    "upcaster-global": ("bank", "upcasters pure", "fresh process"),
    "reactor-raises": ("bank", "reactors healthy", "RuntimeError"),
    "clock": ("bank", "replay is deterministic", "opened_at"),
    "no-guard": ("bank", "projections redelivery-idempotent", "account_balances"),
    "random-id": ("bank", "reactors redelivery-idempotent", "statement_mailer"),
    "global-cache": ("bank", "projections rebuild-equivalent", "account_balances"),
}
CART_FLAWS = {
    "clock": ("cart", "replay is deterministic", "confirmed_at"),
    "no-guard": ("cart", "projections redelivery-idempotent", "cart_totals"),
}


def variant(tmp_path: Path, domain: str, flaw: str | None) -> str:
    """The domain's file with one flaw switched on (a file of its own: a module of its own)."""
    text = (HERE / f"{domain}.py").read_text()
    assert FLAG in text
    name = f"{domain}_{(flaw or 'correct').replace('-', '_')}"
    path = tmp_path / f"{name}.py"
    path.write_text(text.replace(FLAG, f"FLAWS = {{{flaw!r}}}" if flaw else FLAG))
    return str(path)


def run_verify(cli, domain: str, out: Path, *extra: str, examples: str = EXAMPLES):
    return cli("verify", "--domain", domain, "--examples", examples, "--seed", "5", "--out", str(out), *extra)


@pytest.mark.parametrize("flaw, spec", [*(((f, s)) for f, s in FLAWS.items()),
                                        *(((f, s)) for f, s in CART_FLAWS.items())],
                         ids=[*(f"bank-{f}" for f in FLAWS), *(f"cart-{f}" for f in CART_FLAWS)])
def test_each_flaw_is_caught_and_its_reproducer_tells_flawed_from_fixed(cli, tmp_path, flaw, spec):
    domain, prop, word = spec
    flawed, fixed = variant(tmp_path, domain, flaw), variant(tmp_path, domain, None)
    out = tmp_path / "failures"
    r = run_verify(cli, flawed, out, "--property", prop)
    assert r.exit_code == 1, r.stdout + r.stderr
    row = next(line for line in r.stdout.splitlines() if prop in line and "│" in line)
    assert "FAILS" in row and word in r.stdout, r.stdout
    scripts = sorted(out.glob("*.evsh"))
    assert len(scripts) == 1, r.stdout
    text = scripts[0].read_text()
    assert "SELECT count(*) FROM events" not in text  # the property itself, never an incidental count
    on_flawed = cli("--domain", flawed, "run", str(scripts[0]), db=str(tmp_path / "flawed.db"))
    assert on_flawed.exit_code == 1 and "expectation failed" in on_flawed.stderr, on_flawed.stderr
    on_fixed = cli("--domain", fixed, "run", str(scripts[0]), db=str(tmp_path / "fixed.db"))
    assert on_fixed.exit_code == 0, text + on_fixed.stdout + on_fixed.stderr


@pytest.mark.parametrize("domain", ["bank", "cart"])
def test_the_correct_domains_pass_and_reach_everything(cli, tmp_path, domain):
    # half the default examples: enough to reach every command of the bank on every seed tried (1-6)
    r = run_verify(cli, variant(tmp_path, domain, None), tmp_path / "f", "--json", "--min-coverage", "100",
                   examples="50")
    data = json.loads(r.stdout)
    assert r.exit_code == 0, (r.stderr, [p for p in data["properties"] if p["status"] == "fails"], data["warnings"])
    assert all(p["status"] in ("holds", "skipped") for p in data["properties"])
    assert data["warnings"] == []
    for name, c in data["coverage"]["commands"].items():
        assert c["succeeded"] + c["by_reactors"] > 0, name
    for name, e in data["coverage"]["events"].items():
        assert e["produced"] > 0 and e["applied"] > 0, name
