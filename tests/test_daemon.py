"""`monitor run` as systemd runs it: notify protocol, signals, reload."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import seed_entries, write_config


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.2)
    yield sock
    sock.close()


def messages_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.extend(sock.recv(4096).decode().splitlines())
        except TimeoutError:
            continue
        if wanted in seen:
            return seen
    raise AssertionError(f"no {wanted} within {timeout}s; got {seen}")


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_run_notifies_systemd_polls_and_stops_cleanly_on_sigterm(
    server: FeedServer, tmp_path: Path, db_url: str, notify_socket: socket.socket
) -> None:
    url = server.add_feed("/press.xml", feed_xml(seed_entries()))
    config = write_config(tmp_path, db_url, [url], schedule={"tick_s": 0.2}, log_level="INFO")
    with DaemonProcess(config, {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}) as daemon:
        seen = messages_until(notify_socket, "READY=1", timeout=30)
        seen += messages_until(notify_socket, "WATCHDOG=1", timeout=10)
        wait_for(lambda: server.requests("/press.xml") == 1, timeout=10)
        assert any(m.startswith("STATUS=") for m in seen)

        code = daemon.stop()
        stopping = messages_until(notify_socket, "STOPPING=1", timeout=1)
    assert code == 0, daemon.log
    assert "STOPPING=1" in stopping
    assert daemon.named("stop_requested")[0]["signal"] == "SIGTERM"
    assert daemon.named("stopped")


BAD_DATABASE_URLS = ["not a url", "nosuchdb://host/db", "postgresql://postgres@127.0.0.1:1/none",
                     "sqlite:////proc/self/no/such/dir/m.db"]


def test_sighup_reloads_the_feed_list_and_survives_a_broken_config(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    """A broken config file, or a database.url that cannot be used, is one
    reload_failed event each; the old config stays until a good one comes."""
    a = server.add_feed("/a.xml", feed_xml(seed_entries()))
    b = server.add_feed("/b.xml", feed_xml(seed_entries()))
    config = write_config(tmp_path, db_url, [a], schedule={"tick_s": 0.2}, log_level="INFO")
    with DaemonProcess(config) as daemon:
        wait_for(lambda: server.requests("/a.xml") == 1, timeout=30)

        good = config.read_text()
        config.write_text(good + "[bogus]\n")
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        failed = daemon.wait_for("reload_failed", after=mark)  # it has read the broken file
        assert "bogus" in failed["error"] and failed["keeping"] == "previous configuration"
        assert daemon.proc.poll() is None, "a broken config on reload must not stop the daemon"
        for bad in BAD_DATABASE_URLS:
            write_config(tmp_path, bad, [a, b], schedule={"tick_s": 0.2}, log_level="INFO")
            mark = daemon.mark()
            daemon.signal(signal.SIGHUP)
            assert daemon.wait_for("reload_failed", after=mark)["keeping"] == "previous configuration", bad
        assert server.requests("/b.xml") == 0  # the old feed list stays

        write_config(tmp_path, db_url, [a, b], schedule={"tick_s": 0.2}, log_level="INFO")
        mark = daemon.mark()
        daemon.signal(signal.SIGHUP)
        daemon.wait_for("reloaded", after=mark)
        wait_for(lambda: server.requests("/b.xml") == 1, timeout=20)

        assert daemon.stop() == 0, daemon.log
    assert len(daemon.named("reload_failed")) == 1 + len(BAD_DATABASE_URLS)
    assert "never retrieved" not in daemon.log and "Traceback" not in daemon.log, daemon.log


def test_a_bad_config_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[schedule]\ntick_s = 'often'\n")
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "schedule.tick_s" in proc.stderr


def test_the_daemon_serves_the_dashboard_health_and_metrics(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    url = server.add_feed("/press.xml", feed_xml(seed_entries()))
    config = write_config(tmp_path, db_url, [url], schedule={"tick_s": 0.2}, log_level="INFO")  # web port 0
    with DaemonProcess(config) as daemon:
        base = daemon.wait_for("web_listening")["url"].rstrip("/")  # the port the kernel gave it
        wait_for(lambda: server.requests("/press.xml") == 1, timeout=30)

        def matches_listed() -> bool:
            try:
                return "Sekreta" in httpx.get(f"{base}/", timeout=2).text
            except httpx.HTTPError:
                return False

        wait_for(matches_listed, timeout=15)
        health = httpx.get(f"{base}/healthz", timeout=5)
        exposition = httpx.get(f"{base}/metrics", timeout=5).text
        metrics = {s.name: s.value for family in text_string_to_metric_families(exposition)
                   for s in family.samples if not s.labels}
        assert daemon.stop() == 0, daemon.log
    assert health.status_code == 200, health.text
    scheduler = health.json()["checks"]["scheduler"]
    assert scheduler["ok"] and scheduler["max_age_s"] == 3 * 0.2 + 30
    # The daemon's own ticks feed the tick-age gauge: it is under the limit /healthz applies.
    assert 0 <= metrics["monitor_scheduler_tick_age_seconds"] <= scheduler["max_age_s"]
    assert metrics["monitor_database_up"] == 1
    assert metrics["monitor_items_ingested_total"] >= 2


def test_a_feed_is_polled_when_it_falls_due_and_its_alert_goes_out_at_once(tmp_path: Path, db_url: str) -> None:
    """The poll tick and the dispatch tick are an hour apart here (each runs once at
    start): a second poll seconds later can only come from the wake-up at the feed's
    due time, and a delivery only from the dispatcher being woken by the poll that
    queued the alert. No time is measured: the hour makes the difference."""
    from tests.alerts.conftest import WHSEC
    from tests.alerts.conftest import write_config as alerts_config
    from tests.alerts.receiver import WebhookReceiver

    with FeedServer() as feeds, WebhookReceiver(secret=WHSEC) as rx:
        entries = seed_entries()
        url = feeds.add_feed("/press.xml", feed_xml(entries))
        config = alerts_config(
            tmp_path, db_url, alerts={"dispatch_tick_s": 3600},
            channels={"ops": {"type": "webhook", "url": rx.url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}},
            routes=[{"rules": ["*"], "channel": "ops"}],
        )
        config.write_text(
            config.read_text().replace("[log]\nlevel = \"WARNING\"", "[log]\nlevel = \"INFO\"").replace(
                "[schedule]\n", "[schedule]\ntick_s = 3600\nlatency_target_s = 2\nmin_interval_s = 2\n")
            + f'[fetch]\nallowed_networks = ["127.0.0.1/32"]\n[[feeds]]\nurl = {json.dumps(url)}\n'
        )
        with DaemonProcess(config, {"TEST_WHSEC": WHSEC}) as daemon:
            first = daemon.wait_for("poll")
            wait_for(lambda: feeds.requests("/press.xml") == 2, timeout=30)
            # polled again when due (2 s ± 10 % jitter), not before, and not at the next tick
            assert feeds.arrivals("/press.xml")[1] >= datetime.fromisoformat(first["next_poll_at"]).timestamp()

            fresh = {"title": "ILO Governing Body opens", "link": "https://press.example/ilo-gb", "guid": "ilo-gb",
                     "description": "The International Labour Organization Governing Body met in Geneva.",
                     "pubDate": datetime.now(UTC)}
            feeds.publish("/press.xml", feed_xml([fresh, *entries]))
            wait_for(lambda: any("ilo-gb" in r.body.decode() for r in rx.received), timeout=30)
            assert daemon.stop() == 0, daemon.log
        assert [e["result"] for e in daemon.named("poll")][:1] == ["fetched"]
        assert sum(1 for r in rx.received if "ilo-gb" in r.body.decode()) == 1


def test_polls_failing_for_too_long_fail_healthz_and_starve_the_watchdog(
    server: FeedServer, tmp_path: Path, notify_socket: socket.socket
) -> None:
    """Every poll fails (here a 500; a dead worker pool did the same): after
    schedule.max_failing_s, /healthz says so and systemd's watchdog is no longer fed."""
    import httpx

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [server.hostile_url("500")],
                          schedule={"tick_s": 0.2, "max_failing_s": 1}, log_level="INFO")
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"}
    with DaemonProcess(config, env=env) as daemon:
        base = daemon.wait_for("web_listening")["url"].rstrip("/")
        messages_until(notify_socket, "READY=1", timeout=30)

        def received(seconds: float) -> list[str]:
            """Notifications for `seconds` (read on: an unread socket blocks the daemon's sends)."""
            seen: list[str] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    seen += notify_socket.recv(4096).decode().splitlines()
                except TimeoutError:
                    pass
            return seen

        def failing() -> dict | None:
            received(0.1)
            try:
                response = httpx.get(f"{base}/healthz", timeout=2)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 503 else None

        deadline = time.monotonic() + 15
        health = failing()
        while health is None and time.monotonic() < deadline:
            health = failing()
        assert health is not None, daemon.log
        assert health["failed"] == ["polling"], health
        assert "no feed polled successfully" in health["checks"]["polling"]["error"]
        received(0.3)  # what was sent before
        later = received(1.0)  # five ticks
        assert "WATCHDOG=1" not in later
        assert any(m.startswith("STATUS=") for m in later)  # the ticks go on
