"""Digests: the matches of a period in one message, grouped by rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.alerts.digest import DigestSchedule, catch_up, collect
from monitor.alerts.render import when
from monitor.app import App
from monitor.config import load_config
from monitor.store.alerts import Outbox
from monitor.store.models import Alert
from tests.alerts.cli import alerts_json, invoke, send_at
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


def period_of(outbox: Outbox, digest_id: int) -> tuple[datetime, datetime]:
    """(start, end) of a digest's period: its first member's match time, its cron time."""
    with outbox.engine.connect() as conn:
        row = conn.execute(select(Alert.period_start, Alert.created_at).where(Alert.id == digest_id)).one()
    return row.period_start, row.created_at


def test_the_digest_job_puts_the_periods_matches_in_one_message_grouped_by_rule(
    tmp_path: Path, db_url: str, smtp: SmtpServer
) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_000), str(SEED_004))[0] == 0
    assert invoke(config, "alerts", "send")[0] == 0
    assert smtp.sink.messages == [], "digest alerts never go out on their own"
    assert {a["state"] for a in alerts_json(config)} == {"pending"}

    waiting = {a["item_id"]: a for a in alerts_json(config)}
    app, outbox = outbox_of(config)
    try:
        at_seven = datetime.now(UTC)  # the job, called as the scheduler would at its time
        digest_id = collect(outbox, "desk", now=at_seven)
        assert digest_id is not None
        assert collect(outbox, "desk", now=at_seven + timedelta(minutes=1)) is None  # nothing left
        digest = outbox.get(digest_id)
        period = period_of(outbox, digest_id)
        members = outbox.digest_members(digest_id)
    finally:
        app.engine.dispose()
    # One digest for the period that ends at the job's time and starts with its first match.
    assert digest.kind == "digest" and digest.channel == "desk"
    assert period == (min(datetime.fromisoformat(a["created_at"]) for a in waiting.values()), at_seven)
    assert [(item, rules) for item, _, rules, _ in members] == sorted(
        (item, tuple(a["rules"])) for item, a in waiting.items())
    assert [key for _, key, _, _ in members] == [waiting[item]["idempotency_key"] for item, *_ in members]
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "1 sent" in err
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "0 sent" in err  # the members went out with their digest

    (msg,) = smtp.sink.emails
    assert msg["Subject"] == "[press-monitor] digest: 2 matches (ohchr 2, upr 1, ilo 1)"
    text = msg.get_body(("plain",)).get_content()
    first_match = min(datetime.fromisoformat(a["created_at"]) for a in waiting.values())
    assert text.splitlines()[0] == (f"press-monitor digest: 2 matches from {when(first_match)} to {when(at_seven)}")
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
    (early,) = alerts_json(config)
    cutoff = datetime.fromisoformat(early["created_at"])  # a digest time at the first match
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    late = next(a for a in alerts_json(config) if a["id"] != early["id"])
    assert datetime.fromisoformat(late["created_at"]) > cutoff  # stored after it (a clock tick at least)
    app, outbox = outbox_of(config)
    try:
        first = collect(outbox, "desk", now=cutoff)
        second = collect(outbox, "desk", now=cutoff + timedelta(days=1))  # the next digest time
        assert first is not None and second is not None
        periods = [period_of(outbox, d) for d in (first, second)]
        members = [[item for item, *_ in outbox.digest_members(d)] for d in (first, second)]
    finally:
        app.engine.dispose()
    assert members == [[early["item_id"]], [late["item_id"]]]
    assert periods == [(cutoff, cutoff), (datetime.fromisoformat(late["created_at"]), cutoff + timedelta(days=1))]
    assert send_at(config, cutoff + timedelta(days=1)).sent == 2  # each due at its own digest time
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
    (alert,) = alerts_json(config)
    try:
        assert catch_up(outbox, schedule, now=matched_at) is None  # no digest time since the match yet
        restart = matched_at + timedelta(minutes=2)
        digest_id = catch_up(outbox, schedule, now=restart)
        assert catch_up(outbox, schedule, now=matched_at + timedelta(minutes=3)) is None
        assert digest_id is not None
        digest = outbox.get(digest_id)
        members = outbox.digest_members(digest_id)
    finally:
        app.engine.dispose()
    # Sent now, as the digest of the time that was missed: the last minute boundary.
    missed = restart.replace(second=0, microsecond=0)
    assert digest.created_at == missed and digest.next_attempt_at == restart
    assert [(item, key) for item, key, _, _ in members] == [(alert["item_id"], alert["idempotency_key"])]


def test_alerts_digest_collects_now_from_the_cli(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    config = digest_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    code, out, _ = invoke(config, "alerts", "digest", "desk")
    assert code == 0 and "collected" in out
    assert invoke(config, "alerts", "send")[0] == 0
    assert len(smtp.sink.emails) == 1
    code, out, _ = invoke(config, "alerts", "digest", "desk")
    assert "nothing waiting" in out
