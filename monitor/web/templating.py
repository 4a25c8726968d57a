"""The Jinja2 environment: autoescape everywhere, strict about undefined names.

Autoescape is on for every template (HTML and the Atom XML alike), so feed
text can only reach a page as text; the only trusted markup is what
`monitor.web.highlight` builds, which escapes each piece of feed text itself.
`StrictUndefined` turns a typo in a template into an error in the tests
instead of a silently empty cell on a page.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from monitor.secrets import redact_urls

from monitor.web.highlight import highlight, snippet

TEMPLATES = Path(__file__).parent / "templates"

# Characters XML 1.0 forbids outright; feed text does carry them (form feeds,
# vertical tabs, stray NULs), and one of them makes a whole Atom document invalid.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def when(value: datetime | None) -> str:
    """A time as analysts read it: UTC, to the minute."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def iso(value: datetime | None) -> str:
    """RFC 3339 in UTC, for <time datetime> and Atom."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """'5 min ago' or 'in 3 h': how far a time is from now, roughly."""
    if value is None:
        return "never"
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        amount = f"{size:.0f} s"
    elif size < 3600:
        amount = f"{size / 60:.0f} min"
    elif size < 2 * 86400:
        amount = f"{size / 3600:.0f} h"
    else:
        amount = f"{size / 86400:.0f} d"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def xmlsafe(value: object) -> str:
    """Plain text without the characters XML cannot carry (escaping is still
    done by autoescape afterwards: this returns a plain `str`)."""
    return _XML_ILLEGAL.sub("", str(value))


def safe_href(value: str | None) -> str | None:
    """A feed-supplied URL fit for an href: http(s) only. Escaping alone would
    leave `javascript:` links clickable."""
    if not value:
        return None
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return value.strip() if scheme in ("http", "https") else None


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
    env.filters.update(when=when, iso=iso, ago=ago, xmlsafe=xmlsafe, safe_href=safe_href)
    env.globals.update(highlight=highlight, snippet=snippet)
    return Jinja2Templates(env=env)
