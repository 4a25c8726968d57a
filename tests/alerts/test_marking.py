"""Marking a story not relevant, as the analyst does it (the dashboard's form
endpoint with the token) and as the receiver sees it afterwards.

The rule: marking suppresses every alert of the story that is not yet sent.
An alert a dispatcher has already claimed and is sending finishes: if it is
delivered it is recorded as sent (the receiver has it), if it fails it is not
retried. Either way the story keeps its mark.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.store.engine import make_engine
from monitor.web.dashboard import create_app
from monitor.web.settings import WebSettings
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import WHSEC, write_config
from tests.alerts.receiver import Answer, WebhookReceiver
from tests.conftest import SEEDS
from tests.web.conftest import TOKEN, TOKEN_ENV, FakeProbe, LiveServer

SEED_004 = next(SEEDS.glob("004_*.txt"))


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WHSEC", WHSEC)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def dashboard(db_url: str) -> Iterator[httpx.Client]:
    """The dashboard on this test's database, with the marking token configured."""
    engine = make_engine(db_url, read_mostly=True)
    settings = WebSettings.model_validate({"port": 0, "token": {"env": TOKEN_ENV}})
    with LiveServer(create_app(engine, settings, health=FakeProbe()), settings) as server, server.client() as client:
        yield client
    engine.dispose()


def hook_config(tmp_path: Path, db_url: str, url: str) -> Path:
    return write_config(
        tmp_path, db_url,
        channels={"ops": {"type": "webhook", "url": url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 5}},
        routes=[{"rules": ["*"], "channel": "ops"}], alerts={"lease_s": 10},
    )


def mark(dashboard: httpx.Client, item_id: int) -> dict[str, Any]:
    response = dashboard.post(f"/matches/{item_id}/not-relevant",
                              headers={"X-Monitor-Token": TOKEN, "Accept": "application/json"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def start_sender(config: Path) -> subprocess.Popen[bytes]:
    """`monitor alerts send` as its own process (the CLI's one dispatch pass)."""
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "alerts", "send"],
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_story_marked_not_relevant_is_not_delivered(tmp_path: Path, db_url: str, dashboard: httpx.Client) -> None:
    with WebhookReceiver(secret=WHSEC) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        (alert,) = alerts_json(config)

        assert mark(dashboard, alert["item_id"]) == {
            "story_id": alert["item_id"], "labelled": 1, "suppressed": 1, "sending": 0}
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent" in err
    assert rx.received == []
    (alert,) = alerts_json(config)
    assert alert["state"] == "suppressed" and alert["attempts"] == 0


def test_an_alert_marked_while_it_is_being_sent_is_recorded_as_sent_and_the_mark_kept(
    tmp_path: Path, db_url: str, dashboard: httpx.Client
) -> None:
    with WebhookReceiver(secret=WHSEC, script=[Answer(200, hold=True)]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        sender = start_sender(config)
        try:
            assert rx.arrived.wait(30), "the sender never reached the receiver"
            (alert,) = alerts_json(config)
            assert alert["leased_by"], "claimed, and being sent"
            marked = mark(dashboard, alert["item_id"])  # while the request is in flight
            rx.release()
            _, err = sender.communicate(timeout=60)
        finally:
            sender.kill()
            sender.wait()
        assert sender.returncode == 0 and b"1 sent" in err, err
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent" in err

    # The receiver has it once: the outbox says so instead of "suppressed".
    assert [(r.status, r.id) for r in rx.received] == [(200, alert["idempotency_key"])]
    assert marked == {"story_id": alert["item_id"], "labelled": 1, "suppressed": 0, "sending": 1}
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and [a["ok"] for a in alert["attempt_log"]] == [True]
    assert "An analyst marked this not relevant" in dashboard.get(f"/matches/{alert['item_id']}").text


def test_an_alert_marked_while_it_is_being_sent_is_not_retried_when_that_attempt_fails(
    tmp_path: Path, db_url: str, dashboard: httpx.Client
) -> None:
    with WebhookReceiver(secret=WHSEC, script=[Answer(500, hold=True)]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        sender = start_sender(config)
        try:
            assert rx.arrived.wait(30), "the sender never reached the receiver"
            (alert,) = alerts_json(config)
            assert mark(dashboard, alert["item_id"])["sending"] == 1
            rx.release()
            _, err = sender.communicate(timeout=60)
        finally:
            sender.kill()
            sender.wait()
        assert sender.returncode == 5 and b"1 failed" in err, err
        time.sleep(0.3)  # the test retry schedule (0.2 s) has passed: only the mark keeps it back
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent" in err
    assert [r.status for r in rx.received] == [500]
    (alert,) = alerts_json(config)
    assert alert["state"] == "suppressed" and alert["leased_by"] is None
    assert [(a["ok"], a["status"]) for a in alert["attempt_log"]] == [(False, "500")]
