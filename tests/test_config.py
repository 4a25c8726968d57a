"""Configuration: one TOML file, validated on load, overridable from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from tests.conftest import ROOT


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_example_loads() -> None:
    config = load_config(ROOT / "config" / "monitor.example.toml")
    assert config.rule_paths == [ROOT / "config" / "rules"]
    assert config.database_url.startswith("sqlite:///")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[database]\nurl = 'sqlite:///from-file.db'\n[log]\nlevel = 'INFO'\n")
    monkeypatch.setenv("MONITOR_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("MONITOR_LOG_LEVEL", "DEBUG")
    config = load_config(path)
    assert config.database_url == "sqlite:///from-env.db"
    assert config.settings.log.level == "DEBUG"


def test_systemd_state_directory_holds_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/press-monitor")
    config = load_config(write(tmp_path, ""))
    assert config.database_url == "sqlite:////var/lib/press-monitor/press-monitor.db"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[database]\nurll = 'x'\n", "key 'database.urll': unknown key"),
        ("[log]\nlevel = 'LOUD'\n", "key 'log.level'"),
        ("[database]\nbusy_timeout_ms = -5\n", "key 'database.busy_timeout_ms'"),
        ("[rules]\npaths = 'rules'\n", "key 'rules.paths'"),
        ("[database\n", "invalid TOML"),
    ],
)
def test_errors_name_the_file_the_key_and_the_problem(tmp_path: Path, body: str, expected: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


LITERAL_SECRETS = {
    "web.token": '[web]\ntoken = "{secret}"\n',
    "channels.ops.webhook.secret": '[channels.ops]\ntype = "webhook"\nurl = "https://hooks.example/x"\nsecret = "{secret}"\n',
    "channels.desk.email.password": ('[channels.desk]\ntype = "email"\nto = ["a@example.org"]\nfrom = "a@example.org"\n'
                                     'smtp_host = "smtp.example.org"\nusername = "u"\npassword = "{secret}"\n'),
    "channels.ops.webhook.secret (a table)": ('[channels.ops]\ntype = "webhook"\nurl = "https://hooks.example/x"\n'
                                              'secret = {{ value = "{secret}" }}\n'),
}


@pytest.mark.parametrize("name", sorted(LITERAL_SECRETS))
def test_a_literal_secret_is_named_by_its_key_and_never_echoed(name: str, tmp_path: Path) -> None:
    """`monitor run` as systemd starts it: its stderr goes to the journal."""
    import subprocess
    import sys

    secret = "s3cr3t-VALUE-42"
    config = write(tmp_path, f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n'
                             + LITERAL_SECRETS[name].format(secret=secret))
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "run"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"key '{name.split(' ')[0]}" in proc.stderr, proc.stderr
    assert secret not in proc.stderr + proc.stdout


def test_a_literal_secret_from_the_environment_is_not_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_WEB_TOKEN", "s3cr3t-VALUE-42")
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, ""))
    assert "key 'web.token'" in str(error.value) and "s3cr3t" not in str(error.value)
