"""Digests: the matches of a period in one message, grouped by rule."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.alerts.digest import DigestSchedule, catch_up, collect
from monitor.app import App
from monitor.config import load_config
from monitor.store.alerts import Outbox
from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import SmtpServer, email_channel, write_config
from tests.conftest import SEEDS

SEED_000 = next(SEEDS.glob("000_*.txt"))
SEED_004 = next(SEEDS.glob("004_*.txt"))
WEEKDAYS = "0 7 * * mon-fri"


def digest_config(tmp_path: Path, db_url: str, port: int) -> Path:
    return write_config(
        tmp_path, db_url, channels={"desk": email_channel(port)},
        routes=[{"rules": ["ohchr", "upr", "ilo"], "channel": "desk", "mode": "digest", "digest": WEEKDAYS,
                 "timezone": "Europe/Zurich"}],
    )


def outbox_of(config: Path) -> tuple[App, Outbox]:
    app = App(load_config(config))
    return app, Outbox(app.engine)


def test_the_digest_job_puts_the_periods_matches_in_one_message_grouped_by_rule(
    tmp_path: Path, db_url: str, smtp: SmtpServer
) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_000), str(SEED_004))[0] == 0
    assert invoke(config, "alerts", "send")[0] == 0
    assert smtp.sink.messages == [], "digest alerts never go out on their own"
    assert {a["state"] for a in alerts_json(config)} == {"pending"}

    app, outbox = outbox_of(config)
    try:
        at_seven = datetime.now(UTC) + timedelta(minutes=1)  # the job, called as the scheduler would
        digest_id = collect(outbox, "desk", now=at_seven)
        assert digest_id is not None
        assert collect(outbox, "desk", now=at_seven + timedelta(minutes=1)) is None  # nothing left
    finally:
        app.engine.dispose()
    assert invoke(config, "alerts", "send")[0] == 0
    invoke(config, "alerts", "send")

    (msg,) = smtp.sink.emails
    assert msg["Subject"] == "[press-monitor] digest: 2 matches (ohchr 2, upr 1, ilo 1)"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    ohchr, upr, ilo = (text.index(f"== {rule} (") for rule in ("ohchr", "upr", "ilo"))
    assert ohchr < upr < ilo
    assert text.count("Belarusian Deputy Minister") == 3  # under each of its three rules
    assert "<mark>Universal Periodic Review</mark>" in html
    states = {a["kind"]: a["state"] for a in alerts_json(config)}
    assert states == {"digest": "sent", "item": "sent"}


def test_a_digest_takes_only_what_came_before_its_time(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_000))[0] == 0
    time.sleep(0.05)
    cutoff = datetime.now(UTC)
    time.sleep(0.05)
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    app, outbox = outbox_of(config)
    try:
        first = collect(outbox, "desk", now=cutoff)
        second = collect(outbox, "desk", now=cutoff + timedelta(days=1))
    finally:
        app.engine.dispose()
    assert first is not None and second is not None
    invoke(config, "alerts", "send")
    assert sorted(m["Subject"] for m in smtp.sink.emails) == [
        "[press-monitor] digest: 1 match (ohchr 1)",
        "[press-monitor] digest: 1 match (ohchr 1, upr 1, ilo 1)",
    ]


def test_a_digest_time_missed_while_down_is_caught_up_at_start(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    matched_at = datetime.now(UTC)  # times below count from here, so a minute boundary cannot fall in between
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    app, outbox = outbox_of(config)
    schedule = DigestSchedule("desk", "* * * * *", "UTC")  # a time passed since the match
    try:
        assert catch_up(outbox, schedule, now=matched_at) is None  # no digest time since the match yet
        assert catch_up(outbox, schedule, now=matched_at + timedelta(minutes=2)) is not None
        assert catch_up(outbox, schedule, now=matched_at + timedelta(minutes=3)) is None
    finally:
        app.engine.dispose()


def test_alerts_digest_collects_now_from_the_cli(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    code, out, _ = invoke(config, "alerts", "digest", "desk")
    assert code == 0 and "collected" in out
    assert invoke(config, "alerts", "send")[0] == 0
    assert len(smtp.sink.emails) == 1
    code, out, _ = invoke(config, "alerts", "digest", "desk")
    assert "nothing waiting" in out
