"""Alembic, driven from code: `monitor db upgrade` and daemon start both call
`upgrade()`, so there is no alembic.ini to keep in step with the config. Both
check a SQLite file's integrity first (`engine.verify`).

A database already at `HEAD` is recognised with one query and without
importing Alembic, so a cron run of the CLI pays nothing for migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

HEAD = "0014"  # the newest migration in alembic/versions (tests check it against Alembic)

from monitor.store.engine import verify

_PACKAGE = Path(__file__).resolve().parent.parent


def script_location() -> Path:
    # An installed wheel carries the migrations inside the package; a checkout
    # keeps them in the top-level alembic/ folder.
    for candidate in (_PACKAGE / "migrations", _PACKAGE.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic migrations not found next to the monitor package")


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the pending migrations (none: one query)."""
    if revision == "head" and current(engine) == HEAD:  # `current` verifies the file
        return
    from alembic import command

    verify(engine)
    command.upgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The database's revision; None for a database never migrated."""
    verify(engine)
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head() -> str | None:
    """The newest revision, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(script_location())).get_current_head()
