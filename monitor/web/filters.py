"""The matches list's query string, read into a `MatchFilter`.

Parsed here, once, with every bad value turned into a message the page shows
(the analyst typed it into a URL or a form), never into a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from monitor.store.queries import MatchFilter

RULE_ID = re.compile(r"^[a-z0-9_-]{1,100}$")
MAX_PAGE = 100_000


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: MatchFilter
    page: int
    errors: tuple[str, ...] = field(default=())

    def link(self, **changes: object) -> str:
        """The query string for this list with some parameters changed."""
        values: dict[str, object] = {
            "rule": self.filter.rule,
            "source": self.filter.feed_id,
            "since": self.filter.since.isoformat() if self.filter.since else None,
            "until": self.filter.until.isoformat() if self.filter.until else None,
            "hide": "1" if self.filter.hide_not_relevant else None,
            "page": self.page if self.page > 1 else None,
        }
        values.update(changes)
        kept = {k: str(v) for k, v in values.items() if v not in (None, "")}
        return "?" + urlencode(kept) if kept else "?"


def _date(params: QueryParams, name: str, errors: list[str]) -> date | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"'{name}' must be a date like 2024-11-04, not {raw!r}")
        return None


def parse(params: QueryParams) -> ListQuery:
    errors: list[str] = []
    rule = params.get("rule", "").strip() or None
    if rule is not None and not RULE_ID.match(rule):
        errors.append(f"'rule' must be a rule id (lowercase letters, digits, _ and -), not {rule!r}")
        rule = None
    feed_id: int | None = None
    raw_source = params.get("source", "").strip()
    if raw_source:
        if raw_source.isdigit():
            feed_id = int(raw_source)
        else:
            errors.append(f"'source' must be a feed number, not {raw_source!r}")
    since, until = _date(params, "since", errors), _date(params, "until", errors)
    if since and until and since > until:
        errors.append("'since' is after 'until'")
    page = 1
    raw_page = params.get("page", "").strip()
    if raw_page:
        if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            errors.append(f"'page' must be a number from 1 to {MAX_PAGE}, not {raw_page!r}")
    hide = params.get("hide", "") in ("1", "on", "true")
    return ListQuery(MatchFilter(rule, feed_id, since, until, hide), page, tuple(errors))
