"""Links as the publisher meant them, and canonical URLs: one spelling per
document, so the same article linked two ways (tracking parameters, `www.`, a
trailing slash) is recognised."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never a document.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref", "ref_src", "cmpid",
        "ncid", "sr_share", "at_medium", "at_campaign", "spm", "ocid", "xtor", "s_cid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "__")


def resolve_link(link: str | None, base: str | None) -> str | None:
    """`link` made absolute against `base` (RFC 3986: `/en/news/x.html`, `news/x.html`
    and `../x` as a browser on the page at `base` would follow them). A link with a
    scheme (`https:`, `mailto:`), or without an http(s) base to resolve against, is
    returned as written."""
    if not link or link.startswith(("https://", "http://")):  # most links: nothing to resolve
        return link
    link = link.strip()
    try:
        if urlsplit(link).scheme or urlsplit(base or "").scheme.lower() not in ("http", "https"):
            return link
        return urljoin(base, link)  # type: ignore[type-var]  # base is a str here
    except ValueError:  # an unparsable link (a bad IPv6 literal) stays as written
        return link


def canonical_url(url: str | None) -> str | None:
    """The URL with tracking parameters, fragment, default port and case noise removed."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    return urlunsplit(("https", netloc, path, urlencode(query), ""))
