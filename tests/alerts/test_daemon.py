"""`monitor run`: a live feed item matched, routed and delivered by the daemon's
own dispatch job, to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.alerts.cli import alerts_json
from tests.alerts.conftest import WHSEC, wait_for, write_config
from tests.alerts.receiver import WebhookReceiver
from tests.feedserver import FeedServer, feed_xml
from tests.pipeline.test_polling import seed_entries


def test_the_daemon_polls_matches_and_delivers_once(tmp_path: Path, db_url: str) -> None:
    with FeedServer() as feeds, WebhookReceiver(secret=WHSEC, script=[500]) as rx:
        url = feeds.add_feed("/press.xml", feed_xml(seed_entries()))
        config = write_config(
            tmp_path, db_url,
            channels={"ops": {"type": "webhook", "url": rx.url, "secret": {"env": "TEST_WHSEC"}, "timeout_s": 2}},
            routes=[{"rules": ["upr"], "channel": "ops"}],
        )
        with config.open("a") as f:
            f.write('[fetch]\nallowed_networks = ["127.0.0.1/32"]\n'
                    f"[[feeds]]\nurl = {json.dumps(url)}\n")
        text = config.read_text().replace("[schedule]\n", "[schedule]\ntick_s = 0.2\n").replace(
            'level = "WARNING"', 'level = "INFO"')
        config.write_text(text)
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            env={**os.environ, "TEST_WHSEC": WHSEC}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: [r.status for r in rx.received] == [500, 200], timeout=30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            proc.kill()
            proc.wait()
        log = proc.stderr.read().decode()
    assert all(r.verified for r in rx.received)
    assert rx.received[0].id == rx.received[1].id
    body = rx.received[1].json()
    assert body["rules"] == ["upr"] and body["item"]["url"].startswith("https://press.example/")
    assert "event=alert_failed" in log and "event=alert_sent" in log
    assert "s3cret" not in log, "the webhook URL's token must not reach the logs"
    # Stopped right after the 200: the delivery must still have been recorded.
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and [a["ok"] for a in alert["attempt_log"]] == [False, True]
