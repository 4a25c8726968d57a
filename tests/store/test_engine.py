"""make_engine: what each backend's connections are set up to do."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from monitor.store.engine import make_engine


def test_queries_are_planned_afresh_each_time(db_url: str) -> None:
    """A plan made once while a table was empty must not outlive the emptiness
    (PostgreSQL keeps the plan of a server-side prepared statement)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL keeps plans of prepared statements")
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for n in range(20):
                conn.execute(text("SELECT :n + 1"), {"n": n}).scalar_one()
            assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one() == 0
    finally:
        engine.dispose()
