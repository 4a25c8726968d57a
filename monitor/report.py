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
from monitor.present.sources import how_read
from monitor.publishing import PublishingHours
from monitor.secrets import redact_url, redact_urls

if TYPE_CHECKING:
    from monitor.ingest.discovery import Discovery
    from monitor.pipeline.backtest import Backtest, Difference, RuleDiff
    from monitor.rules import SetAside
    from monitor.store.alerts import AlertRow, AttemptRow
    from monitor.store.feeds import FeedState
    from monitor.store.stored import StoredEntry


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
        "rules_version": result.rules_version,
        "hits": [hit_dict(item, h) | {"rules_version": result.rules_version} for h in result.hits],
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
        "kind": f.source_kind, "links": f.link_selector, "resolved_as": f.resolved_as,
        "resolved_url": redact_url(f.resolved_url) if f.resolved_url else None,
        "reads": how_read(redact_url(f.url), f.source_kind, f.link_selector, f.resolved_as,
                          redact_url(f.resolved_url) if f.resolved_url else None),
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


def discovery_dict(found: Discovery) -> dict[str, Any]:
    """`monitor feeds discover --json`."""
    return {
        "url": redact_url(found.url), "read_as": found.read_as, "title": found.title,
        "feed_url": redact_url(found.feed_url) if found.feed_url else None,
        "declared_by": redact_url(found.declared_by) if found.declared_by else None,
        "declared": [redact_url(u) for u in found.declared], "problem": found.problem,
        "entries": [{"title": i.title, "url": i.url and redact_url(i.url), "published": iso(i.published)}
                    for i in found.entries],
        "article": {"url": redact_url(found.article_url), "text": found.article_text, "note": found.article_note}
        if found.article_url else None,
    }


# rules test ------------------------------------------------------------------------


def marked_text(text: str, hits: Sequence[Hit]) -> str:
    """One line around the first hit, each hit [in brackets], safe for a terminal."""
    from monitor.present.snippets import ELLIPSIS, snippet

    cut = snippet(text, hits)
    body = "".join(f"[{printable(t)}]" if mark else printable(t) for t, mark in cut.runs)
    return (ELLIPSIS if cut.cut_left else "") + body + (ELLIPSIS if cut.cut_right else "")


def _entry(difference: Difference) -> StoredEntry:
    assert difference.entry is not None, "Backtest.describe() was not called"
    return difference.entry


def _field_text(difference: Difference) -> tuple[str, list[Hit]]:
    """The field the first hit is in, and the hits in it."""
    item = _entry(difference).item
    field = difference.hits[0].field
    return (item.title if field == "title" else item.text), [h for h in difference.hits if h.field == field]


def difference_dict(difference: Difference) -> dict[str, Any]:
    entry = _entry(difference)
    text, hits = _field_text(difference)
    return {
        "item_id": entry.id, "title": entry.item.title, "source": entry.item.origin or entry.item.source,
        "link": entry.item.url, "published": iso(entry.item.published), "rules_version": entry.rules_version,
        "snippet": marked_text(text, hits), "hits": [hit_dict(entry.item, h) for h in difference.hits],
    }


def rule_diff_dict(diff: RuleDiff) -> dict[str, Any]:
    return {
        "rule": diff.rule, "current": diff.current, "candidate": diff.candidate, "gained": diff.gained_count,
        "lost": diff.lost_count, "gained_items": [difference_dict(d) for d in diff.gained],
        "lost_items": [difference_dict(d) for d in diff.lost],
    }


def backtest_text(tally: Backtest) -> list[str]:
    """Per rule: the counts, then each gained (+) and lost (-) item shown."""
    from monitor.present.dates import when

    lines = []
    for diff in tally.diffs.values():
        lines.append(f"{diff.rule}: current {diff.current}, candidate {diff.candidate}: "
                     f"+{diff.gained_count} gained, -{diff.lost_count} lost")
        for sign, shown, count in (("+", diff.gained, diff.gained_count), ("-", diff.lost, diff.lost_count)):
            for d in shown:
                item = _entry(d).item
                text, hits = _field_text(d)
                lines.append(f"  {sign} {when(item.published)}  {printable(item.origin or item.source)[:40]}  "
                             f"{printable(item.title)[:100]}  (item {d.item_id})")
                lines.append(f"      {marked_text(text, hits)}")
            if count > len(shown):
                lines.append(f"  {sign} … and {count - len(shown)} more (--all shows every one)")
    return lines
