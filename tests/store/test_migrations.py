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


def test_upgrading_moves_every_text_into_item_texts_and_back(db_url: str) -> None:
    """0013: a database from before keeps every text and summary; a pruned text stays pruned."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, text

    from monitor.store.models import Feed

    engine = make_engine(db_url)
    migrations.upgrade(engine, "0012")
    with engine.begin() as conn:
        conn.execute(insert(Feed).values(id=1, url="https://a.example/feed", kind="feed", enabled=True,
                                         consecutive_errors=0, items_seen=0, created_at=datetime.now(UTC)))
        for n, (body, summary, matched) in enumerate([("a text", None, False), ("an article", "its summary", True),
                                                      (None, None, False)], start=1):
            conn.execute(text(
                "INSERT INTO items (id, feed_id, guid, title, text, summary, ingested_at, flags, content_hash, "
                "fingerprint, fp_band0, fp_band1, fp_band2, fp_band3, matched) VALUES (:n, 1, :g, 't', :body, "
                ":summary, CURRENT_TIMESTAMP, '[]', :g, 0, 0, 0, 0, 0, :matched)"),
                {"n": n, "g": f"g{n}", "body": body, "summary": summary, "matched": matched})

    migrations.upgrade(engine)

    with engine.connect() as conn:
        assert conn.execute(text("SELECT item_id, text, summary FROM item_texts ORDER BY item_id")).all() == [
            (1, "a text", None), (2, "an article", "its summary")]
        assert {c["name"] for c in inspect(conn).get_columns("items")}.isdisjoint({"text", "summary"})
    command.downgrade(migrations.alembic_config(engine), "0012")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, text, summary FROM items ORDER BY id")).all() == [
            (1, "a text", None), (2, "an article", "its summary"), (3, None, None)]
    engine.dispose()


def test_upgrading_copies_the_story_windows_fingerprints_and_back(db_url: str) -> None:
    """0014: the items of the last 15 days (the window and a day) get their print, with
    their bands; the year's band indexes go, and come back on a downgrade."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import DateTime, bindparam, insert, text

    from monitor.store.models import Feed

    engine = make_engine(db_url)
    migrations.upgrade(engine, "0013")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Feed).values(id=1, url="https://a.example/feed", kind="feed", enabled=True,
                                         consecutive_errors=0, items_seen=0, created_at=now))
        for n, days in ((1, 40), (2, 16), (3, 14), (4, 0)):
            conn.execute(text(
                "INSERT INTO items (id, feed_id, guid, title, ingested_at, flags, content_hash, fingerprint, "
                "fp_band0, fp_band1, fp_band2, fp_band3, matched) VALUES (:n, 1, :g, 't', :at, '[]', :g, :fp, "
                ":n, 10 + :n, 20 + :n, 30 + :n, :no)").bindparams(bindparam("at", type_=DateTime(timezone=True))),
                {"n": n, "g": f"g{n}", "at": now - timedelta(days=days), "fp": -n, "no": False})

    migrations.upgrade(engine)

    with engine.connect() as conn:
        assert conn.execute(text("SELECT item_id, fingerprint, band0, band1, band2, band3 FROM story_prints "
                                 "ORDER BY item_id")).all() == [(3, -3, 3, 13, 23, 33), (4, -4, 4, 14, 24, 34)]
        assert not {i["name"] for i in inspect(conn).get_indexes("items")} & {f"ix_items_fp_band{n}" for n in range(4)}
    command.downgrade(migrations.alembic_config(engine), "0013")
    with engine.connect() as conn:
        assert {f"ix_items_fp_band{n}" for n in range(4)} <= {i["name"] for i in inspect(conn).get_indexes("items")}
        assert "story_prints" not in inspect(conn).get_table_names()
    engine.dispose()
