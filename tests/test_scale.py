"""Several instances on one PostgreSQL: every feed fetched once per cycle, every
item stored once, every alert delivered once, even when an instance is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.app import App
from monitor.config import load_config
from monitor.store.feeds import FeedStore
from monitor.store.models import Alert, DeliveryAttempt, StoredItem
from tests.alerts.conftest import WHSEC, write_config
from tests.alerts.receiver import WebhookReceiver
from tests.feedserver import FeedServer, feed_xml

FEEDS = 300
PROCESSES = 3
LEASE_S = 10
RETRY_S = 0.2


def entries(feed: int, count: int) -> list[dict]:
    """Distinct stories; every third one mentions OHCHR, so alerts are made."""
    return [
        {"title": f"Feed {feed} release {n}", "link": f"https://press.example/{feed}/{n}", "guid": f"{feed}-{n}",
         "description": (f"Release {n} of ministry {feed}. " + ("The OHCHR welcomed the step. " if n % 3 == 0 else
                         "The minister met the ambassador. ") + f"Reference {feed * 1000 + n}."),
         "pubDate": datetime.now(UTC)}
        for n in range(count)
    ]


@pytest.fixture
def world(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FeedServer, WebhookReceiver, Path]]:
    monkeypatch.setenv("TEST_WHSEC", WHSEC)
    with FeedServer() as server, WebhookReceiver(secret=WHSEC) as receiver:
        urls = [server.add_feed(f"/f{n}.xml", feed_xml(entries(n, 2)), delay=0.01) for n in range(FEEDS)]
        config = write_config(
            tmp_path, pg_url,
            channels={"ops": {"type": "webhook", "url": receiver.url, "secret": {"env": "TEST_WHSEC"},
                              "timeout_s": 5}},
            routes=[{"rules": ["*"], "channel": "ops"}],
            alerts={"lease_s": LEASE_S, "retry_schedule_s": [RETRY_S] * 10},
        )
        text = config.read_text().replace("[schedule]\nparse_workers = 0",
                                          f"[schedule]\nparse_workers = 0\nlease_s = {LEASE_S}")
        text += "[fetch]\nallowed_networks = ['127.0.0.1/32']\nconcurrency = 8\n"
        text += "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls)
        config.write_text(text)
        app = App(load_config(config))
        from monitor.app import prepare_database

        prepare_database(app)
        app.engine.dispose()
        yield server, receiver, config


def run_together(
    config: Path, *args: str, kill_one_after: float | None = None, ok: tuple[int, ...] = (0,)
) -> list[int]:
    """`ok`: the exit codes that are no failure here (besides the SIGKILL we send)."""
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(PROCESSES)]
    if kill_one_after is not None:
        time.sleep(kill_one_after)
        procs[0].send_signal(signal.SIGKILL)
    codes = []
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        codes.append(proc.returncode)
        if proc.returncode not in (*ok, -signal.SIGKILL):
            raise AssertionError(err.decode()[-2000:])
    return codes


def send_until_settled(config: Path, rounds: int = 20) -> None:
    """`alerts send` until no alert is pending. Exit 1 only means an attempt failed
    (a receiver slow on a loaded machine) and is scheduled for retry: the test
    judges what finally arrived, not how many passes it took."""
    for _ in range(rounds):
        run = subprocess.run([sys.executable, "-m", "monitor", "alerts", "send"], capture_output=True, text=True,
                             env={**os.environ, "MONITOR_CONFIG": str(config)}, timeout=180)
        assert run.returncode in (0, 1), run.stderr[-2000:]
        if not pending(config):
            return
        time.sleep(RETRY_S)
    raise AssertionError(f"alerts still pending after {rounds} passes")


def pending(config: Path) -> int:
    app = App(load_config(config))
    with app.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Alert).where(Alert.state == "pending")).scalar_one()
    app.engine.dispose()
    return int(n)


def attempts_by_alert(config: Path) -> dict[int, list[tuple[bool, str | None]]]:
    app = App(load_config(config))
    with app.engine.connect() as conn:
        rows = conn.execute(select(DeliveryAttempt.alert_id, DeliveryAttempt.ok, DeliveryAttempt.error)
                            .order_by(DeliveryAttempt.id)).all()
        keys = dict(conn.execute(select(Alert.id, Alert.idempotency_key)).all())
    app.engine.dispose()
    found: dict[int, list[tuple[bool, str | None]]] = {}
    for alert_id, ok, error in rows:
        found.setdefault(keys[alert_id], []).append((ok, error))
    return found


def make_all_due(config: Path) -> None:
    app = App(load_config(config))
    FeedStore(app.engine).make_all_due()
    app.engine.dispose()


def counts(config: Path) -> tuple[int, int]:
    app = App(load_config(config))
    with app.engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(StoredItem)).scalar_one()
        alerts = conn.execute(select(func.count()).select_from(Alert)).scalar_one()
    app.engine.dispose()
    return items, alerts


def fetches(server: FeedServer) -> list[int]:
    return [server.requests(f"/f{n}.xml") for n in range(FEEDS)]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)  # about a minute alone; several times that on a loaded runner
def test_three_instances_share_the_work_and_survive_a_kill(world: tuple[FeedServer, WebhookReceiver, Path]) -> None:
    server, receiver, config = world

    # Cycle 1: three processes at once, each feed fetched exactly once.
    run_together(config, "poll", "--once")
    assert fetches(server) == [1] * FEEDS
    assert counts(config)[0] == FEEDS * 2

    # Cycle 2: 50 feeds publish; one process is killed mid-cycle.
    for n in range(50):
        server.publish(f"/f{n}.xml", feed_xml(entries(n, 4)))
        server.set_delay(f"/f{n}.xml", 0.3)
    make_all_due(config)
    codes = run_together(config, "poll", "--once", kill_one_after=1.0)
    assert codes[0] == -signal.SIGKILL
    time.sleep(LEASE_S + 1)  # the dead process's leases expire
    run_together(config, "poll", "--once")  # the survivors' next cycle picks up its feeds
    assert all(f >= 2 for f in fetches(server)), "a feed of the killed process was never polled again"

    # Cycle 3: everything due again, three processes, every feed fetched once more.
    before = fetches(server)
    make_all_due(config)
    run_together(config, "poll", "--once")
    assert [after - b for after, b in zip(fetches(server), before, strict=True)] == [1] * FEEDS

    items, alerts = counts(config)
    assert items == FEEDS * 2 + 50 * 2  # nothing lost, nothing doubled
    matching = sum(1 for n in range(FEEDS) for k in range(4 if n < 50 else 2) if k % 3 == 0)
    assert alerts == matching

    # Dispatch from three processes at once; kill one mid-way; every alert arrives.
    run_together(config, "alerts", "send", kill_one_after=1.2, ok=(0, 1))
    time.sleep(LEASE_S + 1)  # the killed sender's leases expire
    send_until_settled(config)

    # The killed sender may have left a request cut short on the wire (headers
    # without their body): no receiver acts on it. Every whole one is signed.
    complete = receiver.complete
    assert complete and all(r.verified for r in complete)
    delivered = Counter(r.id for r in complete if r.status == 200)
    assert len(delivered) == matching
    # At least once: an alert arrives again (same webhook-id, so the receiver can
    # drop it) only after an attempt its sender could not record as a success,
    # i.e. one the killed sender abandoned (at most alerts.concurrency = 8 were in
    # flight) or one that failed (a timeout on a loaded machine).
    attempts = attempts_by_alert(config)
    for key, arrived in delivered.items():
        unconfirmed = sum(1 for ok, _ in attempts[key] if not ok)
        assert arrived <= 1 + unconfirmed, (key, arrived, attempts[key])
    abandoned = sum(1 for log in attempts.values() for ok, error in log if not ok and error.startswith("abandoned"))
    assert abandoned <= 8
