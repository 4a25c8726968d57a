"""Alembic, driven from code: `monitor db upgrade` and daemon start both call
`upgrade()`, so there is no alembic.ini to keep in step with the config. Both
check a SQLite file's integrity first (`engine.verify`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

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
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(script_location()))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    verify(engine)
    command.upgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    verify(engine)
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(script_location())).get_current_head()
