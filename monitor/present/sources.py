"""How a source is read, in one line: the same words in `monitor feeds`, its
`--json` and the dashboard's feeds page."""

from __future__ import annotations


def how_read(
    url: str, kind: str, selector: str | None, resolved_as: str | None, resolved_url: str | None
) -> str | None:
    """None for a plain feed (nothing to say), else what discovery chose or the operator set."""
    links = f" (links = {selector!r})" if selector else ""
    if kind == "page":
        return f"listing page: its article links become items{links}"
    if resolved_as == "feed" and resolved_url and resolved_url != url:
        return f"the feed this page declares: {resolved_url}"
    if resolved_as == "page":
        return f"listing page: it is not a feed and declares none, its article links become items{links}"
    return None
