"""The article step of the one path, on the retrieval side: the linked articles
that a feed's NEW summary-only entries want (decided in the workers by
`monitor.ingest.summaries`), fetched through the guarded fetcher after asking
robots.txt, then extracted and prepared in the workers (`prepare_articles`).

    poll:  prepare_feed (workers) -> ArticleStep.complete -> commit
    later: ArticleStep.retry_due -> prepare_articles (workers) -> ArticleRetries.complete

Nothing is lost to a failed fetch: the entry is committed as the feed gave it,
flagged `article-missing`, with a `RetryArticle` stored beside it (same
transaction); `retry_due` tries again with backoff until `retry_for_s` is
over. A match found on a later try alerts once: the alert is inserted under the
item's unique (item, channel) key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import Message
from typing import Any

from monitor import logs, metrics
from monitor.config import ArticleSettings
from monitor.ingest.http import ACCEPT_HTML, Fetcher, FetchError
from monitor.ingest.robots import RobotsCache
from monitor.ingest.summaries import FulltextMode
from monitor.items import (
    ARTICLE_DISALLOWED,
    ARTICLE_MISSING,
    ARTICLE_UNREADABLE,
    ArticlePage,
    Item,
    Prepared,
    RetryArticle,
)
from monitor.pipeline.workers import PreparedFeed, prepare_articles
from monitor.store.articles import ArticleRetries, DueArticle

log = logs.get("articles")

RETRY_BATCH = 100  # due retries claimed at once
RETRY_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class ArticlePolicy:
    """A source's article settings (config `[[feeds]]` or OPML attributes)."""

    fulltext: FulltextMode = "auto"
    robots: bool = True


class Disallowed(Exception):
    """robots.txt forbids the fetch."""


def next_try(settings: ArticleSettings, now: datetime, attempts: int, give_up_at: datetime) -> datetime | None:
    """When to try a failed article again after `attempts` tries; None: give up."""
    wait = min(settings.retry_first_s * 2 ** max(attempts - 1, 0), settings.retry_max_s)
    at = now + timedelta(seconds=wait)
    return at if at <= give_up_at else None


class ArticleStep:
    """`db(fn, *args)` runs a store call on the database thread (`Poller._db`);
    `unseen(source, guids)` says which of a feed's guids are not stored yet;
    `policies`: each source's `ArticlePolicy` (by feed URL; default: auto, robots
    honoured); `now`: the database's time (`Poller._now`)."""

    def __init__(
        self, *, fetcher: Fetcher, cpu: Executor, settings: ArticleSettings,
        db: Callable[..., Awaitable[Any]], unseen: Callable[[str, Sequence[str]], set[str]],
        now: Callable[[], datetime], policies: Mapping[str, ArticlePolicy] | None = None,
        retries: ArticleRetries | None = None, robots: RobotsCache | None = None,
    ) -> None:
        self.now = now
        self.policies = policies or {}
        self.fetcher = fetcher
        self.cpu = cpu
        self.settings = settings
        self.db = db
        self.unseen = unseen
        self.retries = retries
        self.robots = robots or RobotsCache(fetcher)
        self._slots = asyncio.Semaphore(settings.concurrency)

    def policy(self, source: str) -> ArticlePolicy:
        return self.policies.get(source, ArticlePolicy())

    async def complete(self, source: str, prepared: PreparedFeed) -> list[Prepared]:
        """The feed's prepared entries, those that wanted their article and are new
        now prepared from it (or flagged, and set to be retried)."""
        entries = list(prepared.entries)
        if not prepared.wanted:
            return entries
        new = await self.db(self.unseen, source, [item.guid for _, item in prepared.wanted])
        todo = [(index, item) for index, item in prepared.wanted if item.guid in new]
        if not todo:
            return entries
        policy, now = self.policy(source), self.now()
        outcomes = await asyncio.gather(*(self._fetch(item.url or "", policy) for _, item in todo))
        fetched = [(index, item, page) for (index, item), page in zip(todo, outcomes, strict=True)
                   if isinstance(page, ArticlePage)]
        if fetched:
            articles = await self._prepare([item for _, item, _ in fetched], [page for _, _, page in fetched])
            for (index, _, _), article in zip(fetched, articles, strict=True):
                entries[index] = article
        give_up_at = now + timedelta(seconds=self.settings.retry_for_s)
        for (index, item), outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, ArticlePage):
                continue
            entry = entries[index]
            if isinstance(outcome, Disallowed):
                entries[index] = replace(entry, item=entry.item.replace(flags=(*entry.item.flags, ARTICLE_DISALLOWED)))
                continue
            retry = next_try(self.settings, now, 1, give_up_at)
            entries[index] = replace(
                entry, item=entry.item.replace(flags=(*entry.item.flags, ARTICLE_MISSING)),
                retry_article=RetryArticle(item.url or "", str(outcome), retry, give_up_at) if retry else None,
            )
            log.warning("article_failed", feed=source, url=item.url, error=str(outcome),
                        retry_at=retry.isoformat() if retry else "never")
        return entries

    async def retry_due(self, owner: str) -> int:
        """Try the due articles of earlier polls once more; how many were tried."""
        if self.retries is None:
            return 0
        due: list[DueArticle] = await self.db(self.retries.claim_due, owner, RETRY_LEASE, RETRY_BATCH)
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._fetch(d.url, self.policy(d.item.source)) for d in due))
        fetched = [(d, page) for d, page in zip(due, outcomes, strict=True) if isinstance(page, ArticlePage)]
        if fetched:
            articles = await self._prepare([d.item for d, _ in fetched], [page for _, page in fetched])
            for (d, _), article in zip(fetched, articles, strict=True):
                alert_ids = await self.db(self.retries.complete, d.item_id, owner, article)
                log.info("article_retried", item_id=d.item_id, url=d.url, result="extracted",
                         matched=",".join(sorted({h.rule for h in article.hits})), alerts=len(alert_ids or ()))
        for d, outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, ArticlePage):
                continue
            if isinstance(outcome, Disallowed):  # robots.txt changed meanwhile: the feed's text is all there is
                await self.db(self.retries.reschedule, d.item_id, owner, error=str(outcome), next_attempt_at=None)
                continue
            at = next_try(self.settings, self.now(), d.attempts + 1, d.give_up_at)
            await self.db(self.retries.reschedule, d.item_id, owner, error=str(outcome), next_attempt_at=at)
            if at is None:
                metrics.record_article("gave-up")
                log.warning("article_gave_up", item_id=d.item_id, url=d.url, attempts=d.attempts + 1,
                            error=str(outcome))
        return len(due)

    async def _fetch(self, url: str, policy: ArticlePolicy) -> ArticlePage | FetchError | Disallowed:
        """The article's page, or why there is none (robots.txt, a failed fetch)."""
        async with self._slots:
            try:
                if policy.robots and not await self.robots.allowed(url):
                    metrics.record_article("disallowed")
                    return Disallowed(f"robots.txt disallows {url}")
                fetched = await self.fetcher.fetch(url, accept=ACCEPT_HTML, max_bytes=self.settings.max_bytes)
            except FetchError as exc:
                metrics.record_article("failed")
                return exc
        content_type = fetched.headers.get("Content-Type", "")
        return ArticlePage(fetched.url, fetched.body or b"", _charset(content_type))

    async def _prepare(self, items: Sequence[Item], pages: Sequence[ArticlePage]) -> list[Prepared]:
        prepared = await asyncio.get_running_loop().run_in_executor(self.cpu, prepare_articles, items, pages)
        for article in prepared:
            metrics.record_article("unreadable" if ARTICLE_UNREADABLE in article.item.flags else "extracted")
        return prepared


def _charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header."""
    message = Message()
    message["Content-Type"] = content_type
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


def article_step_factory(
    *, fetcher: Fetcher, cpu: Executor, settings: ArticleSettings, unseen: Callable[[str, Sequence[str]], set[str]],
    retries: ArticleRetries, policies: Mapping[str, ArticlePolicy],
) -> Callable[[Callable[..., Awaitable[Any]], Callable[[], datetime]], ArticleStep]:
    """What `Poller(articles=…)` takes: the step, built on the poller's database thread and clock."""
    robots = RobotsCache(fetcher)

    def build(db: Callable[..., Awaitable[Any]], now: Callable[[], datetime]) -> ArticleStep:
        return ArticleStep(fetcher=fetcher, cpu=cpu, settings=settings, db=db, unseen=unseen, now=now,
                           policies=policies, retries=retries, robots=robots)
    return build


def policies_of(listed: Sequence[Any]) -> dict[str, ArticlePolicy]:
    """Each listed feed's `ArticlePolicy` by URL (`monitor.feedlist.listed_feeds`)."""
    return {feed.url: ArticlePolicy(feed.fulltext, feed.robots) for feed in listed}
