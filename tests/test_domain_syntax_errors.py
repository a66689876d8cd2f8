"""A domain module that does not compile is named with its file (and line, where Python gives one)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("source, where", [
    (b"x = (\n", "bad.py:1: syntax error in domain module"),
    (b"x = 1\x00\n", "bad.py: syntax error in domain module: source code string cannot contain null bytes"),
])
def test_a_domain_that_does_not_compile_is_named_with_its_file(cli, tmp_path, source, where):
    (tmp_path / "bad.py").write_bytes(source)
    r = cli("--domain", str(tmp_path / "bad.py"), "streams")
    assert r.exit_code == 5, r.stderr
    assert where in r.stderr and "None" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
