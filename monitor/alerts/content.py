"""What an alert says, independent of how it travels: built from the outbox
at delivery time, so copies of the story that arrived since the match are
listed as extra sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.items import Hit
from monitor.store.alerts import Claimed, Outbox
from monitor.store.matches import Match, Source


@dataclass(frozen=True, slots=True)
class MatchAlert:
    """One story matching one or more rules, routed to one channel."""

    key: str  # the idempotency key: webhook-id, Message-ID
    channel: str
    created_at: datetime
    rules: tuple[str, ...]  # in the order the routes list them
    match: Match  # its hits are those of `rules` only
    descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Digest:
    """The digest-mode matches of one channel and period, in one message."""

    key: str
    channel: str
    created_at: datetime
    period_start: datetime
    period_end: datetime
    matches: tuple[MatchAlert, ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r for m in self.matches for r in m.rules))

    def by_rule(self) -> dict[str, list[MatchAlert]]:
        grouped: dict[str, list[MatchAlert]] = {rule: [] for rule in self.rules}
        for alert in self.matches:
            for rule in alert.rules:
                grouped[rule].append(alert)
        return grouped


Content = MatchAlert | Digest


def load(outbox: Outbox, claimed: Claimed, descriptions: Mapping[str, str]) -> Content:
    """Read what a claimed alert is about (blocking: call it on the database thread)."""
    if claimed.kind == "digest":
        matches = [
            MatchAlert(key, claimed.channel, created, rules, outbox.item(item_id, rules), descriptions)
            for item_id, key, rules, created in outbox.digest_members(claimed.id)
        ]
        return Digest(
            key=claimed.idempotency_key, channel=claimed.channel, created_at=claimed.created_at,
            period_start=claimed.period_start or claimed.created_at, period_end=claimed.created_at,
            matches=tuple(matches), descriptions=descriptions,
        )
    assert claimed.item_id is not None
    return MatchAlert(claimed.idempotency_key, claimed.channel, claimed.created_at, claimed.rules,
                      outbox.item(claimed.item_id, claimed.rules), descriptions)


def sample(channel: str, key: str) -> MatchAlert:
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
    source = Source(item_id=0, feed_id=0, feed_url="test:", feed_title=None, url=None, title=title,
                    origin="press-monitor", published_at=now, ingested_at=now)
    match = Match(id=0, guid=key, title=title, text=text, url=None, language="en", place=None, hits=hits,
                  sources=(source,))
    return MatchAlert(key=key, channel=channel, created_at=now, rules=("ilo", "ohchr"), match=match)
