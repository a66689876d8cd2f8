#!/usr/bin/env python3
"""Build dist/evsh: one executable file (a PEX zipapp) that runs every evsh command.

Why a PEX and not a frozen binary or a shiv zipapp: see docs/dist.md (measured there).

The build is all-or-nothing: the file is built under a temporary name next to its final place,
smoke-checked (version, every evsh module and every dependency importable, the bundled shop and
demos readable, a store written and read in an empty folder), and only then renamed into place.
A failed build says which step failed and what is missing, and removes its temporary file.

Generic on purpose: the wheel is built from pyproject.toml, so new commands, new packages of
evsh and new entries in `dependencies` are bundled without touching this script.

Needs only python3 >= 3.11 with the venv module, and PyPI reachable (for pex, setuptools and
the dependencies' wheels for every target Python).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEX_REQUIREMENT = "pex==2.105.2"
# pex resolves with this pip; its default (a patched pip 20.3) drops the `linkify` extra that
# textual asks of markdown-it-py, which then fails at run time.
PIP_VERSION = "26.1.2"
DEFAULT_PYTHONS = "3.11,3.12,3.13"
# Copied into the isolated build tree: everything but caches, builds and local stores.
_IGNORE_ANYWHERE = shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
                                          "*.db", "*.db-wal", "*.db-shm")
_IGNORE_AT_ROOT = {".git", ".venv", "venv", "build", "dist"}


def IGNORE(folder: str, names: list[str]) -> set[str]:
    skip = set(_IGNORE_ANYWHERE(folder, names))
    if Path(folder) == ROOT:
        skip |= _IGNORE_AT_ROOT & set(names)
    return skip


class BuildError(Exception):
    """A step failed; the message says what is missing or what to do."""


def say(msg: str) -> None:
    print(f"dist: {msg}", flush=True)


def run(cmd: list[str], what: str, *, cwd: Path | None = None, env: dict[str, str] | None = None,
        hint: str = "") -> str:
    """Run a step; on failure raise BuildError with the step, the tail of its output and a hint."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and "is ignored: it is neither" not in ln]
        tail = "\n".join("    " + ln for ln in lines[-15:])
        raise BuildError(f"{what} failed (exit {proc.returncode}).\n{tail}" + (f"\n  -> {hint}" if hint else ""))
    return proc.stdout


def check_builder() -> None:
    if sys.version_info < (3, 11):
        raise BuildError(f"this needs python3 >= 3.11 to build (found {platform.python_version()} at "
                         f"{sys.executable}); run `make dist PYTHON=python3.11`")
    try:
        import venv  # noqa: F401
        import ensurepip  # noqa: F401
    except ImportError as exc:
        raise BuildError(f"{sys.executable} has no working venv/ensurepip ({exc}); "
                         "on Debian/Ubuntu: apt-get install python3-venv") from exc


def tools_python(tools: Path) -> Path:
    """A private venv holding pex (pinned), created once and reused."""
    py = tools / "bin" / "python"
    stamp = tools / ".pex-requirement"
    wanted = f"{PEX_REQUIREMENT} {sys.executable} {platform.python_version()}"  # pex's "current" is this Python
    if py.exists() and stamp.exists() and stamp.read_text() == wanted:
        return py
    shutil.rmtree(tools, ignore_errors=True)
    say(f"setting up the build tools in {tools.relative_to(ROOT) if tools.is_relative_to(ROOT) else tools}")
    run([sys.executable, "-m", "venv", str(tools)], "creating the build venv",
        hint="on Debian/Ubuntu: apt-get install python3-venv")
    run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", PEX_REQUIREMENT],
        f"installing {PEX_REQUIREMENT}", hint="PyPI must be reachable (or a pip index configured)")
    stamp.write_text(wanted)
    return py


def build_wheel(py: Path, work: Path) -> tuple[Path, str]:
    """Build evsh's wheel from a copy of the tree, so the source folder gets no build/ or egg-info."""
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    wheels = work / "wheel"
    run([str(py), "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
         "-w", str(wheels), str(src)], "building the evsh wheel",
        hint="pyproject.toml must build (setuptools is fetched from PyPI)")
    found = sorted(wheels.glob("evsh-*.whl"))
    if len(found) != 1:
        raise BuildError(f"expected one evsh wheel, found {[p.name for p in found]}")
    import tomllib  # 3.11+: imported here so an older Python still gets check_builder's message

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return found[0], version


def _is_supported(version: str) -> bool:
    """A 'major.minor' version evsh runs on (requires-python is >=3.11)."""
    parts = version.split(".")
    return len(parts) == 2 and all(p.isdigit() for p in parts) and (int(parts[0]), int(parts[1])) >= (3, 11)


def platforms(pythons: list[str]) -> list[str]:
    """pex platforms: this interpreter as is, the other versions by their manylinux wheels."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if here not in pythons:
        raise BuildError(f"the building Python ({here}) must be one of the targets ({', '.join(pythons)}): "
                         f"the new file is smoke-checked with it; add {here} or run `make dist PYTHON=python{pythons[0]}`")
    out = ["current"]
    machine = platform.machine()
    for v in pythons:
        if v == here:
            continue
        if sys.platform != "linux":
            raise BuildError(f"cross-building for Python {v} is supported on Linux only; "
                             f"use --pythons {here}")
        major, minor = v.split(".")
        out.append(f"linux_{machine}-cp-{major}.{minor}.0-cp{major}{minor}")
    return out


# Optional dependencies the file carries too, so `--db postgresql://...` works from it.
BUNDLED_EXTRAS = ("postgres", "broker")


def bundled_extras() -> list[str]:
    """The requirements of BUNDLED_EXTRAS, as pyproject.toml names them."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return [req for name in BUNDLED_EXTRAS for req in extras[name]]


def build_pex(py: Path, wheel: Path, out: Path, pythons: list[str]) -> None:
    cmd = [str(py), "-m", "pex", str(wheel), *bundled_extras(), "--console-script", "evsh", "--output-file", str(out),
           "--venv", "--sh-boot", "--max-install-jobs", "0", "--pip-version", PIP_VERSION,
           "--no-emit-warnings"]
    for v in pythons:  # several constraints are ORed: only the versions we have wheels for
        cmd += ["--interpreter-constraint", f"CPython=={v}.*"]
    for plat in platforms(pythons):
        cmd += ["--platform", plat]
    run(cmd, "resolving and packing the dependencies with pex",
        hint="every dependency needs a wheel (or an sdist pex can build) for each target Python: "
             f"{', '.join(pythons)}; PyPI must be reachable. Narrow the targets with "
             "`make dist DIST_PYTHONS=3.11`.")


SMOKE_CODE = textwrap.dedent("""
    import importlib, importlib.metadata as md, importlib.resources as res, json, pkgutil, re, sys
    import evsh
    failed = []
    mods = ["evsh"] + [m.name for m in pkgutil.walk_packages(evsh.__path__, "evsh.")
                       if not m.name.endswith(".__main__")]  # that one runs the CLI
    for name in mods:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    reqs = [r for r in (md.requires("evsh") or []) if "extra ==" not in r]
    dists = [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in reqs]
    for d in dists:
        try:
            md.distribution(d)
        except md.PackageNotFoundError:
            failed.append(f"dependency {d} is not in the file")
    demos = sorted(p.name for p in res.files("evsh.samples").joinpath("demos").iterdir()
                   if p.name.endswith(".evsh")) if res.files("evsh.samples").joinpath("demos").is_dir() else []
    shop = res.files("evsh.samples").joinpath("shop.py").is_file()
    print(json.dumps({"modules": mods, "dependencies": dists, "demos": demos, "shop": shop,
                      "failed": failed, "python": sys.version.split()[0]}))
""")


def smoke_check(exe: Path, version: str) -> dict:
    """Run the new file from an empty folder with a private pex cache; raise on any gap."""
    with tempfile.TemporaryDirectory(prefix="evsh-dist-smoke-") as tmp:
        env = dict(os.environ, PEX_ROOT=str(Path(tmp) / "pex-root"))
        env.pop("EVSH_DB", None)
        env.pop("EVSH_DOMAIN", None)
        empty = Path(tmp) / "empty"
        empty.mkdir()
        out = run([str(exe), "--version"], "smoke check: `evsh --version` from the new file", cwd=empty, env=env)
        if version not in out:
            raise BuildError(f"smoke check: --version printed {out.strip()!r}, expected version {version}")
        report_raw = run([str(exe), "-c", SMOKE_CODE], "smoke check: importing every evsh module",
                         cwd=empty, env=dict(env, PEX_INTERPRETER="1"))
        report = json.loads(report_raw.strip().splitlines()[-1])
        if report["failed"]:
            raise BuildError("smoke check: missing from the file:\n" + "\n".join("    " + f for f in report["failed"]))
        in_source = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                     for f in (ROOT / "evsh").rglob("*.py") if "__pycache__" not in f.parts}
        left_out = sorted(in_source - set(report["modules"]) - {"evsh.__main__"})
        if left_out:
            raise BuildError(f"smoke check: in the source but not in the file: {', '.join(left_out)}; "
                             "list their packages in [tool.setuptools] packages in pyproject.toml")
        if not report["shop"]:
            raise BuildError("smoke check: the bundled shop (evsh.samples/shop.py) is not in the file")
        src_demos = sorted(p.name for p in (ROOT / "sample_data" / "demos").glob("*.evsh"))
        if src_demos != report["demos"]:
            raise BuildError(f"smoke check: demos in sample_data/demos {src_demos} but in the file "
                             f"{report['demos']}: check [tool.setuptools.package-data] in pyproject.toml")
        db = Path(tmp) / "smoke.db"
        run([str(exe), "--db", str(db), "seed", "--orders", "3"], "smoke check: `evsh seed` (bundled shop)",
            cwd=empty, env=env)
        out = run([str(exe), "--db", str(db), "read", "$all", "--limit", "1", "--nl"],
                  "smoke check: `evsh read`", cwd=empty, env=env)
        if not out.strip().startswith("{"):
            raise BuildError(f"smoke check: `evsh read` printed {out[:200]!r}")
        return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", default=str(ROOT / "dist" / "evsh"), help="where the file goes (default dist/evsh)")
    ap.add_argument("--pythons", default=os.environ.get("DIST_PYTHONS") or DEFAULT_PYTHONS,
                    help=f"comma-separated Python versions the file runs on (default {DEFAULT_PYTHONS})")
    ap.add_argument("--tools", default=str(ROOT / "build" / "dist-tools"), help="venv for pex (reused)")
    ap.add_argument("--keep-failed", action="store_true",
                    help="on a failed smoke check keep the file as OUTPUT.failed, to look into it")
    args = ap.parse_args(argv)
    out = Path(args.output).resolve()
    pythons = [v.strip() for v in args.pythons.replace(" ", ",").split(",") if v.strip()]
    bad = [v for v in pythons if not _is_supported(v)]
    if bad or not pythons:
        print(f"dist: FAILED: --pythons {args.pythons!r}: give versions such as 3.11,3.12,3.13 "
              "(evsh needs Python >= 3.11)", file=sys.stderr)
        return 2
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.building-{os.getpid()}")
    try:
        check_builder()
        py = tools_python(Path(args.tools).resolve())
        with tempfile.TemporaryDirectory(prefix="evsh-dist-") as work:
            say("building the evsh wheel")
            wheel, version = build_wheel(py, Path(work))
            say(f"packing evsh {version} with its dependencies for Python {', '.join(pythons)}")
            build_pex(py, wheel, tmp_out, pythons)
        say("smoke-checking the new file")
        report = smoke_check(tmp_out, version)
        os.chmod(tmp_out, 0o755)
        os.replace(tmp_out, out)
    except BuildError as exc:
        if args.keep_failed and tmp_out.exists():
            os.replace(tmp_out, out.with_name(out.name + ".failed"))
            print(f"dist: kept the failed file as {out}.failed", file=sys.stderr)
        tmp_out.unlink(missing_ok=True)
        print(f"dist: FAILED: {exc}", file=sys.stderr)
        if out.exists():
            print(f"dist: {out} was left as it was (from an earlier build)", file=sys.stderr)
        return 1
    except BaseException:
        tmp_out.unlink(missing_ok=True)
        raise
    size = out.stat().st_size / 1e6
    say(f"built {out} ({size:.1f} MB, {len(report['modules'])} evsh modules, "
        f"{len(report['dependencies'])} dependencies, {len(report['demos'])} demos, "
        f"Python {', '.join(pythons)}) in {time.monotonic() - started:.0f} s")
    shown = os.path.relpath(out) if out.is_relative_to(Path.cwd()) else str(out)
    say(f"try: {shown} demo   (it needs Python {' or '.join(pythons)} on the machine; nothing to install)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
