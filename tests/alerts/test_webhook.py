"""Webhook alerts end to end against a real receiver on 127.0.0.1 that checks
Standard Webhooks signatures with its own, independent verifier."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.alerts.cli import alerts_json, invoke, send_at
from tests.alerts.conftest import WHSEC, write_config
from tests.alerts.receiver import Answer, WebhookReceiver
from tests.conftest import SEEDS

SEED_004 = next(SEEDS.glob("004_*.txt"))


def hook_config(tmp_path: Path, db_url: str, url: str, **alerts: object) -> Path:
    return write_config(
        tmp_path, db_url,
        channels={"ops": {"type": "webhook", "url": url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}},
        routes=[{"rules": ["*"], "channel": "ops"}], alerts=alerts,
    )


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WHSEC", WHSEC)


def send_until_settled(config: Path, passes: int = 10) -> list[tuple[int, str]]:
    """`alerts send` until nothing is pending; the (exit code, summary) of each pass
    that attempted something (a pass before the retry is due attempts nothing)."""
    done = []
    for _ in range(passes):
        code, _, err = invoke(config, "alerts", "send")
        summary = err.strip().splitlines()[-1]
        if not summary.startswith("0 sent, 0 failed (will retry), 0 dead"):
            done.append((code, summary))
        if all(a["state"] != "pending" for a in alerts_json(config)):
            return done
        time.sleep(0.25)
    raise AssertionError(f"still pending after {passes} passes: {done}")


def test_500_twice_then_200_is_delivered_once_after_three_signed_attempts(tmp_path: Path, db_url: str) -> None:
    with WebhookReceiver(secret=WHSEC, script=[500, 500]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        passes = send_until_settled(config)

    assert passes == [(5, "0 sent, 1 failed (will retry), 0 dead")] * 2 + [(0, "1 sent, 0 failed (will retry), 0 dead")]
    assert [r.status for r in rx.received] == [500, 500, 200]
    assert all(r.verified for r in rx.received), "the receiver could not verify a signature"
    assert len({r.id for r in rx.received}) == 1, "the webhook-id must not change across retries"
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 3
    assert [(a["ok"], a["status"]) for a in alert["attempt_log"]] == [(False, "500"), (False, "500"), (True, "200")]
    assert rx.received[0].id == alert["idempotency_key"]

    body = rx.received[-1].json()
    assert body["version"] == 1 and body["type"] == "press-monitor.match"
    assert body["id"] == alert["idempotency_key"]
    assert body["rules"] == ["ohchr", "upr", "ilo"]  # the order the hits first name them (route "*")
    assert body["item"]["source"] == "BelTA"
    assert body["hits_total"] == len(body["hits"]) >= 10
    hit = next(h for h in body["hits"] if h["rule"] == "upr")
    assert hit["matched"] == "Universal Periodic Review" and hit["matched"] in hit["snippet"]
    assert {"start", "end", "field", "term"} <= hit.keys()
    assert body["sources"][0]["name"] == "BelTA"


def test_the_last_failure_makes_the_alert_dead_and_retry_re_drives_it(tmp_path: Path, db_url: str) -> None:
    with WebhookReceiver(secret=WHSEC, script=[503] * 4) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        passes = send_until_settled(config)
        assert passes == ([(5, "0 sent, 1 failed (will retry), 0 dead")] * 3
                          + [(5, "0 sent, 0 failed (will retry), 1 dead")])
        (alert,) = alerts_json(config, "--state", "dead")
        assert alert["attempts"] == 4  # 1 + the 3 retries of the test schedule
        assert "HTTP 503" in alert["last_error"]
        code, out, _ = invoke(config, "alerts", "list", "--state", "dead")
        assert code == 0 and "dead" in out and "HTTP 503" in out

        code, out, _ = invoke(config, "alerts", "retry", "--dead")
        assert code == 0 and "1 alert(s) queued" in out
        assert invoke(config, "alerts", "send")[0] == 0
    assert [r.status for r in rx.received] == [503, 503, 503, 503, 200]
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent"
    code, _, err = invoke(config, "alerts", "retry", str(alert["id"]))
    assert code == 5 and "already delivered" in err


def test_retry_after_is_honoured(tmp_path: Path, db_url: str) -> None:
    """The test retry schedule says 0.2 s; the receiver's Retry-After says 120 s, and wins."""
    with WebhookReceiver(secret=WHSEC, script=[Answer(429, {"Retry-After": "120"})]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "1 failed (will retry)" in err
        (alert,) = alerts_json(config)
        failed_at = datetime.fromisoformat(alert["attempt_log"][0]["at"])
        due = datetime.fromisoformat(alert["next_attempt_at"])
        assert due - failed_at == timedelta(seconds=120)

        time.sleep(0.3)  # past the 0.2 s retry schedule, well inside the 120 s asked for
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent, 0 failed" in err
        assert send_at(config, due - timedelta(seconds=1)).attempts == 0  # the last second of the window
        assert len(rx.received) == 1, "nothing may be sent inside the Retry-After window"

        assert send_at(config, due).sent == 1  # the window is over
    assert [r.status for r in rx.received] == [429, 200]
    assert rx.received[0].id == rx.received[1].id
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 2


def test_410_disables_the_channel_until_an_operator_enables_it(tmp_path: Path, db_url: str) -> None:
    with WebhookReceiver(secret=WHSEC, script=[410]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "disabled by their receiver: ops" in err
        time.sleep(0.3)  # the retry is due: only the disabled channel keeps it back
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "0 sent, 0 failed" in err
        assert len(rx.received) == 1, "a disabled channel must not be called"
        code, out, _ = invoke(config, "alerts", "list")
        assert "channel ops DISABLED" in out and "410" in out
        code, out, _ = invoke(config, "alerts", "channels")
        assert "DISABLED" in out

        assert invoke(config, "alerts", "enable", "ops")[1].strip() == "ops enabled"
        assert invoke(config, "alerts", "send")[0] == 0
    assert [r.status for r in rx.received] == [410, 200]


def test_a_changed_channel_config_re_enables_a_channel_disabled_by_410(tmp_path: Path, db_url: str) -> None:
    with WebhookReceiver(secret=WHSEC, script=[410]) as old, WebhookReceiver(secret=WHSEC) as new:
        config = hook_config(tmp_path, db_url, old.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "disabled by their receiver: ops" in err
        time.sleep(0.3)  # the retry is due
        code, _, err = invoke(config, "alerts", "send")  # same config: stays disabled
        assert code == 0 and "0 sent" in err
        config = hook_config(tmp_path, db_url, new.url)
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0 and "1 sent" in err
    assert len(old.received) == 1 and len(new.received) == 1
    assert new.received[0].status == 200 and new.received[0].id == old.received[0].id


def test_a_slow_receiver_times_out_and_a_huge_answer_is_not_read_whole(tmp_path: Path, db_url: str) -> None:
    huge = Answer(500, {"Content-Type": "text/plain"}, b"x" * 5_000_000)
    with WebhookReceiver(secret=WHSEC, script=[Answer(block=True), huge]) as rx:
        config = hook_config(tmp_path, db_url, rx.url)
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        assert invoke(config, "alerts", "send")[0] == 5  # the attempt gave up after timeout_s = 2
        rx.release()
        time.sleep(0.3)  # the retry is due
        code, _, err = invoke(config, "alerts", "send")
        assert code == 5 and "1 failed (will retry)" in err  # the 500 with a huge body
    (alert,) = alerts_json(config)
    log = alert["attempt_log"]
    assert "within 2s" in log[0]["error"]
    assert log[1]["status"] == "500" and len(log[1]["error"]) < 300
