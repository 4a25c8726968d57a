"""`monitor reclassify`: what the rules in force now say of a stored item, and
what that changes (pure; `monitor.store.stored.StoredItems.apply` writes it).

Only items whose hits change are written. An item that no longer matches keeps
its sent alerts; its note says so and under which rules version. Alerts for the
past go out only when asked for, and only for the first item of a story that an
analyst has not marked not relevant, as `commit` would have made them.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.items import Hit
from monitor.pipeline.steps import RouteHits
from monitor.store.matches import NOT_RELEVANT
from monitor.store.stored import Change, StoredEntry


def hits_after(stored: Sequence[Hit], new_hits: Sequence[Hit], *, rule: str | None = None) -> list[Hit] | None:
    """The hits to store for an item instead of `stored`, or None when they stay as
    they are. With `rule`, only that rule's hits are replaced."""
    hits = list(new_hits)
    if rule is not None:
        hits = [h for h in stored if h.rule != rule] + [h for h in new_hits if h.rule == rule]
    return None if sorted(hits) == sorted(stored) else hits


def change(entry: StoredEntry, hits: Sequence[Hit], *, version: str, route: RouteHits | None = None) -> Change:
    """The change to write for `entry`, whose hits become `hits` (`hits_after`);
    `route` (given with --alert) asks for the alerts its hits call for."""
    before, after = {h.rule for h in entry.hits}, {h.rule for h in hits}
    alerts = ()
    if route is not None and hits and entry.story_id is None and entry.relevance != NOT_RELEVANT:
        alerts = tuple(route(entry.item, hits))
    return Change(entry.id, hits, note(version, before, after), alerts, entry.item)


def note(version: str, before: set[str], after: set[str]) -> str:
    """Why the hits changed, for the item's record and the dashboard."""
    if before and not after:
        return f"rules version {version}: no longer matches (matched {', '.join(sorted(before))})"
    parts = []
    if gained := sorted(after - before):
        parts.append(f"now matches {', '.join(gained)}")
    if lost := sorted(before - after):
        parts.append(f"no longer matches {', '.join(lost)}")
    return f"rules version {version}: " + ("; ".join(parts) or "same rules, other hits")
