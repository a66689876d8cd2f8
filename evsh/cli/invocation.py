"""How to type evsh in this shell, for commands evsh prints for copying ("What to try next",
verify's `reproduce:`): `evsh` when that name on PATH runs this very program, else the path it
was started by (`.venv/bin/evsh` after `make demo`), so every printed command works as typed."""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def evsh_command(argv0: str | None = None, path: str | None = None) -> str:
    """``evsh``, ``.venv/bin/evsh`` or ``python -m evsh``: what runs this evsh from here."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0) in ("__main__.py", "-c") or not argv0:  # python -m evsh (or embedded)
        return f"{shlex.quote(sys.executable)} -m evsh"
    found = shutil.which("evsh", path=path)
    me = shutil.which(argv0) if os.sep not in argv0 else argv0
    if found and me and os.path.realpath(found) == os.path.realpath(me):
        return "evsh"
    if me is None:  # started by a name that is not on PATH now: say the name
        return "evsh"
    shown = os.path.relpath(me) if not os.path.relpath(me).startswith("..") else os.path.abspath(me)
    if os.sep not in shown:
        shown = "." + os.sep + shown
    return shlex.quote(shown)
