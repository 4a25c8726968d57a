"""The matches page's downloads: its current filter as CSV or JSON, every
matching story (not only the page shown), through the serializers of
`monitor matches` (`monitor.export`).

Streamed: rows are read in keyset batches on a worker thread while the
response goes out, so a large export neither sits in memory nor holds the
event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from monitor.export import csv_chunks, match_dict
from monitor.store.queries import DashboardQueries, MatchFilter
from monitor.web import filters


def _json_chunks(queries: DashboardQueries, f: MatchFilter) -> Iterator[str]:
    yield "["
    for n, m in enumerate(queries.all_matches(f)):
        yield ("," if n else "") + "\n" + json.dumps(match_dict(m), ensure_ascii=False)
    yield "\n]\n"


def download_endpoint(
    queries: DashboardQueries, kind: str, error: Callable[[Request, int, str], Response]
) -> Callable[[Request], Response]:
    """`kind` is "csv" or "json"; a bad filter is the page's 400, saying why."""

    def download(request: Request) -> Response:  # Starlette iterates a sync generator on a worker thread
        query = filters.parse(request.query_params)
        if query.errors:
            return error(request, 400, "; ".join(query.errors))
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        if kind == "csv":
            chunks, media = csv_chunks(queries.all_matches(query.filter), bom=True), "text/csv; charset=utf-8"
        else:
            chunks, media = _json_chunks(queries, query.filter), "application/json"
        return StreamingResponse(
            (chunk.encode("utf-8") for chunk in chunks), media_type=media,
            headers={"Content-Disposition": f'attachment; filename="matches-{stamp}.{kind}"',
                     "Cache-Control": "no-store"},
        )

    return download
