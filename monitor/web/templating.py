"""The Jinja2 environment: autoescape everywhere, strict about undefined names.

Autoescape is on for every template (HTML and the Atom XML alike), so feed
text can only reach a page as text; the only trusted markup is what
`monitor.present.snippets` builds, which escapes each piece of feed text itself.
`StrictUndefined` turns a typo in a template into an error in the tests
instead of a silently empty cell on a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import jinja2
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from monitor.items import Hit
from monitor.present.dates import ago, duration, iso, when
from monitor.present.sanitize import safe_href, xml_text
from monitor.present.snippets import as_html, dashboard_mark, feed_mark, snippet, whole
from monitor.secrets import redact_urls

TEMPLATES = Path(__file__).parent / "templates"
SNIPPET_WIDTH = 80  # a list line on the dashboard is wider than an email's


def iso_attribute(value: datetime | None) -> str:
    """RFC 3339 for <time datetime> and Atom; empty when there is no time."""
    return iso(value, whole_seconds=True) or ""


def highlight(text: str, hits: Sequence[Hit]) -> Markup:
    """All of `text` with every hit marked (a title, a match's full text)."""
    return as_html(whole(text, hits), dashboard_mark)


def snippet_html(text: str, hits: Sequence[Hit], *, plain: bool = False) -> Markup:
    """One line around the first hit; `plain` for the Atom feed's readers."""
    return as_html(snippet(text, hits, width=SNIPPET_WIDTH), feed_mark if plain else dashboard_mark)


def _redacted(value: object) -> object:
    """Credentials in a URL (a feed's, an error naming one) never reach a page."""
    if isinstance(value, Markup):
        return Markup(redact_urls(str(value)))
    return redact_urls(value) if isinstance(value, str) else value


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_redacted,  # every value a page or the Atom feed prints
    )
    env.filters.update(when=when, iso=iso_attribute, ago=ago, duration=duration, xmlsafe=xml_text, safe_href=safe_href)
    env.globals.update(highlight=highlight, snippet=snippet_html)
    return Jinja2Templates(env=env)
