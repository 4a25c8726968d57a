"""The two calls every driver makes, whether items came from a live feed, a
listing page or a file:

    prepare(items)  -> [article] -> normalize -> language -> classify -> fingerprint -> route   (pure, in workers)
    commit(batches) -> dedupe, store items + hits + outbox rows        (one transaction)

A new stage is one new step in `prepare` or `commit`, never a second path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from monitor import limits
from monitor.dedupe import canonical_url, fingerprints
from monitor.ingest.article import extract_article
from monitor.items import (
    ARTICLE_UNREADABLE,
    AlertRequest,
    ArticlePage,
    Hit,
    Item,
    ItemText,
    Outcome,
    Prepared,
    Result,
    SourceBatch,
)
from monitor.language import detect_language
from monitor.normalize import normalize, normalize_text
from monitor.rules import Matcher, SetAside

if TYPE_CHECKING:  # workers prepare without a database: they need not import one
    from monitor.store.repository import Store

RouteHits = Callable[[Item, Sequence[Hit]], Sequence[AlertRequest]]
"""Which alerts an item's hits call for (`monitor.alerts.routing.Router`)."""


def no_alerts(item: Item, hits: Sequence[Hit]) -> Sequence[AlertRequest]:
    return ()


def with_language(item: Item) -> Item:
    """The item with the language its words are in; the feed's declared language
    (what `item.language` holds before this step) is only a hint."""
    language = detect_language(item.title, item.text, item.language)
    return item if language == item.language else item.replace(language=language)


def with_article(item: Item, page: ArticlePage) -> Item:
    """The item as its linked article reads: the article's main text becomes the
    text (what is classified, stored and what hit offsets point into), the feed's
    text is kept as the summary. A page with no readable text leaves the item as
    the feed gave it, flagged."""
    article = extract_article(page.body, page.url, declared_encoding=page.encoding)
    if article is None:
        return item.replace(flags=(*item.flags, ARTICLE_UNREADABLE))
    return item.replace(text=article.text, summary=normalize_text(item.text), language=item.language or article.language)


class Pipeline:
    """`prepare` needs only the matcher and the routes, so a worker process builds
    its own pipeline without a store; `commit` needs the store."""

    def __init__(
        self, matcher: Matcher, store: Store | None, route: RouteHits = no_alerts, rules_version: str | None = None
    ) -> None:
        self.matcher = matcher
        self.store = store
        self.route = route
        self.rules_version = rules_version  # recorded with every item this pipeline classifies

    def classify(self, raw: Item, set_aside: list[SetAside] | None = None) -> tuple[Item, list[Hit]]:
        """The normalized item, with its language, and its hits within the caps
        (`monitor classify` shows these, and with `set_aside` the mentions that do
        not count, and why)."""
        item = with_language(normalize(limits.cap_item(raw)))
        return item, self.scan(item, set_aside)

    def scan(self, item: ItemText, set_aside: list[SetAside] | None = None) -> list[Hit]:
        """The hits of an item already normalized, within the caps: the last step of
        `classify`, and all of it for a stored item (`rules test`, `reclassify`)."""
        return limits.cap_hits(self.matcher.scan(item, set_aside))

    def prepare(self, items: Iterable[Item], pages: Sequence[ArticlePage | None] = ()) -> list[Prepared]:
        """Everything decided about a batch, without I/O: safe to run in a worker process.
        `pages`: the fetched article of each item (None, or none given: the item as it is)."""
        items = list(items)
        if pages:
            items = [raw if page is None else with_article(raw, page) for raw, page in zip(items, pages, strict=True)]
        classified = [self.classify(raw) for raw in items]
        prints = fingerprints([item for item, _ in classified])
        return [
            Prepared(
                item=item,
                hits=hits,
                fingerprint=print_,
                canonical_url=canonical_url(item.url),
                alerts=self.route(item, hits) if hits else (),
                rules_version=self.rules_version,
            )
            for (item, hits), print_ in zip(classified, prints, strict=True)
        ]

    def commit(self, batches: Sequence[SourceBatch], *, dry_run: bool = False) -> list[list[Result]]:
        """Store the prepared batches of one or more sources in one transaction; the
        results, batch by batch, are those of storing them one after the other.

        Without a store (a dry run on a database that does not exist yet) every
        item reports as new. With `dry_run` the transaction is rolled back, so the
        outcomes are exactly what a real run would say.
        """
        if self.store is None:
            outcomes = [[Outcome("new", None) for _ in prepared] for _, prepared in batches]
        else:
            outcomes = self.store.ingest_many(batches, dry_run=dry_run)
        return [
            [Result(p.item, p.hits, o, p.rules_version) for p, o in zip(prepared, of_batch, strict=True)]
            for (_, prepared), of_batch in zip(batches, outcomes, strict=True)
        ]
