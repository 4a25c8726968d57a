"""The shipped unit: valid for systemd and hardened (exposure score <= 2.0)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, under_ci

UNIT = ROOT / "systemd" / "press-monitor.service"
SHIPPED_PREFIX = "/opt/press-monitor/.venv/bin/monitor"


@pytest.fixture
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if under_ci():
            pytest.fail("CI must check the unit: install Debian's systemd package (systemd-analyze)")
        pytest.skip("systemd-analyze not installed (Debian package: systemd)")
    return tool


def test_the_unit_verifies_cleanly_where_it_is_installed(analyze: str, tmp_path: Path) -> None:
    # The installer puts the checkout at /opt/press-monitor; here the same unit
    # points at this checkout's virtualenv, which exists.
    installed = Path(sys.prefix) / "bin" / "monitor"
    assert installed.exists(), "run the tests from the project's virtualenv"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(SHIPPED_PREFIX, str(installed)))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def test_the_unit_scores_ok_on_exposure(analyze: str) -> None:
    proc = subprocess.run(
        [analyze, "security", "--offline=true", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0 and match.group(2) == "OK"


def test_the_unit_uses_notify_watchdog_and_credentials() -> None:
    text = UNIT.read_text()
    for directive in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes",
                      "StateDirectory=press-monitor", "LoadCredential=", "ExecReload=/bin/kill -HUP $MAINPID",
                      "MemoryHigh=", "MemoryMax="):
        assert directive in text


# --- the unit, started for real ----------------------------------------------------


def why_no_systemd() -> str | None:
    """Why this machine cannot run the unit under systemd, or None when it can."""
    if not Path("/run/systemd/system").is_dir():
        return ("systemd is not the init system here (no /run/systemd/system; PID 1 is "
                f"{Path('/proc/1/comm').read_text().strip()!r}), as in most containers")
    if shutil.which("systemctl") is None or shutil.which("systemd-analyze") is None:
        return "systemctl or systemd-analyze is not installed"
    state = subprocess.run(["systemctl", "is-system-running"], capture_output=True, text=True).stdout.strip()
    if state not in ("running", "degraded"):
        return f"systemd is {state!r}, not running"
    if os.geteuid() != 0:
        return "starting a system service (DynamicUser=, LoadCredential=) needs root"
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            "import monitor"], capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"the service's dynamic user cannot run {sys.executable} with this checkout "
                f"(not readable by other users, or under /root or /home, which ProtectHome= hides)")
    return None


def unit_for_test(name: str, workdir: Path) -> str:
    """The shipped unit, pointed at this checkout and at `workdir` (config and
    credential files), its state directory renamed, its watchdog at 3 s so pings
    are seen quickly. Every hardening line is kept as shipped."""
    text = UNIT.read_text()
    replacements = {
        f"ExecStart={SHIPPED_PREFIX} --config /etc/press-monitor/monitor.toml run":
            f"ExecStart={Path(sys.prefix) / 'bin' / 'monitor'} --config {workdir / 'monitor.toml'} run",
        "StateDirectory=press-monitor": f"StateDirectory={name}",
        "WorkingDirectory=/var/lib/press-monitor": f"WorkingDirectory=/var/lib/{name}",
        "ConfigurationDirectory=press-monitor\n": "",
        "/etc/press-monitor/credentials/": f"{workdir / 'credentials'}/",
        "WatchdogSec=90s": "WatchdogSec=3s",
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped unit changed: update this test ({old!r})"
        text = text.replace(old, new)
    return text.split("[Install]")[0]


def test_the_unit_the_live_test_starts_verifies_cleanly(analyze: str, tmp_path: Path) -> None:
    unit = tmp_path / "press-monitor-test.service"
    (tmp_path / "monitor.toml").write_text("")
    unit.write_text(unit_for_test("press-monitor-test", tmp_path))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


def service_config(workdir: Path, smtp_port: int, hook_url: str, feed_url: str) -> Path:
    """The service's config: no state_dir and no database URL (so SQLite in
    $STATE_DIRECTORY), one feed, and both channels' secrets as credentials."""
    from tests.alerts.conftest import email_channel, toml_value, write_config

    config = write_config(
        workdir, "sqlite:///unused.db",
        channels={"desk": email_channel(smtp_port, username="alerts", password={"credential": "smtp-password"}),
                  "ops": {"type": "webhook", "url": hook_url, "secret": {"credential": "webhook-secret"},
                          "timeout_s": 2}},
        routes=[{"rules": ["upr"], "channel": "desk"}, {"rules": ["upr"], "channel": "ops"}],
    )
    text = config.read_text()
    for line in (f"state_dir = {toml_value(workdir / 'state')}\n", '[database]\nurl = "sqlite:///unused.db"\n'):
        assert line in text
        text = text.replace(line, "")
    config.write_text(text.replace("[schedule]\nparse_workers = 0", "[schedule]\nparse_workers = 0\ntick_s = 0.5")
                      + f'[fetch]\nallowed_networks = ["127.0.0.1/32"]\n[[feeds]]\nurl = {toml_value(feed_url)}\n')
    config.chmod(0o644)
    return config


def show(name: str, *props: str) -> dict[str, str]:
    out = subprocess.run(["systemctl", "show", name, *(f"--property={p}" for p in props)],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_the_unit_runs_under_systemd_ready_watchdog_state_and_credentials(tmp_path: Path) -> None:
    """Started by systemd itself with every line of the shipped hardening: it
    says READY, pets the watchdog, keeps its database in its StateDirectory and
    signs webhooks and logs in to SMTP with secrets from LoadCredential=."""
    reason = why_no_systemd()
    if reason is not None:
        pytest.skip(f"live systemd test skipped: {reason}")
    import uuid
    from typing import Any

    from tests.alerts.conftest import WHSEC, SmtpServer, wait_for
    from tests.alerts.receiver import WebhookReceiver
    from tests.feedserver import FeedServer, feed_xml
    from tests.pipeline.test_polling import seed_entries

    name = f"press-monitor-test-{uuid.uuid4().hex[:8]}"
    workdir = Path("/run") / name  # not /tmp: the unit has PrivateTmp=yes
    (workdir / "credentials").mkdir(parents=True, mode=0o755)
    (workdir / "credentials" / "smtp-password").write_text("s3cret-smtp\n")
    (workdir / "credentials" / "webhook-secret").write_text(WHSEC)
    for secret in (workdir / "credentials").iterdir():
        secret.chmod(0o600)  # root's: systemd hands a copy to the dynamic user
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-smtp")

    unit_path = Path("/run/systemd/system") / f"{name}.service"
    smtp = SmtpServer(authenticator=authenticator, auth_require_tls=False).start()
    try:
        with FeedServer() as feeds, WebhookReceiver(secret=WHSEC) as rx:
            url = feeds.add_feed("/press.xml", feed_xml(seed_entries()))
            service_config(workdir, smtp.port, rx.url, url)
            unit_path.write_text(unit_for_test(name, workdir))
            subprocess.run(["systemctl", "daemon-reload"], check=True)
            started = subprocess.run(["systemctl", "start", name], capture_output=True, text=True, timeout=180)

            def journal() -> str:
                return subprocess.run(["journalctl", "-u", name, "--no-pager", "-n", "60"],
                                      capture_output=True, text=True).stdout

            assert started.returncode == 0, started.stderr + journal()

            # Type=notify: `start` returned because the daemon said READY=1.
            state = show(name, "ActiveState", "SubState", "StatusText", "NRestarts")
            assert (state["ActiveState"], state["SubState"]) == ("active", "running"), journal()
            assert state["StatusText"], "STATUS= was never sent"
            # The watchdog is petted: its timestamp moves (at most every 3 s, or systemd kills it).
            first = show(name, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]
            wait_for(lambda: show(name, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"] != first, 30)
            # Both secrets came from $CREDENTIALS_DIRECTORY: the deliveries prove it.
            wait_for(lambda: len(smtp.sink.messages) == 1 and len(rx.received) == 1, 60)
            assert logins == [(b"alerts", b"s3cret-smtp")] and rx.received[0].verified
            assert (Path("/var/lib") / name / "press-monitor.db").exists()  # the StateDirectory

            reloaded = subprocess.run(["systemctl", "reload", name], capture_output=True, text=True, timeout=60)
            assert reloaded.returncode == 0, reloaded.stderr
            subprocess.run(["systemctl", "stop", name], check=True, timeout=120)
            after = show(name, "ActiveState", "Result", "NRestarts")
            assert after == {"ActiveState": "inactive", "Result": "success", "NRestarts": "0"}, journal()
    finally:
        smtp.stop()
        subprocess.run(["systemctl", "stop", name], capture_output=True)
        subprocess.run(["systemctl", "reset-failed", name], capture_output=True)
        unit_path.unlink(missing_ok=True)
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(Path("/var/lib/private") / name, ignore_errors=True)
