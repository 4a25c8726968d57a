"""The one path every item takes (see `steps`), and the drivers that walk it:
`polling` (the daemon's feeds), `replay` (files) and `workers` (the processes
that run `prepare`)."""

from monitor.pipeline.steps import Pipeline, RouteHits, no_alerts

__all__ = ["Pipeline", "RouteHits", "no_alerts"]
