"""`monitor run` as systemd runs it: notify protocol, signals, reload."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


def start(config: Path, tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


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
    proc = start(config, tmp_path, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="2000000")
    try:
        seen = messages_until(notify_socket, "READY=1", timeout=30)
        seen += messages_until(notify_socket, "WATCHDOG=1", timeout=10)
        wait_for(lambda: server.requests("/press.xml") == 1, timeout=10)
        assert any(m.startswith("STATUS=") for m in seen)

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        stopping = messages_until(notify_socket, "STOPPING=1", timeout=1)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0, proc.stderr.read().decode()
    assert "STOPPING=1" in stopping
    log = proc.stderr.read().decode()
    assert "event=poll" in log or "event=stopped" in log


def test_sighup_reloads_the_feed_list_and_survives_a_broken_config(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    a = server.add_feed("/a.xml", feed_xml(seed_entries()))
    b = server.add_feed("/b.xml", feed_xml(seed_entries()))
    config = write_config(tmp_path, db_url, [a], schedule={"tick_s": 0.2}, log_level="INFO")
    proc = start(config, tmp_path)
    try:
        wait_for(lambda: server.requests("/a.xml") == 1, timeout=30)

        good = config.read_text()
        config.write_text(good + "[bogus]\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert proc.poll() is None, "a broken config on reload must not stop the daemon"

        write_config(tmp_path, db_url, [a, b], schedule={"tick_s": 0.2}, log_level="INFO")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: server.requests("/b.xml") == 1, timeout=20)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()
    log = proc.stderr.read().decode()
    assert "event=reload_failed" in log and "bogus" in log
    assert "event=reloaded" in log


def test_a_bad_config_stops_the_start_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[schedule]\ntick_s = 'often'\n")
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "schedule.tick_s" in proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_daemon_serves_the_dashboard_health_and_metrics(
    server: FeedServer, tmp_path: Path, db_url: str
) -> None:
    import httpx

    url = server.add_feed("/press.xml", feed_xml(seed_entries()))
    port = free_port()
    config = write_config(tmp_path, db_url, [url], schedule={"tick_s": 0.2})
    config.write_text(config.read_text().replace("[web]\nport = 0", f"[web]\nport = {port}"))
    proc = start(config, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: server.requests("/press.xml") == 1, timeout=30)

        def matches_listed() -> bool:
            try:
                return "Sekreta" in httpx.get(f"{base}/", timeout=2).text
            except httpx.HTTPError:
                return False

        wait_for(matches_listed, timeout=15)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200, health.text
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "monitor_" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_feed_is_polled_when_it_falls_due_and_its_alert_goes_out_at_once(tmp_path: Path, db_url: str) -> None:
    """The ticks are a minute apart here: polls and deliveries seconds apart can only
    come from the wake-up at the next feed's due time and from the dispatcher being
    woken by the poll that queued the alert."""
    from monitor.store.engine import make_engine
    from monitor.store.feeds import FeedStore
    from tests.alerts.conftest import WHSEC
    from tests.alerts.conftest import write_config as alerts_config
    from tests.alerts.receiver import WebhookReceiver

    with FeedServer() as feeds, WebhookReceiver(secret=WHSEC) as rx:
        entries = seed_entries()
        url = feeds.add_feed("/press.xml", feed_xml(entries))
        config = alerts_config(
            tmp_path, db_url, alerts={"dispatch_tick_s": 60},
            channels={"ops": {"type": "webhook", "url": rx.url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}},
            routes=[{"rules": ["*"], "channel": "ops"}],
        )
        config.write_text(
            config.read_text().replace(
                "[schedule]\n",
                "[schedule]\ntick_s = 60\nlatency_target_s = 2\nmin_interval_s = 2\nmax_interval_s = 2\n")
            + f'[fetch]\nallowed_networks = ["127.0.0.1/32"]\n[[feeds]]\nurl = {json.dumps(url)}\n'
        )
        proc = start(config, tmp_path, TEST_WHSEC=WHSEC)
        engine = make_engine(db_url)
        try:
            wait_for(lambda: feeds.requests("/press.xml") == 1, timeout=30)
            (state,) = wait_for_value(lambda: [f for f in FeedStore(engine).all() if f.last_polled_at], timeout=10)
            wait_for(lambda: feeds.requests("/press.xml") == 2, timeout=10)
            second_poll = time.time()
            assert state.next_poll_at is not None
            # polled when due (±10 % jitter on 2 s), not at the next tick a minute later
            assert -0.2 < second_poll - state.next_poll_at.timestamp() < 1.5

            fresh = {"title": "ILO Governing Body opens", "link": "https://press.example/ilo-gb", "guid": "ilo-gb",
                     "description": "The International Labour Organization Governing Body met in Geneva.",
                     "pubDate": datetime.now(UTC)}
            feeds.publish("/press.xml", feed_xml([fresh, *entries]))
            published = time.monotonic()
            wait_for(lambda: any("ilo-gb" in r.body.decode() for r in rx.received), timeout=15)
            # the next poll within ~2 s, then delivered at once, not at the dispatch tick
            assert time.monotonic() - published < 5

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            engine.dispose()
            proc.kill()
            proc.wait()


def wait_for_value(produce, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := produce():
            return value
        time.sleep(0.02)
    raise AssertionError("no value in time")
