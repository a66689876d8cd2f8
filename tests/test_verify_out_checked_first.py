"""`evsh verify --out` names a folder; a file there (or where one of its parents should be) is
refused before any example runs: one line, exit 2, nothing checked and nothing written."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("out", ["b.db", "b.db/sub"])
def test_an_out_that_cannot_be_a_folder_is_refused_first(cli, tmp_path, out):
    (tmp_path / "b.db").write_text("not a folder")
    r = cli("--domain", "shop", "verify", "--out", out, "--examples", "2")
    assert r.exit_code == 2
    assert r.stderr.startswith(f"evsh: error: --out {out}") and "a file, not a folder" in r.stderr
    assert r.stderr.count("\n") == 1 and "checking" not in r.stderr
    assert (tmp_path / "b.db").read_text() == "not a folder"


def test_a_folder_to_be_made_is_fine(tmp_path):
    from evsh.verify.runner import check_out_dir

    check_out_dir(str(tmp_path / "new" / "deeper"))
    check_out_dir(str(tmp_path))
    assert not (tmp_path / "new").exists()
