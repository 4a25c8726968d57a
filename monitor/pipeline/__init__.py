"""The one path every item takes (see `steps`), and the drivers that walk it:
`polling` (the daemon's feeds), `replay` (files) and `workers` (the processes
that run `prepare`).

Names are imported on first use, so a driver's light modules (its reports)
do not pull in the classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.pipeline.steps import Pipeline, RouteHits, no_alerts

__all__ = ["Pipeline", "RouteHits", "no_alerts"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from monitor.pipeline import steps

        return getattr(steps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
