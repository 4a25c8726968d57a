"""The rules page: every rule in force with what it does (description, terms,
languages, exclusions), its matches per day, its latest hits and its noise
(stories marked not relevant / matches); and the read-only "try it" form.

Try it runs a one-rule TOML snippet against the stored items of the last days
with the engine of `monitor rules test` (`Pipeline.scan` over `StoredItems`),
and stores nothing. It is bounded so it cannot hang the daemon: the snippet's
size is capped (refused with a message above it), it runs on a worker thread
off the event loop, one at a time, and it stops at a deadline or an item cap,
saying so; the result is then partial, and `monitor rules test` gives it whole.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from monitor.errors import RuleError
from monitor.items import Hit
from monitor.pipeline import Pipeline
from monitor.rules import RuleSet, compile_rules
from monitor.rules.loading import load_rules_text
from monitor.rules.version import version_of
from monitor.store.matches import Match
from monitor.store.queries import DashboardQueries, MatchFilter, RuleActivity
from monitor.store.stored import StoredEntry, StoredItems

DAYS = 30
LATEST = 5  # latest hits shown per rule
MAX_SNIPPET_CHARS = 4_000
MAX_DAYS = 30
SHOWN = 50  # matching items listed by a try


@dataclass(frozen=True, slots=True)
class TryLimits:
    deadline_s: float = 3.0
    max_items: int = 20_000


@dataclass(slots=True)
class TryResult:
    rule: str
    days: int
    scanned: int = 0
    matched: int = 0
    shown: list[tuple[StoredEntry, list[Hit]]] = field(default_factory=list)
    stopped: str | None = None  # why the try ended early (partial result)


def try_rule(items: StoredItems, ruleset: RuleSet, days: int, limits: TryLimits,
             clock: Callable[[], float] = time.monotonic) -> TryResult:
    """The snippet's rule over the stories of the last `days` days, newest rules
    engine, bounded by `limits` (I/O: reads the store)."""
    pipeline = Pipeline(compile_rules(ruleset), None)
    result = TryResult(ruleset.ids[0], days)
    deadline = clock() + limits.deadline_s
    since = datetime.now(UTC) - timedelta(days=days)
    for batch in items.batches(since, stories=True, size=200):
        for entry in batch:
            if clock() > deadline:
                result.stopped = (f"stopped after {result.scanned} items: the {limits.deadline_s:g} s limit was "
                                  f"reached, so this result is partial. Try fewer days, or run "
                                  f"`monitor rules test` on the server.")
                return result
            if result.scanned >= limits.max_items:
                result.stopped = (f"stopped after {limits.max_items} items (the limit of a try), so this result "
                                  f"is partial. Try fewer days, or run `monitor rules test` on the server.")
                return result
            result.scanned += 1
            hits = pipeline.scan(entry.item)
            if hits:
                result.matched += 1
                if len(result.shown) < SHOWN:
                    result.shown.append((entry, hits))
    return result


def _form(body: bytes) -> dict[str, str]:
    values = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: v[0] for key, v in values.items()}


class RulesPage:
    def __init__(self, queries: DashboardQueries, items: StoredItems, rules: Callable[[], RuleSet],
                 render: Callable[..., Response], limits: TryLimits = TryLimits()) -> None:
        self.queries = queries
        self.items = items
        self.rules = rules
        self.render = render
        self.limits = limits
        self._busy = asyncio.Lock()

    def _data(self) -> dict[str, Any]:
        ruleset = self.rules()
        span, activity = self.queries.rule_activity(days=DAYS)
        latest: dict[str, list[Match]] = {
            rule.id: list(self.queries.matches(MatchFilter(rule=rule.id), per_page=LATEST).matches) for rule in ruleset
        }
        empty = RuleActivity("", (0,) * DAYS, 0, 0)
        return {
            "ruleset": ruleset, "version": version_of(ruleset), "span": span, "latest": latest,
            "activity": {rule.id: activity.get(rule.id, empty) for rule in ruleset},
            "peak": max((max(a.per_day) for a in activity.values()), default=0),
        }

    async def page(self, request: Request, extra: dict[str, Any] | None = None, status_code: int = 200) -> Response:
        data = await run_in_threadpool(self._data)
        context = {"nav": "rules", "rule_text": "", "days": 7, "limits": self.limits, "max_chars": MAX_SNIPPET_CHARS,
                   "tried": None, "problem": None, **data, **(extra or {})}
        return self.render(request, "rules.html", context, status_code)

    async def try_it(self, request: Request) -> Response:
        body = await request.body()
        form = _form(body)
        snippet = form.get("rule", "")
        days_text = form.get("days", "7").strip()
        days = int(days_text) if days_text.isdigit() else 0
        extra: dict[str, Any] = {"rule_text": snippet, "days": days or 7}
        if len(snippet) > MAX_SNIPPET_CHARS:
            problem = (f"The rule is {len(snippet):,} characters long; the try-it form takes at most "
                       f"{MAX_SNIPPET_CHARS:,}. Try a shorter rule here, or a rule file with `monitor rules test`.")
            return await self.page(request, {**extra, "rule_text": snippet[:MAX_SNIPPET_CHARS], "problem": problem}, 413)
        if not 1 <= days <= MAX_DAYS:
            return await self.page(request, {**extra, "problem": f"Days must be a whole number from 1 to {MAX_DAYS}."},
                                   400)
        try:
            ruleset = load_rules_text(snippet, "try-it")
        except RuleError as exc:
            return await self.page(request, {**extra, "problem": str(exc)}, 400)
        if len(ruleset) != 1:
            return await self.page(request, {**extra, "problem": f"Write exactly one [[rule]] (this has "
                                                                 f"{len(ruleset)})."}, 400)
        if self._busy.locked():
            return await self.page(request, {**extra, "problem": "Another try is running; try again in a few "
                                                                 "seconds."}, 429)
        async with self._busy:
            tried = await run_in_threadpool(try_rule, self.items, ruleset, days, self.limits)
        return await self.page(request, {**extra, "tried": tried})
