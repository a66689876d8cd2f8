"""The single-file build's promises that do not need a real (slow) build: a file that fails its
smoke check never reaches dist/, a good one is moved into place, bad targets are refused.

The real build and a smoke test of the real file run in CI (.ci/run: make dist, then
scripts/smoke_dist.sh), as they take minutes.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def build_dist(monkeypatch):
    spec = importlib.util.spec_from_file_location("build_dist", ROOT / "scripts" / "build_dist.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # Skip the slow steps (tools venv, wheel, pex); build_pex is replaced per test.
    monkeypatch.setattr(mod, "check_builder", lambda: None)
    monkeypatch.setattr(mod, "tools_python", lambda tools: Path(sys.executable))
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    monkeypatch.setattr(mod, "build_wheel", lambda py, work: (Path(work) / "fake.whl", version))
    return mod


def _fake_builder(script: str):
    """A build_pex stand-in that writes SCRIPT as the 'built' file."""
    def build_pex(py, wheel, out, pythons):
        out.write_text(script)
        out.chmod(0o755)
    return build_pex


# A stand-in for a good file: evsh from this environment, with PEX_INTERPRETER=1 honoured as pex does.
GOOD = f"""#!/bin/sh
if [ -n "${{PEX_INTERPRETER:-}}" ]; then exec "{sys.executable}" "$@"; fi
exec "{sys.executable}" -m evsh "$@"
"""
# Starts, but is not evsh: what a half-built file looks like to a user.
HALF = """#!/bin/sh
echo "evsh, version 0.0.0-broken"
"""


def test_a_file_that_fails_its_smoke_check_never_reaches_dist(build_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build_dist, "build_pex", _fake_builder(HALF))
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", "3.11"]) == 1
    err = capsys.readouterr().err
    assert "FAILED: smoke check" in err and "0.0.0-broken" in err
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary file left behind


def test_an_earlier_good_file_is_kept_and_the_message_says_so(build_dist, tmp_path, monkeypatch, capsys):
    out = tmp_path / "dist" / "evsh"
    out.parent.mkdir()
    out.write_text("earlier build")
    monkeypatch.setattr(build_dist, "build_pex", _fake_builder(HALF))
    assert build_dist.main(["--output", str(out), "--pythons", "3.11"]) == 1
    assert out.read_text() == "earlier build"
    assert "left as it was" in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == ["evsh"]


def test_keep_failed_keeps_the_broken_file_aside(build_dist, tmp_path, monkeypatch):
    monkeypatch.setattr(build_dist, "build_pex", _fake_builder(HALF))
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", "3.11", "--keep-failed"]) == 1
    assert not out.exists()
    assert (tmp_path / "dist" / "evsh.failed").read_text() == HALF


def test_a_file_that_passes_the_smoke_check_is_moved_into_place(build_dist, tmp_path, monkeypatch, capsys):
    """The smoke check itself runs for real here: every evsh module imports, every dependency is
    present, the shop and the demos are readable, and a seeded store reads back."""
    monkeypatch.setattr(build_dist, "build_pex", _fake_builder(GOOD))
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", "3.11"]) == 0, capsys.readouterr().err
    assert out.read_text() == GOOD and out.stat().st_mode & 0o111
    assert sorted(p.name for p in out.parent.iterdir()) == ["evsh"]
    said = capsys.readouterr().out
    demos = len(list((ROOT / "sample_data" / "demos").glob("*.evsh")))
    assert f"{demos} demos" in said


def test_a_missing_demo_fails_the_smoke_check(build_dist, tmp_path, monkeypatch, capsys):
    """A demo in sample_data/demos that the file does not carry (package-data) is named."""
    fake_root = tmp_path / "src"
    (fake_root / "sample_data" / "demos").mkdir(parents=True)
    for demo in (ROOT / "sample_data" / "demos").glob("*.evsh"):
        (fake_root / "sample_data" / "demos" / demo.name).write_text("")
    (fake_root / "sample_data" / "demos" / "not_packaged.evsh").write_text("")
    out = _build_from(build_dist, monkeypatch, fake_root, tmp_path)
    assert "not_packaged.evsh" in capsys.readouterr().err
    assert not out.exists()


def _build_from(build_dist, monkeypatch, root, tmp_path):
    """Build from the source tree ``root`` with a fake builder; the build must fail (exit 1)."""
    monkeypatch.setattr(build_dist, "ROOT", root)
    monkeypatch.setattr(build_dist, "build_pex", _fake_builder(GOOD))
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", "3.11"]) == 1
    return out


@pytest.mark.parametrize("pythons", ["3.10", "3.9,3.11", "3", "three", ""])
def test_targets_older_than_311_or_malformed_are_refused(build_dist, tmp_path, pythons, capsys):
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", pythons]) == 2
    assert "evsh needs Python >= 3.11" in capsys.readouterr().err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_other_pythons_are_packed_by_their_manylinux_wheels(build_dist, monkeypatch):
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setattr(build_dist.sys, "platform", "linux")
    monkeypatch.setattr(build_dist.platform, "machine", lambda: "x86_64")
    got = build_dist.platforms([here, "3.12", "3.13"] if here != "3.12" else [here, "3.11", "3.13"])
    assert got[0] == "current"
    others = ["3.12", "3.13"] if here != "3.12" else ["3.11", "3.13"]
    assert got[1:] == [f"linux_x86_64-cp-{v}.0-cp{v.replace('.', '')}" for v in others]


def test_the_building_python_must_be_a_target(build_dist, tmp_path, capsys):
    """The new file is smoke-checked with the Python that builds it."""
    other = "3.99"
    out = tmp_path / "dist" / "evsh"
    assert build_dist.main(["--output", str(out), "--pythons", other]) == 1
    assert "must be one of the targets" in capsys.readouterr().err
    assert not out.exists()


def test_a_source_module_missing_from_the_file_is_named(build_dist, tmp_path, monkeypatch, capsys):
    """A new subpackage that pyproject does not list would be silently left out of the file."""
    fake_root = tmp_path / "src"
    shutil.copytree(ROOT / "sample_data", fake_root / "sample_data")
    shutil.copytree(ROOT / "evsh", fake_root / "evsh", ignore=shutil.ignore_patterns("__pycache__"))
    (fake_root / "evsh" / "newpkg").mkdir()
    (fake_root / "evsh" / "newpkg" / "__init__.py").write_text("")
    out = _build_from(build_dist, monkeypatch, fake_root, tmp_path)
    assert "in the source but not in the file: evsh.newpkg" in capsys.readouterr().err
    assert not out.exists()
