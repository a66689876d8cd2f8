"""Projections: read models kept in the store, checkpointed with their rows.

Four ways a projection's tables get built, one handler code path for all of them: catch-up
and inline (``apply``), rebuild (``admin``), and alongside a seed's history (``alongside``).
None of them calls reactors or any side effect: handlers only get the projection's tables.

An event a projection cannot apply stops it there, with the error recorded and naming the event
(a row the tables refuse is named by the event that made it). The way on is to fix the handler,
or to skip the event (:func:`skip`, ``evsh projections skip NAME --position N``): the skip is
recorded in ``projection_skips``, shown by ``evsh projections``, and honoured by catch-up, an
inline projection's catch-up and rebuilds, until ``reset``.
"""

from __future__ import annotations

from .admin import RebuildResult, rebuild, reset, skip, status
from .apply import InlineHook, RunResult, apply_events, install, run
from .records import (
    DEFAULT_BATCH,
    KIND,
    OWNER,
    REBUILD_BATCH,
    REBUILD_KIND,
    SHADOW_SUFFIX,
    SKIPS,
    STATUS,
    TABLES,
    declared,
    find,
    select,
    shadow_name,
    skips,
    without_skipped,
)

__all__ = ["DEFAULT_BATCH", "KIND", "OWNER", "REBUILD_BATCH", "REBUILD_KIND", "SHADOW_SUFFIX", "SKIPS", "STATUS",
           "TABLES", "InlineHook", "RebuildResult", "RunResult", "apply_events", "declared", "find", "install",
           "rebuild", "reset", "run", "select", "shadow_name", "skip", "skips", "status", "without_skipped"]
