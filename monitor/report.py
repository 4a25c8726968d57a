"""How results look to a person (text) and to a script (one JSON object per line).

All feed-derived text passes through `printable` (`monitor.present.sanitize`)
first: a title may carry terminal escape sequences or line breaks meant to
forge output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitor.items import Hit, Item, Result
from monitor.present.dates import iso
from monitor.present.sanitize import printable
from monitor.present.snippets import plain_snippet
from monitor.publishing import PublishingHours
from monitor.secrets import redact_url, redact_urls

if TYPE_CHECKING:
    from monitor.rules import SetAside
    from monitor.store.alerts import AlertRow, AttemptRow
    from monitor.store.feeds import FeedState


def hit_dict(item: Item, hit: Hit | SetAside) -> dict[str, Any]:
    text = item.title if hit.field == "title" else item.text
    return {
        "rule": hit.rule,
        "term": hit.term,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "matched": hit.matched,
        "snippet": plain_snippet(text, hit.start, hit.end),
    }


def result_dict(result: Result) -> dict[str, Any]:
    item, outcome = result.item, result.outcome
    return {
        "path": item.path,
        "source": item.source,
        "guid": item.guid,
        "link": item.url,
        "title": item.title,
        "language": item.language,
        "origin": item.origin,
        "place": item.place,
        "published": iso(item.published),
        "status": outcome.status,
        "seen_because": outcome.reason,
        "item_id": outcome.item_id,
        "story_id": outcome.story_id,
        "flags": list(item.flags),
        "rules": result.rules,
        "hits": [hit_dict(item, h) for h in result.hits],
    }


def set_aside_dict(item: Item, mention: SetAside) -> dict[str, Any]:
    """A mention that does not count for its rule, and why (`monitor classify --json`)."""
    return {**hit_dict(item, mention), "reason": mention.reason}


def classification_dict(item: Item, hits: Sequence[Hit], set_aside: Sequence[SetAside]) -> dict[str, Any]:
    """`monitor classify --json`: one item."""
    return {
        "title": item.title,
        "language": item.language,
        "rules": sorted({h.rule for h in hits}),
        "hits": [hit_dict(item, h) for h in hits],
        "set_aside": [set_aside_dict(item, m) for m in set_aside],
    }


def json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=False)


def result_text(result: Result) -> str:
    item, outcome = result.item, result.outcome
    status = outcome.status if outcome.status == "new" else f"seen ({outcome.reason})"
    origin = printable(item.origin or item.source)
    lines = [f"{status:<12} {printable(item.title)}", f"{'':<12} source: {origin}"]
    if item.path:
        lines.append(f"{'':<12} file: {printable(item.path)}")
    lines.extend(rules_summary(item, result.hits, indent=13))
    return "\n".join(lines)


def rules_summary(item: Item, hits: Sequence[Hit], *, indent: int = 0) -> list[str]:
    """Per rule: the words that matched (with counts) and where the first one stands."""
    pad = " " * indent
    if not hits:
        return [f"{pad}no rule matched"]
    lines = []
    for rule in sorted({h.rule for h in hits}):
        mine = [h for h in hits if h.rule == rule]
        counts = Counter(h.matched for h in mine)
        words = ", ".join(f"{printable(w)!r}" + (f" x{n}" if n > 1 else "") for w, n in counts.most_common())
        first = mine[0]
        text = item.title if first.field == "title" else item.text
        lines.append(f"{pad}{rule:<8} {words}")
        lines.append(f"{pad}{'':<8} {printable(plain_snippet(text, first.start, first.end))}")
    return lines


def hits_text(item: Item, hits: Sequence[Hit], *, indent: int = 0) -> list[str]:
    pad = " " * indent
    if not hits:
        return [f"{pad}no rule matched"]
    lines = []
    for hit in hits:
        lines += _mention_lines(item, hit, f"term={printable(hit.term)!r}", pad)
    return lines


def set_aside_text(item: Item, set_aside: Sequence[SetAside], *, indent: int = 0) -> list[str]:
    """Mentions found but not counted, each with its reason (`monitor classify`)."""
    pad = " " * indent
    lines = []
    for mention in set_aside:
        lines += _mention_lines(item, mention, f"not counted: {printable(mention.reason)}", pad)
    return lines


def _mention_lines(item: Item, mention: Hit | SetAside, note: str, pad: str) -> list[str]:
    """A mention on one line (rule, words, where, `note`), its snippet on the next."""
    text = item.title if mention.field == "title" else item.text
    return [
        f"{pad}{mention.rule:<8} {printable(mention.matched)!r:<40} {mention.field}[{mention.start}:{mention.end}]"
        f"  {note}",
        f"{pad}{'':<8} {printable(plain_snippet(text, mention.start, mention.end))}",
    ]


def feed_dict(f: FeedState) -> dict[str, Any]:
    return {
        "id": f.id, "url": redact_url(f.url), "title": f.title, "feed_title": f.document_title, "health": f.health, "enabled": f.enabled,
        "disabled_reason": f.disabled_reason, "last_success_at": iso(f.last_success_at),
        "last_error": redact_urls(f.last_error) if f.last_error else None, "last_error_at": iso(f.last_error_at),
        "consecutive_errors": f.consecutive_errors, "next_poll_at": iso(f.next_poll_at),
        "items_seen": f.items_seen, "interval_s": f.interval_s, "publish_gap_s": f.publish_gap_s,
        "stale": f.stale, "lease_owner": f.lease_owner, "listed_in": f.listed_in,
        "configured_interval_s": f.configured_interval_s, "slower_because": f.slower_because,
        "busiest_hours": PublishingHours.of(f.publish_hours).busiest(),
    }


def alert_dict(row: AlertRow, attempts: list[AttemptRow] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id, "kind": row.kind, "channel": row.channel, "mode": row.mode, "state": row.state,
        "rules": list(row.rules), "idempotency_key": row.idempotency_key, "attempts": row.attempts,
        "created_at": iso(row.created_at), "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at), "last_error": row.last_error, "leased_by": row.lease_owner,
        "item_id": row.item_id, "digest_id": row.digest_id, "title": row.title,
    }
    if attempts is not None:
        data["attempt_log"] = [
            {"at": iso(a.at), "ok": a.ok, "status": a.status, "error": a.error, "duration_ms": a.duration_ms}
            for a in attempts
        ]
    return data
