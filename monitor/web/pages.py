"""The HTML pages: matches, one match, feeds.

Every database call runs on a worker thread (`run_in_threadpool`): the web
server shares the daemon's event loop, and a slow query must never delay a
poll. Each page gathers what it needs in one thread hop, then renders.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from monitor.present.sources import how_read
from monitor.states import FeedHealth
from monitor.store.feeds import FeedStore
from monitor.store.queries import DashboardQueries, FeedActivity, MatchNotFound
from monitor.store.websub import SubscriptionStore, SubscriptionView
from monitor.web import chart, filters
from monitor.web.marking import TokenGuard
from monitor.websub.protocol import describe

PER_PAGE = 50
FEEDS_PER_PAGE = 100  # problems first: a page of 2,000 feeds renders in seconds, one of 100 at once
CHART_DAYS = 30
HEALTH_ORDER = (FeedHealth.BACKING_OFF, FeedHealth.STALE, FeedHealth.DISABLED, FeedHealth.NEW,
                FeedHealth.OK)  # problems first
HEALTH_LABELS = {health: "failing" if health == FeedHealth.BACKING_OFF else health.value for health in FeedHealth}


@dataclass(frozen=True, slots=True)
class FeedsPage:
    feeds: list[FeedActivity]  # this page's, problems first
    total: int
    summary: Counter[str]  # every feed's health
    page: int
    pages: int


class Pages:
    def __init__(
        self, queries: DashboardQueries, templates: Jinja2Templates, guard: TokenGuard,
        subscriptions: SubscriptionStore,
    ) -> None:
        self.queries = queries
        self.templates = templates
        self.guard = guard
        self.subscriptions = subscriptions

    def render(self, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        return self.templates.TemplateResponse(
            request, name, {"nav": "", **context}, status_code=status_code,
            headers={"Cache-Control": "no-store"},
        )

    def error(self, request: Request, status_code: int, message: str) -> Response:
        return self.render(request, "error.html", {"status": status_code, "message": message}, status_code)

    # matches -----------------------------------------------------------------

    def _matches_data(self, query: filters.ListQuery) -> dict[str, Any]:
        return {
            "result": self.queries.matches(query.filter, page=query.page, per_page=PER_PAGE),
            "rules": self.queries.rules_seen(),
            "sources": self.queries.sources_with_matches(),
            "chart": chart.build(self.queries.per_rule_per_day(days=CHART_DAYS)),
        }

    async def matches(self, request: Request) -> Response:
        query = filters.parse(request.query_params)
        data = await run_in_threadpool(self._matches_data, query)
        return self.render(
            request, "matches.html", {"nav": "matches", "query": query, **data},
            status_code=400 if query.errors else 200,
        )

    async def match(self, request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        try:
            detail = await run_in_threadpool(self.queries.match, item_id)
        except MatchNotFound:
            raise HTTPException(404, f"No stored item has the number {item_id}.") from None
        marked = request.query_params.get("marked")
        unmarked = request.query_params.get("unmarked")
        return self.render(
            request, "match.html",
            {
                "nav": "matches", "detail": detail, "m": detail.match,
                "rule_counts": sorted(Counter(h.rule for h in detail.match.hits).items()),
                "can_mark": self.guard.configured,
                "marked": int(marked) if marked and marked.isdigit() else None,
                "unmarked": int(unmarked) if unmarked and unmarked.isdigit() else None,
            },
        )

    # feeds -------------------------------------------------------------------

    def _feeds_data(self, page: int) -> tuple[FeedsPage, dict[int, SubscriptionView]]:
        """Every feed's state (for the summary and the order), the activity of one page's."""
        states = sorted(FeedStore(self.queries.engine).all(),
                        key=lambda s: (HEALTH_ORDER.index(s.health), s.name.casefold()))
        pages = max(1, -(-len(states) // FEEDS_PER_PAGE))
        page = min(page, pages)
        shown = states[(page - 1) * FEEDS_PER_PAGE:page * FEEDS_PER_PAGE]
        summary = Counter(s.health for s in states)
        return FeedsPage(self.queries.feeds(states=shown), len(states), summary, page, pages), \
            self.subscriptions.views()

    async def feeds(self, request: Request) -> Response:
        asked = request.query_params.get("page", "1")
        data, subscriptions = await run_in_threadpool(self._feeds_data, int(asked) if asked.isdigit() and
                                                      int(asked) > 0 else 1)
        feeds = data.feeds
        now = datetime.now(UTC)
        return self.render(
            request, "feeds.html",
            {
                "nav": "feeds", "feeds": feeds, "labels": HEALTH_LABELS, "now": now, "total": data.total,
                "page": data.page, "pages": data.pages,
                "summary": [(h, HEALTH_LABELS[h], data.summary.get(h, 0)) for h in HEALTH_ORDER],
                "push": {feed_id: describe(view, now) for feed_id, view in subscriptions.items()},
                "reads": {f.state.id: how_read(f.state.url, f.state.source_kind, f.state.link_selector,
                                               f.state.resolved_as, f.state.resolved_url) for f in feeds},
            },
        )
