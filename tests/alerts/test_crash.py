"""At least once, with the same key: a dispatcher killed (SIGKILL) after it
claimed an alert and sent the request, before it recorded the outcome."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import WHSEC, wait_for, write_config
from tests.alerts.receiver import Answer, WebhookReceiver
from tests.conftest import SEEDS

SEED_004 = next(SEEDS.glob("004_*.txt"))
LEASE_S = 3


def test_killed_between_claim_and_ack_is_redelivered_with_the_same_webhook_id(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_WHSEC", WHSEC)
    with WebhookReceiver(secret=WHSEC, script=[Answer(block=True)]) as rx:
        config = write_config(
            tmp_path, db_url,
            channels={"ops": {"type": "webhook", "url": rx.url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}},
            routes=[{"rules": ["ohchr"], "channel": "ops"}], alerts={"lease_s": LEASE_S},
        )
        assert invoke(config, "replay", str(SEED_004))[0] == 0

        sender = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "alerts", "send"],
            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            assert rx.arrived.wait(30), "the sender never reached the receiver"
            os.kill(sender.pid, signal.SIGKILL)
            assert sender.wait(10) == -signal.SIGKILL
        finally:
            sender.kill()
            sender.wait()
        rx.release()

        (alert,) = alerts_json(config)
        assert alert["state"] == "pending" and alert["leased_by"], "the claim must have been recorded"
        assert alert["attempt_log"] == []  # killed before it could record anything
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent" in err, "the lease must keep others off while it runs"

        wait_for(lambda: _lease_over(config), LEASE_S + 5)
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "1 sent" in err, err

    first, second = rx.received
    assert first.id == second.id == alert["idempotency_key"]
    assert first.verified and second.verified
    assert first.body == second.body
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 2
    assert [a["ok"] for a in alert["attempt_log"]] == [False, True]
    assert "abandoned" in alert["attempt_log"][0]["error"]


def _lease_over(config: Path) -> bool:
    from datetime import UTC, datetime

    from monitor.app import App
    from monitor.config import load_config
    from monitor.store.models import Alert

    app = App(load_config(config))
    try:
        with app.engine.connect() as conn:
            until = conn.execute(Alert.__table__.select()).one().lease_until
    finally:
        app.engine.dispose()
    return until is None or until.replace(tzinfo=UTC) < datetime.now(UTC)
