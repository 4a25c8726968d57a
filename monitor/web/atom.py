"""`/matches.atom`: the matches as an Atom feed (RFC 4287), optionally one rule's.

So any feed reader can subscribe. Ids are URNs derived from the source feed
and the item's guid, not from row numbers, so they survive a database restore
and a reader never sees an old match as new. Links are absolute: from
`web.base_url` when set (behind a proxy), else from the request.
Matches marked not relevant are left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from monitor.store.matches import Match
from monitor.store.queries import DashboardQueries
from monitor.web.filters import RULE_ID
from monitor.web.settings import WebSettings

MEDIA_TYPE = "application/atom+xml; charset=utf-8"
ENTRIES = 50
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/press-monitor/press-monitor")


def entry_id(match: Match) -> str:
    return uuid.uuid5(_NAMESPACE, f"item\0{match.source.feed_url}\0{match.guid}").urn


def atom_endpoint(
    queries: DashboardQueries, templates: Jinja2Templates, settings: WebSettings,
    error: Callable[[Request, int, str], Response],
) -> Callable[[Request], Awaitable[Response]]:
    async def matches_atom(request: Request) -> Response:
        rule = request.query_params.get("rule", "").strip() or None
        if rule is not None and not RULE_ID.match(rule):
            return error(request, 400, f"'rule' must be a rule id, not {rule!r}")
        matches = await run_in_threadpool(queries.newest, rule=rule, limit=ENTRIES)
        base = (settings.base_url or str(request.base_url)).rstrip("/")
        query = "?" + urlencode({"rule": rule}) if rule else ""
        return templates.TemplateResponse(
            request, "atom.xml",
            {
                "matches": matches, "rule": rule, "base": base, "query": query,
                "feed_id": uuid.uuid5(_NAMESPACE, f"feed\0{base}\0{rule or ''}").urn,
                "updated": max((m.ingested_at for m in matches), default=datetime.now(UTC)),
                "entry_id": entry_id,
            },
            media_type=MEDIA_TYPE,
        )

    return matches_atom
