"""The contract between the stages of the one path an item takes.

    Item -> prepare -> Prepared -> commit -> Outcome

A feed entry, an article and a replayed fixture all become an `Item`; after that
point nothing knows where an item came from. `prepare` (pure, in worker
processes) turns items into `Prepared` values; `commit` stores them in one
transaction and says what happened to each (`Outcome`). Storage imports these
types; nothing here imports storage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from monitor.states import AlertMode

Field = Literal["title", "text"]
SeenReason = Literal["guid", "url", "story"]


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
    summary: str | None = None  # the feed's own text, when `text` is the linked article's


    def replace(self, **changes: object) -> Item:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class ItemText(Protocol):
    """What classification reads of an item: an `Item`, or only the text of a
    stored one (`monitor.store.stored.StoredText`), which is much cheaper to read."""

    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def language(self) -> str | None: ...


ARTICLE_MISSING = "article-missing"  # the article could not be fetched (yet): classified on the feed's text
ARTICLE_DISALLOWED = "article-disallowed"  # robots.txt forbids fetching it
ARTICLE_UNREADABLE = "article-unreadable"  # fetched, but no main text could be extracted


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """An entry's linked article as fetched: what the article step extracts from."""

    url: str  # where it was read from, after redirects
    body: bytes
    encoding: str | None = None  # the charset the server declared


@dataclass(frozen=True, slots=True)
class RetryArticle:
    """An entry's article that could not be fetched: when to try it again, and until when."""

    url: str
    error: str
    next_attempt_at: datetime
    give_up_at: datetime


class Hit(NamedTuple):
    """One match of one rule term: `item.<field>[start:end] == matched`.

    A NamedTuple rather than a frozen dataclass: the matcher builds about
    fourteen per press item, and a tuple is several times cheaper to build.
    """

    rule: str
    term: str  # the term as written in the rule file
    field: Field
    start: int
    end: int
    matched: str


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedupe compares (`monitor.dedupe.fingerprints`)."""

    content_hash: str  # sha256 of the folded words: identical stories
    simhash: int  # signed 64-bit (fits BIGINT on every backend)
    bands: tuple[int, int, int, int]
    words: int
    headline: int | None = None  # the folded headline's key, without "UPDATE:"-like labels (None: no words)


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """An alert the routes ask for; commit turns it into one outbox row."""

    channel: str
    rules: tuple[str, ...]
    mode: AlertMode = AlertMode.IMMEDIATE
    not_before: datetime | None = None  # quiet hours: not delivered before this


@dataclass(frozen=True, slots=True)
class Prepared:
    """An item with everything decided about it, ready to be committed."""

    item: Item  # normalized: what is stored, what hit offsets point into
    hits: Sequence[Hit]
    fingerprint: Fingerprint
    canonical_url: str | None
    alerts: Sequence[AlertRequest] = ()
    delay_s: float | None = None  # publication to first sight by a live poll (None: unknown, or a backlog)
    retry_article: RetryArticle | None = None  # its article could not be fetched: try again later
    rules_version: str | None = None  # the rule set that made `hits` (`monitor.rules.version`)


SourceBatch = tuple[str, Sequence[Prepared]]
"""The prepared items of one source (its feed key first), committed together."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What committing one item did."""

    status: Literal["new", "seen"]
    item_id: int | None  # None when nothing was stored
    reason: SeenReason | None = None  # why it counts as seen
    story_id: int | None = None  # first item of the story this one repeats
    alert_ids: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Result:
    """An item as committed: what the drivers report."""

    item: Item
    hits: Sequence[Hit]
    outcome: Outcome
    rules_version: str | None = None

    @property
    def rules(self) -> list[str]:
        return sorted({h.rule for h in self.hits})
