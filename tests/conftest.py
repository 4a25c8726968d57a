"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when
MONITOR_TEST_DATABASE_URL is set), and a config that points at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.store.engine import make_engine, normalize_url

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
RULES = ROOT / "config" / "rules"
PG_ENV = "MONITOR_TEST_DATABASE_URL"


def under_ci() -> bool:
    """`CI=true` (set by CI services and by .ci/run): a test whose system package is
    missing fails there instead of skipping, so CI never passes by not testing."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty database of its own, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'monitor.db'}"
        return
    yield from _postgres_schema()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL schema of its own, for what only PostgreSQL does
    (several instances, SKIP LOCKED); skipped, saying why, without a server."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL run skipped: set {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(normalize_url(base)).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def config_file(tmp_path: Path, db_url: str) -> Path:
    """A config file using the shipped rule pack and this test's database."""
    path = tmp_path / "monitor.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f"[database]\nurl = {db_url!r}\n"
        f"[rules]\npaths = [{str(RULES)!r}]\n"
        '[log]\nlevel = "WARNING"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def _clean_monitor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their own config; a developer's MONITOR_* variables must not leak in."""
    for name in list(os.environ):
        if name.startswith("MONITOR_") and name != PG_ENV:
            monkeypatch.delenv(name)
