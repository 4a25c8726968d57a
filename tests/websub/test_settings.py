"""The WebSub keys: off by default, and a wrong value names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config


def load(tmp_path: Path, web: str):
    path = tmp_path / "monitor.toml"
    path.write_text(f"[web]\n{web}\n", encoding="utf-8")
    return path, load_config(path).settings.web


def test_push_is_off_unless_a_public_url_is_set(tmp_path: Path) -> None:
    _, web = load(tmp_path, "")
    assert web.public_url is None and web.websub_lease_s == 86_400
    _, web = load(tmp_path, 'public_url = "https://monitor.example.org/press/"\nwebsub_lease_s = 3600')
    assert web.public_url == "https://monitor.example.org/press" and web.websub_lease_s == 3600


def test_the_environment_sets_it_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_WEB_PUBLIC_URL", "https://hooks.example.org")
    assert load(tmp_path, "")[1].public_url == "https://hooks.example.org"


@pytest.mark.parametrize(("line", "key"), [
    ('public_url = "monitor.example.org"', "web.public_url"),
    ('public_url = "ftp://monitor.example.org/"', "web.public_url"),
    ('public_url = "https://monitor.example.org/?a=1"', "web.public_url"),
    ("websub_lease_s = 5", "web.websub_lease_s"),
])
def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, line)
    message = str(caught.value)
    assert str(tmp_path / "monitor.toml") in message and f"key '{key}'" in message
