"""The composition root: from a loaded config to the objects that do the work.

Kept apart from the CLI so the daemon, the CLI and the tests build the pipeline
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from monitor.alerts.routing import Router
from monitor.alerts.settings import check_alerts
from monitor.config import Config, ConfigError
from monitor.pipeline import Pipeline
from monitor.rules import Matcher, RuleSet, compile_rules, load_rules
from monitor.store import migrations
from monitor.store.engine import make_engine
from monitor.store.repository import Store


@dataclass
class App:
    config: Config

    @cached_property
    def engine(self) -> Engine:
        return make_engine(
            self.config.database_url, busy_timeout_ms=self.config.settings.database.busy_timeout_ms
        )

    @cached_property
    def read_engine(self) -> Engine:
        """For the dashboard: on SQLite its reads never wait behind the daemon's writes."""
        return make_engine(
            self.config.database_url,
            busy_timeout_ms=self.config.settings.database.busy_timeout_ms,
            read_mostly=True,
        )

    @property
    def database_label(self) -> str:
        """The database URL with any password masked, for messages and logs."""
        return make_url(self.config.database_url).render_as_string(hide_password=True)

    @cached_property
    def ruleset(self) -> RuleSet:
        return load_rules(self.config.rule_paths)

    @cached_property
    def matcher(self) -> Matcher:
        return compile_rules(self.ruleset)

    @cached_property
    def router(self) -> Router:
        """Routes checked against the channels and the rule pack (ConfigError naming
        the file and key): a route to nowhere must stop the start, not drop alerts."""
        settings = self.config.settings
        problems = check_alerts(settings.channels, settings.routes, settings.alerts, self.ruleset.ids)
        if problems:
            raise ConfigError("\n".join(f"{self.config.path}: {p}" for p in problems))
        return Router(settings.routes)

    @property
    def rule_descriptions(self) -> dict[str, str]:
        return {rule.id: rule.description for rule in self.ruleset}

    def upgrade(self) -> str | None:
        migrations.upgrade(self.engine)
        return migrations.current(self.engine)

    def is_migrated(self) -> bool:
        """True when the database exists and is at the newest migration."""
        url = make_url(self.config.database_url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            if not Path(url.database).exists():
                return False
        return migrations.current(self.engine) == migrations.head()

    def store(self) -> Store:
        return Store(self.engine)

    def pipeline(self, *, store: bool = True) -> Pipeline:
        return Pipeline(self.matcher, self.store() if store else None, self.router)
