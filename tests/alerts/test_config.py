"""Alert config mistakes stop the program at start, naming the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.cli import invoke
from tests.alerts.conftest import email_channel, write_config
from tests.conftest import SEEDS

SEED_004 = next(SEEDS.glob("004_*.txt"))
HOOK = {"type": "webhook", "url": "https://hooks.example/x", "timeout_s": 2}


@pytest.mark.parametrize(
    ("channels", "routes", "alerts", "message"),
    [
        ({"desk": HOOK}, [{"rules": ["ohchr"], "channel": "dsk"}], {}, "routes.0.channel': unknown channel 'dsk'"),
        ({"desk": HOOK}, [{"rules": ["ohcr"], "channel": "desk"}], {}, "routes.0.rules': unknown rule 'ohcr'"),
        ({"desk": HOOK}, [], {"lease_s": 2}, "alerts.lease_s': 2 must exceed channels.desk.timeout_s"),
        ({"Desk": HOOK}, [], {}, "channels.Desk': a channel name is lowercase"),
        ({"desk": HOOK},
         [{"rules": ["ohchr"], "channel": "desk", "mode": "digest", "digest": "0 7 * * *"},
          {"rules": ["ilo"], "channel": "desk", "mode": "digest", "digest": "0 8 * * *"}],
         {}, "one channel has one digest schedule"),
    ],
)
def test_routes_and_channels_are_checked_together(
    tmp_path: Path, channels: dict, routes: list, alerts: dict, message: str
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", channels=channels, routes=routes, alerts=alerts)
    code, _, err = invoke(config, "replay", "--dry-run", str(SEED_004))
    assert code == 2
    assert str(config) in err and message in err


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (email_channel(25, to=["not an address"]), "is not a mail address"),
        (email_channel(25, smtp_host="smtp.example.org", username="u", password={"env": "P"}),
         "refusing to send an SMTP password in clear text"),
        (email_channel(25, username="u"), "give both 'username' and 'password'"),
        ({**HOOK, "url": "ftp://hooks.example/x"}, "http:// or https://"),
        ({**HOOK, "secret": {"env": "A", "credential": "b"}}, "exactly one of 'env' or 'credential'"),
    ],
)
def test_bad_channels_are_refused_on_load(tmp_path: Path, channel: dict, message: str) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", channels={"desk": channel}, routes=[])
    code, _, err = invoke(config, "alerts", "list")
    assert code == 2 and message in err and "channels.desk" in err


def test_a_missing_secret_stops_sending_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}",
                          channels={"desk": {**HOOK, "secret": {"env": "NO_SUCH_SECRET"}}}, routes=[])
    code, _, err = invoke(config, "alerts", "send")
    assert code == 2 and "channel 'desk'" in err and "NO_SUCH_SECRET is not set" in err
    monkeypatch.setenv("NO_SUCH_SECRET", "whsec_tooshort")
    code, _, err = invoke(config, "alerts", "send")
    assert code == 2 and "too short" in err


def test_the_example_config_loads_with_its_alert_sections(tmp_path: Path) -> None:
    from monitor.config import load_config
    from tests.conftest import ROOT

    settings = load_config(ROOT / "config" / "monitor.example.toml").settings
    assert settings.alerts.retry_schedule_s == [5, 300, 1800, 7200, 18000, 36000, 36000]
