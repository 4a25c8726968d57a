"""The web interface's ASGI application, built from an engine and its settings.

`create_app` is the one entry point: the daemon builds the app with its own
engine, a `HealthProbe` over its scheduler and, with `web.public_url` set, the
`PushHooks` that take WebSub deliveries into its pipeline; then runs it with
`monitor.web.server.serve` inside its event loop. Tests build it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor import logs
from monitor.metrics import CONTENT_TYPE, DatabaseCollector, TickAgeCollector, exposition
from monitor.rules import RuleSet
from monitor.store.queries import DashboardQueries
from monitor.store.websub import SubscriptionStore
from monitor.web.api import Api
from monitor.web.atom import atom_endpoint
from monitor.web.downloads import download_endpoint
from monitor.web.health import HealthProbe, PollingProbe, healthz_endpoint
from monitor.web.marking import TokenGuard, mark_endpoint, unmark_endpoint
from monitor.web.pages import Pages
from monitor.web.security import SecurityHeaders
from monitor.web.settings import WebSettings
from monitor.web.templating import make_templates
from monitor.web.websub import PushHooks, websub_routes

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 16 * 1024  # the only body we accept is a one-field form

log = logs.get("web")


def create_app(
    engine: Engine, settings: WebSettings, *, health: HealthProbe, polling: PollingProbe | None = None,
    websub: PushHooks | None = None, rules: Callable[[], RuleSet] | None = None,
) -> Starlette:
    """The dashboard, Atom feed, /healthz and /metrics over `engine`, the WebSub
    callback when given `websub`, and the rules page when given `rules` (the
    rules in force, asked for at each request: a reload changes them).

    Raises `monitor.secrets.SecretError` when `settings.token` (or `api_token`) is set but
    cannot be read: better a clear stop at start than a dashboard that
    silently refuses every mark."""
    queries = DashboardQueries(engine)
    templates = make_templates()
    guard = TokenGuard.from_settings(settings)
    subscriptions = SubscriptionStore(engine)
    pages = Pages(queries, templates, guard, subscriptions)
    collectors = (DatabaseCollector(queries), TickAgeCollector(health.tick_age_s))

    def metrics(request: Request) -> Response:  # sync: Starlette runs it on a worker thread
        return Response(exposition(*collectors), media_type=CONTENT_TYPE)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return Response(exc.detail, status_code=405, headers=exc.headers)
        return pages.error(request, exc.status_code, exc.detail)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("web_error", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return pages.error(request, 500, "Something went wrong on our side; the log has the details.")

    routes = [
        Route("/", pages.matches, name="matches"),
        Route("/matches/{item_id:int}", pages.match, name="match"),
        Route("/matches/{item_id:int}/not-relevant", mark_endpoint(queries, guard, pages.error),
              methods=["POST"], name="mark_not_relevant"),
        Route("/matches.atom", atom_endpoint(queries, templates, settings, pages.error), name="atom"),
        Route("/matches/{item_id:int}/relevant", unmark_endpoint(queries, guard, pages.error),
              methods=["POST"], name="unmark"),
        Route("/feeds", pages.feeds, name="feeds"),
        *(_rules_routes(queries, engine, rules, pages, settings) if rules is not None else []),
        Route("/healthz", healthz_endpoint(queries, health, polling), name="healthz"),
        Route("/metrics", metrics, name="metrics"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *(websub_routes(subscriptions, websub) if websub is not None else []),
    ]
    # downloads of the matches page (issue 15)
    routes += [
        Route("/matches.csv", download_endpoint(queries, "csv", pages.error), name="matches_csv"),
        Route("/matches.json", download_endpoint(queries, "json", pages.error), name="matches_json"),
    ]
    # the read API (issue 15): no routes at all without web.api_token
    api = Api.from_settings(queries, settings)
    if api is not None:
        routes += api.routes()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders),
                    Middleware(TrustedHostMiddleware, allowed_hosts=settings.answered_hosts(), www_redirect=False)],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.queries = queries
    return app


def _rules_routes(queries: DashboardQueries, engine: Engine, rules: Callable[[], RuleSet], pages: Pages,
                  settings: WebSettings) -> list[Route]:
    from monitor.store.stored import StoredItems
    from monitor.web.rules import RulesPage, TryLimits

    page = RulesPage(queries, StoredItems(engine), rules, pages.render,
                     TryLimits(settings.try_deadline_s, settings.try_max_items))
    return [Route("/rules", page.page, name="rules"),
            Route("/rules/try", page.try_it, methods=["POST"], name="try_rule")]
