"""Secrets as systemd credentials: `{ credential = "name" }` is read from the
file `$CREDENTIALS_DIRECTORY/name` (what `LoadCredential=` provides), here
without systemd: the daemon is started as `monitor run` with the variable set,
and the secrets are judged where they are used, by real servers: the SMTP
password by aiosmtpd's AUTH, the webhook signing key by the receiver's own
Standard Webhooks verifier. (tests/test_systemd.py does the same under
systemd itself, where it runs.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.alerts.cli import alerts_json, invoke
from tests.alerts.conftest import WHSEC, SmtpServer, email_channel, wait_for, write_config
from tests.alerts.receiver import WebhookReceiver
from tests.conftest import SEEDS
from tests.daemon_process import DaemonProcess

SEED_004 = next(SEEDS.glob("004_*.txt"))
SMTP_PASSWORD = "c0rrect-h0rse-battery"


def credential_config(tmp_path: Path, db_url: str, smtp_port: int, hook_url: str) -> Path:
    return write_config(
        tmp_path, db_url,
        channels={
            "desk": email_channel(smtp_port, username="alerts", password={"credential": "smtp-password"}),
            "ops": {"type": "webhook", "url": hook_url, "secret": {"credential": "webhook-secret"}, "timeout_s": 2},
        },
        routes=[{"rules": ["upr"], "channel": "desk"}, {"rules": ["upr"], "channel": "ops"}],
    )


def test_the_daemon_uses_secrets_from_the_credentials_directory(tmp_path: Path, db_url: str) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "smtp-password").write_text(SMTP_PASSWORD + "\n")  # systemd-creds keeps the newline
    (credentials / "webhook-secret").write_text(WHSEC)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode())

    smtp = SmtpServer(authenticator=authenticator, auth_require_tls=False).start()
    try:
        with WebhookReceiver(secret=WHSEC) as rx:
            config = credential_config(tmp_path, db_url, smtp.port, rx.url)
            assert invoke(config, "replay", str(SEED_004))[0] == 0  # two alerts wait in the outbox

            with DaemonProcess(config, {"CREDENTIALS_DIRECTORY": str(credentials)}) as daemon:
                wait_for(lambda: len(smtp.sink.messages) == 1 and len(rx.received) == 1, timeout=60)
                assert daemon.stop() == 0, daemon.log
    finally:
        smtp.stop()

    assert logins == [(b"alerts", SMTP_PASSWORD.encode())]  # the file's content, without its newline
    (hook,) = rx.received
    assert hook.verified and hook.status == 200  # signed with the key from the credential file
    assert {a["channel"]: a["state"] for a in alerts_json(config)} == {"desk": "sent", "ops": "sent"}
    assert SMTP_PASSWORD not in daemon.log and WHSEC not in daemon.log


def test_a_credential_that_is_not_there_stops_the_start_naming_it(tmp_path: Path, db_url: str) -> None:
    config = credential_config(tmp_path, db_url, 25, "http://127.0.0.1:9/hook")
    (tmp_path / "credentials").mkdir()
    (tmp_path / "credentials" / "smtp-password").write_text(SMTP_PASSWORD)  # webhook-secret is missing
    run = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"], capture_output=True, text=True,
        timeout=60, env={**_env(), "CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")},
    )
    assert run.returncode == 2, run.stderr
    assert "systemd credential webhook-secret" in run.stderr and str(tmp_path / "credentials") in run.stderr

    unset = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                           capture_output=True, text=True, timeout=60, env=_env())
    assert unset.returncode == 2 and "$CREDENTIALS_DIRECTORY is not set" in unset.stderr


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
