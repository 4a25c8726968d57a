"""Email alerts end to end: seed texts replayed through the pipeline, delivered
by `monitor alerts send` to a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest
import trustme

from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import SmtpServer, email_channel, server_context, write_config
from tests.conftest import SEEDS
from tests.feedserver import feed_xml

SEED_004 = next(SEEDS.glob("004_*.txt"))
RULES = ["ohchr", "upr", "ilo"]


def desk_config(tmp_path: Path, db_url: str, port: int, **channel: object) -> Path:
    return write_config(tmp_path, db_url, channels={"desk": email_channel(port, **channel)},
                        routes=[{"rules": RULES, "channel": "desk"}])


def test_seed_004_is_one_email_with_rules_highlights_and_source_and_a_replay_sends_nothing(
    tmp_path: Path, db_url: str, smtp: SmtpServer
) -> None:
    config = desk_config(tmp_path, db_url, smtp.port)
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0, err
    assert "1 sent" in err

    (envelope, msg), = smtp.sink.messages
    assert envelope.mail_from == "alerts@example.org"
    assert envelope.rcpt_tos == ["desk@example.org"]
    assert msg["Subject"].startswith("[press-monitor] ohchr, upr, ilo: Belarusian Deputy Minister")
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["rules"] == RULES
    assert msg["Message-ID"] == f"<{alert['idempotency_key']}@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"

    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Rules:   ohchr, upr, ilo" in text
    assert "Source:  BelTA, Minsk" in text
    for rule in RULES:
        assert f"<b>{rule}</b>" in html
    assert "<mark>Universal Periodic Review</mark>" in html
    assert "<mark>ILO</mark>" in html
    assert "<mark>OHCHR</mark>" in html
    assert "<mark>International Labor Organization</mark>" in html
    assert "BelTA" in html

    code, out, _ = invoke(config, "replay", str(SEED_004))
    assert code == 0 and "seen" in out
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "0 sent" in err
    assert len(smtp.sink.messages) == 1


def test_a_copy_from_another_source_before_delivery_is_an_extra_source_not_a_second_alert(
    tmp_path: Path, db_url: str, smtp: SmtpServer
) -> None:
    config = desk_config(tmp_path, db_url, smtp.port)
    text = SEED_004.read_text(encoding="utf-8")
    files = []
    for name, site in (("belta", "https://belta.example"), ("mirror", "https://mirror.example")):
        path = tmp_path / f"{name}.xml"
        path.write_bytes(feed_xml(
            [{"title": "Sekreta meets Türk and the ILO", "link": f"{site}/news/sekreta", "guid": f"{name}-1",
              "description": text}],
            title=name.title(), link=f"{site}/",
        ))
        files.append(path)
    assert invoke(config, "replay", str(files[0]))[0] == 0
    code, out, _ = invoke(config, "replay", "--json", str(files[1]))
    assert code == 0 and '"seen_because": "story"' in out
    assert invoke(config, "alerts", "send")[0] == 0

    (_, msg), = smtp.sink.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Link:    https://belta.example/news/sekreta" in text
    assert "Also published by:" in text
    assert "https://mirror.example/news/sekreta" in text
    assert '<a href="https://mirror.example/news/sekreta">' in html
    assert len(alerts_json(config)) == 1


ENCODED_WORD_TITLES = {
    # the review's title: q-encoded CR LF adding Reply-To and ending the header block
    "q": "=?utf-8?q?UN_rights_office=0D=0AReply-To:_attacker@evil.test=0D=0A=0D=0AFake_body?=",
    "b": "=?utf-8?b?" + base64.b64encode(b"OHCHR\r\nBcc: attacker@evil.test\r\n\r\nFake body").decode() + "?=",
    "inside-a-word": "Report:=?utf-8?q?=0D=0ABcc:_attacker@evil.test?=",
    "with-non-ascii": "Türk: =?iso-8859-1?q?=0D=0AReply-To:_attacker@evil.test?= statement",
}


@pytest.mark.parametrize("name", sorted(ENCODED_WORD_TITLES))
def test_encoded_words_in_a_feed_title_stay_text_in_the_subject(
    name: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """CVE-2024-6923: the email package decodes RFC 2047 encoded words in a header
    value it is given and, unpatched (Python 3.11.7 here), writes a decoded CR LF
    out raw. A title must stay text, whatever the Python."""
    title = ENCODED_WORD_TITLES[name]
    config = desk_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", smtp.port)
    path = tmp_path / "feed.xml"
    path.write_bytes(feed_xml([{"title": title, "guid": "ew", "link": "https://press.example/ew",
                                "description": "The OHCHR said so."}]))
    assert invoke(config, "replay", str(path))[0] == 0
    code, _, err = invoke(config, "alerts", "send")
    assert code == 0 and "1 sent" in err, err

    (_, msg), = smtp.sink.messages
    assert sorted(msg.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted", "X-Press-Monitor-Id",
        "MIME-Version", "Content-Type"])
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
    shown = str(msg["Subject"]).replace("\u200b", "")  # what the reader sees
    assert shown == f"[press-monitor] ohchr: {title}"
    assert "Fake body" not in msg.get_body(("plain",)).get_content()


def test_smtp_down_then_up_is_retried_and_delivered_once(tmp_path: Path, db_url: str) -> None:
    server = SmtpServer()  # its port is reserved, nothing listens yet
    config = desk_config(tmp_path, db_url, server.port)
    assert invoke(config, "replay", str(SEED_004))[0] == 0

    code, _, err = invoke(config, "alerts", "send")  # nothing listens on the port
    assert code == 5 and "1 failed" in err
    (alert,) = alerts_json(config)
    assert alert["state"] == "pending" and alert["attempts"] == 1
    assert "Connection refused" in alert["last_error"] or "ConnectionRefused" in alert["last_error"]

    server.start()
    try:
        import time

        time.sleep(0.3)  # the retry schedule in the test config is 0.2 s
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0, err
        assert invoke(config, "alerts", "send")[0] == 0  # a second pass finds nothing more to send
        assert len(server.sink.messages) == 1
    finally:
        server.stop()
    (alert,) = alerts_json(config)
    assert alert["state"] == "sent" and alert["attempts"] == 2
    assert [a["ok"] for a in alert["attempt_log"]] == [False, True]
    assert alert["attempt_log"][1]["status"].startswith("250")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_starttls_with_a_trusted_ca_and_auth_delivers(tmp_path: Path, db_url: str, ca: trustme.CA,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"hunter2")

    server = SmtpServer(tls_context=server_context(ca), require_starttls=True, authenticator=authenticator,
                        auth_require_tls=True).start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "hunter2")
    config = desk_config(tmp_path, db_url, server.port, security="starttls", ca_file="ca.pem",
                         username="alerts", password={"env": "TEST_SMTP_PASSWORD"})
    try:
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, err = invoke(config, "alerts", "send")
        assert code == 0, err
        assert len(server.sink.messages) == 1
        assert logins == [(b"alerts", b"hunter2")]
    finally:
        server.stop()


def test_an_untrusted_certificate_fails_the_attempt(tmp_path: Path, db_url: str, ca: trustme.CA) -> None:
    """Verification is on: a certificate from a CA we were not told to trust is refused."""
    server = SmtpServer(tls_context=server_context(ca), require_starttls=True).start()
    other = trustme.CA()
    ca_file = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(ca_file))
    config = desk_config(tmp_path, db_url, server.port, security="starttls", ca_file=str(ca_file))
    try:
        assert invoke(config, "replay", str(SEED_004))[0] == 0
        code, _, _ = invoke(config, "alerts", "send")
        assert code == 5  # done, but a delivery failed
        assert server.sink.messages == []
    finally:
        server.stop()
    (alert,) = alerts_json(config)
    assert "certificate" in alert["last_error"].lower()


def test_starttls_refused_by_the_server_is_a_failure_not_a_downgrade(tmp_path: Path, db_url: str,
                                                                     smtp: SmtpServer) -> None:
    config = desk_config(tmp_path, db_url, smtp.port, security="starttls")
    assert invoke(config, "replay", str(SEED_004))[0] == 0
    assert invoke(config, "alerts", "send")[0] == 5
    assert smtp.sink.messages == []
    (alert,) = alerts_json(config)
    assert "STARTTLS" in alert["last_error"]


def test_alerts_test_sends_a_sample_to_the_channel(tmp_path: Path, db_url: str, smtp: SmtpServer) -> None:
    config = desk_config(tmp_path, db_url, smtp.port)
    code, out, err = invoke(config, "alerts", "test", "desk")
    assert code == 0, err
    assert "ok: desk accepted" in out
    (msg,) = smtp.sink.emails
    assert "test alert" in msg["Subject"]
    assert "<mark>OHCHR</mark>" in msg.get_body(("html",)).get_content()
    code, _, err = invoke(config, "alerts", "test", "nowhere")
    assert code == 2 and "no channel 'nowhere'" in err


def test_verification_context_is_the_default_one() -> None:
    from monitor.alerts.smtp import tls_context

    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
