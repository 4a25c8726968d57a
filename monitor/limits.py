"""What one document can cost: the caps every hostile or broken input meets.

The body cap (`fetch.max_body_bytes`) bounds the bytes; these bound what the
bytes turn into. Each cap is applied where the pipeline first holds the value
(README, "Caps", says what happens at each).
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from monitor.items import Hit, Item

#: Entity references may make a document at most this many times its size
#: (declared entities only; nested and parameter entities are refused outright).
MAX_ENTITY_EXPANSION: Final = 2
#: Entries read from one document; the rest (feeds list newest first) are left out.
MAX_ENTRIES: Final = 1_000
#: Characters of an item's text and title kept before normalization.
MAX_TEXT_CHARS: Final = 1_000_000
MAX_TITLE_CHARS: Final = 2_000
#: Hits kept per rule per item (the first ones in the text).
MAX_HITS_PER_RULE: Final = 100
#: The flag of an item whose title or text was cut.
TRUNCATED: Final = "truncated"


def cap_item(item: Item) -> Item:
    """The item with its title and text cut to the caps, flagged TRUNCATED if anything was cut."""
    if len(item.text) <= MAX_TEXT_CHARS and len(item.title) <= MAX_TITLE_CHARS:
        return item
    return item.replace(title=item.title[:MAX_TITLE_CHARS], text=item.text[:MAX_TEXT_CHARS],
                        flags=(*item.flags, TRUNCATED))


def cap_hits(hits: list[Hit]) -> list[Hit]:
    """The first MAX_HITS_PER_RULE hits of each rule, in their order."""
    if len(hits) <= MAX_HITS_PER_RULE:  # no rule can have more (most items)
        return hits
    seen: Counter[str] = Counter(hit.rule for hit in hits)
    if max(seen.values(), default=0) <= MAX_HITS_PER_RULE:
        return hits
    kept: Counter[str] = Counter()
    capped = []
    for hit in hits:
        kept[hit.rule] += 1
        if kept[hit.rule] <= MAX_HITS_PER_RULE:
            capped.append(hit)
    return capped
