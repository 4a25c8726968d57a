"""Routes to alerts: one per channel, every rule listed, the most urgent mode wins."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from monitor.alerts.routing import Router
from monitor.alerts.settings import Route
from monitor.items import Hit, Item

ITEM = Item(source="replay:test", guid="g", title="t", text="x")
HITS = [Hit("upr", "UPR", "text", 0, 3, "UPR"), Hit("ohchr", "OHCHR", "text", 4, 9, "OHCHR"),
        Hit("ilo", "ILO", "text", 10, 13, "ILO")]
NIGHT = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)


def test_several_rules_to_one_channel_make_one_alert_listing_them_in_route_order() -> None:
    router = Router([Route(rules=["ohchr", "upr"], channel="desk"), Route(rules=["ilo"], channel="desk"),
                     Route(rules=["ilo"], channel="labour")])
    requests = {r.channel: r for r in router(ITEM, HITS)}
    assert requests["desk"].rules == ("ohchr", "upr", "ilo")
    assert requests["labour"].rules == ("ilo",)
    assert all(r.mode == "immediate" and r.not_before is None for r in requests.values())


def test_no_matching_route_no_alert_and_star_takes_every_rule() -> None:
    assert Router([Route(rules=["ohchr"], channel="desk")])(ITEM, HITS[2:]) == []
    (request,) = Router([Route(rules=["*"], channel="all")])(ITEM, HITS)
    assert request.rules == ("upr", "ohchr", "ilo")


def test_immediate_wins_over_digest_on_the_same_channel() -> None:
    router = Router([Route(rules=["ohchr"], channel="desk", mode="digest", digest="0 7 * * *"),
                     Route(rules=["ilo"], channel="desk")])
    (request,) = router(ITEM, HITS)
    assert request.mode == "immediate" and request.rules == ("ohchr", "ilo")
    (digest,) = Router([Route(rules=["ohchr"], channel="desk", mode="digest", digest="0 7 * * *")])(ITEM, HITS)
    assert digest.mode == "digest"


def test_quiet_hours_delay_unless_another_route_wants_it_now() -> None:
    quiet = Route(rules=["ohchr"], channel="desk", quiet_hours="22:00-07:00", timezone="UTC")
    (request,) = Router([quiet], clock=lambda: NIGHT)(ITEM, HITS)
    assert request.not_before == datetime(2026, 1, 16, 7, 0, tzinfo=UTC)
    loud = Route(rules=["ilo"], channel="desk")
    (request,) = Router([quiet, loud], clock=lambda: NIGHT)(ITEM, HITS)
    assert request.not_before is None


def test_a_router_pickles_into_worker_processes() -> None:
    router = Router([Route(rules=["ohchr"], channel="desk")], clock=lambda: NIGHT)
    copy = pickle.loads(pickle.dumps(router))
    assert copy(ITEM, HITS) == router(ITEM, HITS)
