"""From an item's hits to its alerts: at most one per channel, listing every
rule that sent it there.

Several routes may lead to one channel; the most urgent wins: if any matching
route is immediate the alert is immediate, and it waits for quiet hours only
if every matching immediate route is quiet right now (then until the earliest
end). Rules are listed in the order the operator wrote them in the routes.

A Router is plain data (the routes), so it pickles into the worker processes
that classify feed entries: they route exactly as the daemon would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.alerts.quiet import quiet_until
from monitor.alerts.settings import Route, zone
from monitor.items import AlertRequest, Hit, Item
from monitor.states import AlertMode


@dataclass
class _Pending:
    rules: list[str] = field(default_factory=list)
    immediate: bool = False
    not_before: list[datetime | None] = field(default_factory=list)


class Router:
    """The pipeline's `RouteHits` step, built from the `[[routes]]` of the config."""

    def __init__(self, routes: Sequence[Route], clock: Callable[[], datetime] | None = None) -> None:
        self.routes = tuple(routes)
        self._clock = clock

    def __getstate__(self) -> dict[str, object]:
        return {"routes": self.routes}  # a test clock stays in the process that set it

    def __setstate__(self, state: dict[str, object]) -> None:
        self.routes = state["routes"]  # type: ignore[assignment]
        self._clock = None

    def __call__(self, item: Item, hits: Sequence[Hit]) -> Sequence[AlertRequest]:
        if not hits or not self.routes:
            return ()
        now = self._clock() if self._clock else datetime.now(UTC)
        matched = list(dict.fromkeys(h.rule for h in hits))
        channels: dict[str, _Pending] = {}
        for route in self.routes:
            rules = _ordered(route, matched)
            if not rules:
                continue
            pending = channels.setdefault(route.channel, _Pending())
            pending.rules.extend(r for r in rules if r not in pending.rules)
            if route.mode == "immediate":
                pending.immediate = True
                pending.not_before.append(
                    quiet_until(now, route.quiet_hours, zone(route.timezone)) if route.quiet_hours else None
                )
        requests = []
        for channel, pending in channels.items():
            if pending.immediate:
                waits = pending.not_before
                not_before = None if None in waits else min(w for w in waits if w is not None)
                requests.append(AlertRequest(channel, tuple(pending.rules), AlertMode.IMMEDIATE, not_before))
            else:
                requests.append(AlertRequest(channel, tuple(pending.rules), AlertMode.DIGEST))
        return requests


def _ordered(route: Route, matched: Sequence[str]) -> list[str]:
    if "*" in route.rules:
        return list(matched)
    return [r for r in route.rules if r in matched]
