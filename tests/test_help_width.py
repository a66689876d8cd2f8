"""Every command's --help, `evsh demo --list` and the projections' run summary fit 80 columns."""

from __future__ import annotations

import click
import pytest


def command_paths() -> list[tuple[str, ...]]:
    from evsh.cli.main import cli

    paths: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            paths.append((*prefix, name))
            if isinstance(command, click.Group):
                walk(command, (*prefix, name))

    walk(cli, ())
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "evsh")
def test_help_fits_80_columns(cli, path):
    r = cli(*path, "--help", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    long = [line for line in r.stdout.splitlines() if len(line) > 80]
    assert not long, long


def test_the_demo_list_fits_80_columns_and_names_every_demo(cli):
    r = cli("demo", "--list", env={"COLUMNS": "80"})
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and all(len(line) <= 80 for line in lines), lines
    names = [line.split()[0] for line in lines if not line.startswith(" ")]
    assert {"happy_path", "out_of_stock", "time_travel", "services"} <= set(names)
    wrapped = lines[lines.index(next(line for line in lines if line.startswith("events_and_metadata"))) + 1]
    assert wrapped.startswith(" " * 20) and "came from" in wrapped  # a long title goes on under itself


def test_the_projections_run_summary_fits_80_columns(cli):
    assert cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "5").exit_code == 0
    r = cli("--domain", "shop", "projections", "run", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "customer_orders: inline, kept up to date by every append (checkpoint 1)" in r.stdout
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
