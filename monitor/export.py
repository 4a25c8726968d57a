"""A stored match as a program or a spreadsheet reads it: one JSON object, one
CSV row. `monitor matches`, the dashboard's downloads and the read API all
write matches through these two functions, so the three never disagree.

Every cell of the CSV goes through `csv_cell`: a feed title starting with `=`
would otherwise run as a formula in the analyst's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from monitor.present.dates import iso
from monitor.present.sanitize import csv_cell
from monitor.secrets import redact_url
from monitor.store.matches import Match, Source

CSV_COLUMNS = (
    "id", "stored_at", "published_at", "headline", "source", "feed", "link", "language", "rules", "hits",
    "story_sources", "not_relevant", "labelled_at",
)
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with this


def _source(s: Source) -> dict[str, Any]:
    return {"item_id": s.item_id, "name": s.name, "feed": redact_url(s.feed_url), "feed_title": s.feed_title,
            "url": s.url, "title": s.title, "published_at": iso(s.published_at), "stored_at": iso(s.ingested_at)}


def match_dict(m: Match) -> dict[str, Any]:
    """The documented JSON form of a match (README "Matches from the command line")."""
    return {
        "id": m.id,
        "headline": m.title,
        "link": m.url,
        "source": m.source.name,
        "feed": redact_url(m.source.feed_url),
        "published_at": iso(m.published_at),
        "stored_at": iso(m.ingested_at),
        "language": m.language,
        "place": m.place,
        "rules": list(m.rules),
        "hits": [{"rule": h.rule, "term": h.term, "field": h.field, "start": h.start, "end": h.end,
                  "matched": h.matched} for h in m.hits],
        "story": {"sources": [_source(s) for s in m.sources]},
        "marks": {"not_relevant": m.not_relevant, "labelled_at": iso(m.labelled_at)},
    }


def csv_row(m: Match) -> list[str]:
    """One row per match, in CSV_COLUMNS order; hits and sources joined with "; "."""
    hits = "; ".join(f"{h.rule}: {h.matched}" for h in m.hits)
    cells = [
        str(m.id), iso(m.ingested_at) or "", iso(m.published_at) or "", m.title, m.source.name,
        redact_url(m.source.feed_url), m.url or "", m.language or "", "; ".join(m.rules), hits,
        "; ".join(s.name for s in m.extra_sources), "yes" if m.not_relevant else "", iso(m.labelled_at) or "",
    ]
    return [csv_cell(c) for c in cells]


def csv_chunks(matches: Iterable[Match], *, bom: bool = False, rows_per_chunk: int = 200) -> Iterator[str]:
    """The CSV document in pieces (header first), for a stream or a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    if bom:
        buffer.write(BOM)
    writer.writerow(CSV_COLUMNS)
    for n, m in enumerate(matches, 1):
        writer.writerow(csv_row(m))
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
