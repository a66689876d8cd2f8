"""Shell completion (click's own, for bash/zsh/fish): commands, aggregates, ids, commands' parameters, streams."""

from __future__ import annotations

import os
import subprocess
import sys


def complete(words: str, cwd, env_extra: dict | None = None) -> list[str]:
    env = {**os.environ, "_EVSH_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    env.pop("EVSH_DOMAIN", None)
    env.pop("EVSH_DB", None)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-m", "evsh"], env=env, cwd=cwd, capture_output=True, text=True)
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if "," in line]


def test_completion_script_is_printed(tmp_path):
    env = {**os.environ, "_EVSH_COMPLETE": "bash_source"}
    out = subprocess.run([sys.executable, "-m", "evsh"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "_evsh_completion" in out.stdout


def test_completes_commands_aggregates_ids_command_names_and_parameters(tmp_path, cli):
    created = cli("--domain", "shop", "exec", "user", "u7", "register", "--email", "a@b.c", "--username", "a")
    assert created.exit_code == 0, created.stderr
    db = str(tmp_path / "evsh.db")
    assert "state" in complete("evsh sta", tmp_path)
    assert complete(f"evsh --db {db} --domain shop exec ", tmp_path) == ["inventory", "order", "payment", "user"]
    assert complete(f"evsh --db {db} --domain shop exec user ", tmp_path) == ["u7"]
    assert complete(f"evsh --db {db} --domain shop exec user u8 ", tmp_path) == ["register"]
    params = complete(f"evsh --db {db} --domain shop exec user u8 register --email x --", tmp_path)
    assert "--username" in params and "--email" not in params
    assert complete(f"evsh --db {db} read us", tmp_path) == ["user-u7"]


def test_completion_on_a_missing_store_creates_nothing(tmp_path):
    assert complete("evsh --domain shop exec user ", tmp_path) == []
    assert not (tmp_path / "evsh.db").exists()


def test_completion_finds_streams_beyond_the_first_page(tmp_path, cli):
    for n in range(0, 700, 7):
        assert cli("append", f"order-{n}", "Noted", "{}").exit_code == 0
    db = str(tmp_path / "evsh.db")
    assert complete(f"evsh --db {db} read order-69", tmp_path) == ["order-693"]
    assert complete(f"evsh --db {db} --domain shop state order 69", tmp_path) == ["693"]
