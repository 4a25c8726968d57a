"""The one write: an analyst marks a match as not relevant (and may undo it).

It changes what alerts go out, so it needs the token from the config
(`web.token`, a secret reference). The token must come with the request
itself, in the form field `token` or the `X-Monitor-Token` header (or
`Authorization: Bearer …`), never from a cookie: a page on another site can
make a browser POST here, but cannot know the token, so this is the CSRF
defence too. Without a configured token the dashboard is read-only (403).
The comparison is constant-time over SHA-256 digests, so neither the token's
content nor its length leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from monitor import logs
from monitor.secrets import resolve
from monitor.store.queries import DashboardQueries, MatchNotFound
from monitor.web.settings import WebSettings

log = logs.get("web")

HEADER = "x-monitor-token"
FIELD = "token"
FORM_TYPE = "application/x-www-form-urlencoded"


class TokenGuard:
    def __init__(self, token: str | None) -> None:
        self._digest = hashlib.sha256(token.encode()).digest() if token else None

    @classmethod
    def from_settings(cls, settings: WebSettings) -> TokenGuard:
        """Resolve `web.token` now, so a missing secret stops the start with
        SecretError (naming where it was looked for) instead of a 403 later."""
        return cls(resolve(settings.token) if settings.token is not None else None)

    @property
    def configured(self) -> bool:
        return self._digest is not None

    def refusal(self, presented: str | None) -> str | None:
        """Why this token is refused, or None when it is the right one."""
        if self._digest is None:
            return "This dashboard is read-only: no web.token is configured."
        if not presented:
            return f"The token is missing: send it in the form field '{FIELD}' or the X-Monitor-Token header."
        if not hmac.compare_digest(hashlib.sha256(presented.encode()).digest(), self._digest):
            return "The token is wrong."
        return None


async def presented_token(request: Request) -> str | None:
    """The token sent with this request: header first, then the form body."""
    if token := request.headers.get(HEADER):
        return token
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM_TYPE:
        body = (await request.body()).decode("utf-8", errors="replace")
        values = parse_qs(body, keep_blank_values=True).get(FIELD)
        return values[0] if values else None
    return None


def mark_endpoint(
    queries: DashboardQueries, guard: TokenGuard, error: Callable[[Request, int, str], Response]
) -> Callable[[Request], Awaitable[Response]]:
    async def mark_not_relevant(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        refusal = guard.refusal(await presented_token(request))
        if refusal is not None:
            log.warning("mark_refused", item_id=item_id, reason=refusal, client=_client(request))
            return error(request, 403, refusal)
        try:
            result = await run_in_threadpool(queries.mark_not_relevant, item_id)
        except MatchNotFound:
            return error(request, 404, f"No stored item has the number {item_id}.")
        log.info("marked_not_relevant", item_id=item_id, story_id=result.story_id,
                 labelled=result.labelled, alerts_suppressed=result.suppressed, alerts_sending=result.sending,
                 client=_client(request))
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"story_id": result.story_id, "labelled": result.labelled,
                                 "suppressed": result.suppressed, "sending": result.sending})
        return RedirectResponse(f"/matches/{result.story_id}?marked={result.suppressed}", status_code=303)

    return mark_not_relevant


def unmark_endpoint(
    queries: DashboardQueries, guard: TokenGuard, error: Callable[[Request, int, str], Response]
) -> Callable[[Request], Awaitable[Response]]:
    """Undo "not relevant": the same token, the same answers."""

    async def unmark(request: Request) -> Response:
        item_id: int = request.path_params["item_id"]
        refusal = guard.refusal(await presented_token(request))
        if refusal is not None:
            log.warning("unmark_refused", item_id=item_id, reason=refusal, client=_client(request))
            return error(request, 403, refusal)
        try:
            result = await run_in_threadpool(queries.unmark, item_id)
        except MatchNotFound:
            return error(request, 404, f"No stored item has the number {item_id}.")
        log.info("unmarked_not_relevant", item_id=item_id, story_id=result.story_id, unlabelled=result.unlabelled,
                 alerts_requeued=result.requeued, client=_client(request))
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"story_id": result.story_id, "unlabelled": result.unlabelled,
                                 "requeued": result.requeued})
        return RedirectResponse(f"/matches/{result.story_id}?unmarked={result.requeued}", status_code=303)

    return unmark


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
