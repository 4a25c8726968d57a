"""The shipped unit: valid for systemd and hardened (exposure score <= 2.0)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "systemd" / "press-monitor.service"
SHIPPED_PREFIX = "/opt/press-monitor/.venv/bin/monitor"


@pytest.fixture
def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI"):
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
