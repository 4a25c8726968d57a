"""The two value types every stage of the pipeline speaks: `Item` and `Hit`.

A feed entry and a replayed fixture file both become an `Item`; after that point
nothing knows where an item came from. A `Hit` explains *why* an item matched a
rule: the term and the exact characters of the stored text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

Field = Literal["title", "text"]


@dataclass(frozen=True, slots=True)
class Item:
    """One press item, as stored and as classified.

    `source` and `guid` identify the item: `source` is the feed key (the feed URL,
    or `replay:` plus a name for fixtures). `text` is the body; after
    normalization it is exactly the text that is stored and that hit offsets
    point into.
    """

    source: str
    guid: str
    title: str
    text: str
    url: str | None = None
    published: datetime | None = None
    language: str | None = None
    origin: str | None = None  # who published it, as a reader would say: "BelTA"
    place: str | None = None  # dateline place: "Minsk"
    path: str | None = None  # fixture file this item was replayed from
    flags: tuple[str, ...] = field(default=())  # e.g. "malformed-feed", "encoding-guessed"

    def replace(self, **changes: object) -> Item:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class Hit(NamedTuple):
    """One match of one rule term: `item.<field>[start:end] == matched`.

    Immutable like `Item`, but a NamedTuple: the matcher builds one per hit, about
    fourteen per press item, and a tuple is built several times faster than a
    frozen dataclass.
    """

    rule: str
    term: str  # the term as written in the rule file
    field: Field
    start: int
    end: int
    matched: str
