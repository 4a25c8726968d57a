"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from sqlalchemy import inspect

from alembic import command
from monitor.store import migrations
from monitor.store.engine import make_engine


def test_upgrade_builds_the_schema_and_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine)

    assert migrations.current(engine) == migrations.head()
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert {"feeds", "items", "hits", "alerts", "delivery_attempts"} <= tables
    command.check(migrations.alembic_config(engine))  # raises on any drift
    engine.dispose()


def test_upgrade_twice_is_harmless(db_url: str) -> None:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    migrations.upgrade(engine)
    assert migrations.current(engine) == migrations.head()
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=7000)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_dashboard_reads_do_not_wait_for_a_writer(tmp_path) -> None:
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'x.db'}"
    writer = make_engine(url, busy_timeout_ms=5000)
    # No busy timeout: a read that had to wait for the writer's lock would fail
    # at once with "database is locked" instead of being timed.
    reader = make_engine(url, busy_timeout_ms=0, read_mostly=True)
    migrations.upgrade(writer)
    with writer.begin() as held:  # a write transaction in progress
        held.execute(text("UPDATE feeds SET title = 'x'"))
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM feeds")).scalar() == 0
    writer.dispose()
    reader.dispose()


def test_the_head_the_code_knows_is_the_newest_migration() -> None:
    """`HEAD` lets a migrated database be recognised without Alembic: a new
    migration must move it, or `upgrade` would skip the migration."""
    assert migrations.HEAD == migrations.head()
