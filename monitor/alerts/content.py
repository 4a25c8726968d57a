"""What an alert says, independent of how it travels: built from the outbox
at delivery time, so copies of the story that arrived since the match are
listed as extra sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.items import Hit
from monitor.store.alerts import Claimed, ItemRow, Outbox, SourceRow


@dataclass(frozen=True, slots=True)
class Source:
    """One publisher of the story, as an analyst would name it."""

    name: str  # "BelTA", a feed title, or a host
    feed: str  # the feed URL (or replay:… for fixtures)
    url: str | None
    title: str
    published: datetime | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Match:
    """One story matching one or more rules routed to one channel."""

    key: str  # the idempotency key: webhook-id, Message-ID
    channel: str
    created_at: datetime
    rules: tuple[str, ...]  # in the order the routes list them
    title: str
    text: str | None
    url: str | None
    guid: str
    language: str | None
    place: str | None
    hits: tuple[Hit, ...]
    sources: tuple[Source, ...]  # the first publisher first
    descriptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def source(self) -> Source:
        return self.sources[0]

    @property
    def published(self) -> datetime | None:
        return self.source.published

    def field_text(self, hit: Hit) -> str:
        """The text a hit's offsets point into ('' once retention dropped it)."""
        return self.title if hit.field == "title" else (self.text or "")


@dataclass(frozen=True, slots=True)
class Digest:
    """The digest-mode matches of one channel and period, in one message."""

    key: str
    channel: str
    created_at: datetime
    period_start: datetime
    period_end: datetime
    matches: tuple[Match, ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for m in self.matches for r in m.rules))

    def by_rule(self) -> dict[str, list[Match]]:
        grouped: dict[str, list[Match]] = {rule: [] for rule in self.rules}
        for match in self.matches:
            for rule in match.rules:
                grouped[rule].append(match)
        return grouped


Content = Match | Digest


def source_name(row: SourceRow) -> str:
    if row.origin:
        return row.origin
    if row.feed_title:
        return row.feed_title
    host = urlsplit(row.feed).hostname
    return host or row.feed


def match_from(
    item: ItemRow, *, key: str, channel: str, rules: tuple[str, ...], created_at: datetime,
    descriptions: Mapping[str, str],
) -> Match:
    return Match(
        key=key, channel=channel, created_at=created_at, rules=rules, title=item.title, text=item.text,
        url=item.url, guid=item.guid, language=item.language, place=item.place, hits=item.hits,
        sources=tuple(
            Source(source_name(s), s.feed, s.url, s.title, s.published_at, s.ingested_at) for s in item.sources
        ),
        descriptions=descriptions,
    )


def load(outbox: Outbox, claimed: Claimed, descriptions: Mapping[str, str]) -> Content:
    """Read what a claimed alert is about (blocking: call it on the database thread)."""
    if claimed.kind == "digest":
        matches = []
        for item_id, key, rules, created in outbox.digest_members(claimed.id):
            item = outbox.item(item_id, rules)
            matches.append(match_from(item, key=key, channel=claimed.channel, rules=rules, created_at=created,
                                      descriptions=descriptions))
        return Digest(
            key=claimed.idempotency_key, channel=claimed.channel, created_at=claimed.created_at,
            period_start=claimed.period_start or claimed.created_at, period_end=claimed.created_at,
            matches=tuple(matches), descriptions=descriptions,
        )
    assert claimed.item_id is not None
    item = outbox.item(claimed.item_id, claimed.rules)
    return match_from(item, key=claimed.idempotency_key, channel=claimed.channel, rules=claimed.rules,
                      created_at=claimed.created_at, descriptions=descriptions)


def sample(channel: str, key: str) -> Match:
    """The message `monitor alerts test` sends: realistic, and plainly a test."""
    now = datetime.now(UTC)
    title = "press-monitor test alert: ILO and OHCHR mentioned"
    text = ("This is a test message from press-monitor. If you can read it, alerts to this channel "
            "arrive. The International Labour Organization and the OHCHR are mentioned here only to "
            "show how matched words are highlighted.")
    ilo = text.index("International Labour Organization")
    ohchr = text.index("OHCHR")
    hits = (
        Hit("ilo", "International Labour Organization", "text", ilo, ilo + 33, text[ilo:ilo + 33]),
        Hit("ohchr", "OHCHR", "text", ohchr, ohchr + 5, "OHCHR"),
    )
    source = Source("press-monitor", "test:", None, title, now, now)
    return Match(key=key, channel=channel, created_at=now, rules=("ilo", "ohchr"), title=title, text=text,
                 url=None, guid=key, language="en", place=None, hits=hits, sources=(source,))
