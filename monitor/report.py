"""How results look to a person (text) and to a script (one JSON object per line).

All feed-derived text passes through `printable` first: a title may carry
terminal escape sequences or line breaks meant to forge output.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from monitor.items import Hit, Item
from monitor.items import Result
from monitor.rules import snippet
from monitor.secrets import redact_urls

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str | None) -> str:
    """Text safe for one terminal line: controls escaped, line breaks as spaces, no
    credentials in URLs."""
    if not text:
        return ""
    text = redact_urls(text).replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def hit_dict(item: Item, hit: Hit) -> dict[str, Any]:
    text = item.title if hit.field == "title" else item.text
    return {
        "rule": hit.rule,
        "term": hit.term,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "matched": hit.matched,
        "snippet": snippet(text, hit.start, hit.end),
    }


def result_dict(result: Result) -> dict[str, Any]:
    item, outcome = result.item, result.outcome
    return {
        "path": item.path,
        "source": item.source,
        "guid": item.guid,
        "link": item.url,
        "title": item.title,
        "origin": item.origin,
        "place": item.place,
        "published": item.published.isoformat() if item.published else None,
        "status": outcome.status,
        "seen_because": outcome.reason,
        "item_id": outcome.item_id,
        "story_id": outcome.story_id,
        "flags": list(item.flags),
        "rules": result.rules,
        "hits": [hit_dict(item, h) for h in result.hits],
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
        lines.append(f"{pad}{'':<8} {printable(snippet(text, first.start, first.end))}")
    return lines


def hits_text(item: Item, hits: Sequence[Hit], *, indent: int = 0) -> list[str]:
    pad = " " * indent
    if not hits:
        return [f"{pad}no rule matched"]
    lines = []
    for hit in hits:
        text = item.title if hit.field == "title" else item.text
        lines.append(
            f"{pad}{hit.rule:<8} {printable(hit.matched)!r:<40} {hit.field}[{hit.start}:{hit.end}]"
            f"  term={printable(hit.term)!r}"
        )
        lines.append(f"{pad}{'':<8} {printable(snippet(text, hit.start, hit.end))}")
    return lines
