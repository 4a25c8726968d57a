"""The one path every item takes, whether it came from a live feed or a file:

    Item -> normalize -> classify -> fingerprint -> store (dedupe, hits, outbox)

The daemon and `monitor replay` both call `Pipeline.process`; they differ only
in the retriever that produced the items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from monitor.dedupe import canonical_url, fingerprints
from monitor.items import Hit, Item
from monitor.normalize import normalize
from monitor.rules import Matcher
from monitor.store.repository import AlertRequest, Classified, Outcome, Store

Router = Callable[[Item, Sequence[Hit]], Sequence[AlertRequest]]


def no_alerts(item: Item, hits: Sequence[Hit]) -> Sequence[AlertRequest]:
    return ()


@dataclass(frozen=True, slots=True)
class Result:
    item: Item  # normalized: what was stored, what hit offsets point into
    hits: Sequence[Hit]
    outcome: Outcome

    @property
    def rules(self) -> list[str]:
        return sorted({h.rule for h in self.hits})


class Pipeline:
    def __init__(self, matcher: Matcher, store: Store | None, router: Router = no_alerts) -> None:
        self.matcher = matcher
        self.store = store
        self.router = router

    def classify(self, raw: Item) -> tuple[Item, list[Hit]]:
        item = normalize(raw)
        return item, self.matcher.scan(item)

    def prepare(self, items: Iterable[Item]) -> list[Classified]:
        """Everything decided about a batch, without I/O: safe to run in a worker process."""
        classified = [self.classify(raw) for raw in items]
        prints = fingerprints([item for item, _ in classified])
        return [
            Classified(
                item=item,
                hits=hits,
                fingerprint=print_,
                canonical_url=canonical_url(item.url),
                alerts=self.router(item, hits) if hits else (),
            )
            for (item, hits), print_ in zip(classified, prints, strict=True)
        ]

    def commit(self, source: str, prepared: Sequence[Classified], *, dry_run: bool = False) -> list[Result]:
        """Store a prepared batch from one source in one transaction."""
        return self.commit_many([(source, prepared)], dry_run=dry_run)[0]

    def commit_many(
        self, batches: Sequence[tuple[str, Sequence[Classified]]], *, dry_run: bool = False
    ) -> list[list[Result]]:
        """Store the prepared batches of several sources in one transaction, with the
        results of storing them one after the other (`Store.ingest_many`).

        Without a store (a dry run on a database that does not exist yet) every
        item reports as new.
        """
        if self.store is None:
            outcomes = [[Outcome("new", None) for _ in prepared] for _, prepared in batches]
        else:
            outcomes = self.store.ingest_many(batches, dry_run=dry_run)
        return [
            [Result(c.item, c.hits, o) for c, o in zip(prepared, of_batch, strict=True)]
            for (_, prepared), of_batch in zip(batches, outcomes, strict=True)
        ]

    def process(self, source: str, items: Iterable[Item], *, dry_run: bool = False) -> list[Result]:
        """The whole path for a batch of items from one source."""
        return self.commit(source, self.prepare(items), dry_run=dry_run)
