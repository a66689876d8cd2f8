"""Projections, reactors and dead letters, metrics: screens over the engine's operations APIs."""

from __future__ import annotations

from typing import Any


def open_projections(app: Any) -> None:
    app.notify("projections view: not available yet", severity="warning")


def open_reactors(app: Any) -> None:
    app.notify("reactors view: not available yet", severity="warning")


def open_metrics(app: Any) -> None:
    app.notify("metrics view: not available yet", severity="warning")
