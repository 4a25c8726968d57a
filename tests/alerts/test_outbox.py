"""The outbox API on both backends: atomic claims, leases, dead letters,
re-drive, channels disabled by their receiver, digests collected once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.routing import Router
from monitor.alerts.settings import Route
from monitor.items import Item
from monitor.pipeline import Pipeline
from monitor.rules import compile_rules, load_rules
from monitor.store import migrations
from monitor.store.alerts import Outbox, digest_key
from monitor.store.engine import make_engine
from monitor.store.repository import Store
from tests.conftest import RULES

LEASE = timedelta(seconds=60)


@pytest.fixture
def outbox(db_url: str) -> Iterator[Outbox]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    yield Outbox(engine)
    engine.dispose()


def store_matches(
    outbox: Outbox, n: int, routes: list[Route], source: str = "replay:test",
    clock: Callable[[], datetime] | None = None,
) -> list[int]:
    """`clock`: the time the router decides quiet hours by (default: now)."""
    pipeline = Pipeline(compile_rules(load_rules([RULES])), Store(outbox.engine), Router(routes, clock=clock))
    items = [Item(source=source, guid=f"g{i}", title=f"Note {i} on the OHCHR", text=f"Item number {i} mentions OHCHR.")
             for i in range(n)]
    (results,) = pipeline.commit([(source, pipeline.prepare(items))])
    return [a for r in results for a in r.outcome.alert_ids]


IMMEDIATE = [Route(rules=["ohchr"], channel="ops")]


def test_concurrent_claimers_never_share_an_alert(outbox: Outbox) -> None:
    ids = store_matches(outbox, 40, IMMEDIATE)
    assert len(ids) == 40
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claimer(owner: str) -> None:
        mine: list[int] = []
        start.wait()
        while batch := outbox.claim_due(owner, LEASE, 3, channels=["ops"]):
            mine += [c.id for c in batch]
            time.sleep(0.01)  # "delivering": the others get their turn
        claimed[owner] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    everything = [i for mine in claimed.values() for i in mine]
    assert sorted(everything) == sorted(ids), "every alert claimed exactly once"
    assert sum(1 for mine in claimed.values() if mine) >= 2, "the work was shared"


def test_a_lease_keeps_others_off_until_it_expires_and_the_abandoned_attempt_is_recorded(outbox: Outbox) -> None:
    (alert_id,) = store_matches(outbox, 1, IMMEDIATE)
    now = datetime.now(UTC)
    (first,) = outbox.claim_due("a", LEASE, 10, channels=["ops"], now=now)
    assert first.attempts == 1
    assert outbox.claim_due("b", LEASE, 10, channels=["ops"], now=now + timedelta(seconds=30)) == []
    (again,) = outbox.claim_due("b", LEASE, 10, channels=["ops"], now=now + timedelta(seconds=61))
    assert again.id == alert_id and again.idempotency_key == first.idempotency_key and again.attempts == 2
    (attempt,) = outbox.attempts(alert_id)
    assert not attempt.ok and "abandoned" in attempt.error
    # The first holder's late failure must not reschedule an alert it no longer holds.
    assert not outbox.record_failure(alert_id, "a", at=now, status="500", error="late", retry_at=now)
    assert outbox.get(alert_id).lease_owner == "b"


def test_the_last_failure_dead_letters_and_retry_re_drives(outbox: Outbox) -> None:
    (alert_id,) = store_matches(outbox, 1, IMMEDIATE)
    now = datetime.now(UTC)
    for attempt in range(1, 4):
        (c,) = outbox.claim_due("a", LEASE, 10, channels=["ops"], now=now)
        assert c.attempts == attempt
        last = attempt == 3
        assert outbox.record_failure(alert_id, "a", at=now, status="500", error="HTTP 500",
                                     retry_at=None if last else now)
    row = outbox.get(alert_id)
    assert row.state == "dead" and row.attempts == 3 and row.last_error == "HTTP 500"
    assert outbox.claim_due("a", LEASE, 10, channels=["ops"], now=now + timedelta(days=1)) == []
    assert [a.ok for a in outbox.attempts(alert_id)] == [False, False, False]

    retried = outbox.retry(dead=True, now=now)
    assert retried.ids == (alert_id,)
    (c,) = outbox.claim_due("a", LEASE, 10, channels=["ops"], now=now)
    assert c.attempts == 1
    outbox.record_success(alert_id, at=now, status="200")
    assert outbox.get(alert_id).state == "sent"
    assert outbox.retry([alert_id, 999]).refused == ((alert_id, "already delivered"), (999, "no such alert"))


def test_a_disabled_channel_is_not_claimed_until_enabled(outbox: Outbox) -> None:
    store_matches(outbox, 2, IMMEDIATE)
    outbox.disable_channel("ops", "410 Gone", "hash-1")
    assert outbox.claim_due("a", LEASE, 10, channels=["ops"]) == []
    assert outbox.sync_channels({"ops": "hash-1"}) == []  # same config: stays off
    assert "ops" in outbox.disabled_channels()
    assert outbox.sync_channels({"ops": "hash-2"}) == ["ops"]  # changed config: on again
    assert len(outbox.claim_due("a", LEASE, 10, channels=["ops"])) == 2


def test_quiet_hours_set_the_due_time_and_digest_alerts_wait_for_their_digest(outbox: Outbox) -> None:
    # Matched at noon UTC tomorrow (a fixed time of day, so the test means the
    # same at any hour it runs; tomorrow, so the quiet end is never in the past).
    noon = (datetime.now(UTC) + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    quiet_end = noon.replace(hour=23, minute=59)
    routes = [Route(rules=["ohchr"], channel="night", quiet_hours="00:00-23:59"),
              Route(rules=["ohchr"], channel="daily", mode="digest", digest="0 7 * * *")]
    store_matches(outbox, 1, routes, clock=lambda: noon)
    rows = {r.channel: r for r in outbox.list()}
    assert rows["night"].next_attempt_at == quiet_end
    assert rows["daily"].mode == "digest" and rows["daily"].next_attempt_at is None
    assert outbox.claim_due("a", LEASE, 10, channels=["night", "daily"], now=noon) == []
    assert outbox.claim_due("a", LEASE, 10, channels=["night", "daily"],
                            now=quiet_end - timedelta(seconds=1)) == []
    (night,) = outbox.claim_due("a", LEASE, 10, channels=["night", "daily"], now=quiet_end)
    assert night.channel == "night"  # the quiet is over; the digest alert still waits


def test_a_digest_is_collected_once_even_by_concurrent_collectors(outbox: Outbox) -> None:
    store_matches(outbox, 5, [Route(rules=["ohchr"], channel="daily", mode="digest", digest="0 7 * * *")])
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    results: list[int | None] = []
    start = threading.Barrier(3)

    def collect(i: int) -> None:
        start.wait()
        # Different keys on purpose: only the rows themselves stop a double digest.
        results.append(outbox.collect_digest("daily", digest_key("daily", cutoff + timedelta(minutes=i)), cutoff))

    threads = [threading.Thread(target=collect, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    made = [r for r in results if r is not None]
    assert len(made) == 1
    digest = outbox.get(made[0])
    assert digest.kind == "digest" and digest.rules == ("ohchr",)
    assert len(outbox.digest_members(made[0])) == 5
    assert {r.state for r in outbox.list() if r.kind == "item"} == {"digested"}
    (claimed,) = outbox.claim_due("a", LEASE, 10, channels=["daily"])
    assert claimed.id == made[0]
    outbox.record_success(claimed.id, at=datetime.now(UTC), status="250 ok")
    assert {r.state for r in outbox.list()} == {"sent"}
