"""The daemon's configuration: one TOML file, every key overridable from the
environment (`MONITOR_<SECTION>_<KEY>`, e.g. `MONITOR_DATABASE_URL`).

Validation happens once, on load, so a typo stops the daemon at start with the
file, the key and what is wrong, instead of surfacing hours later.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from monitor.alerts.settings import AlertSettings, Channel, Route
from monitor.errors import ConfigError
from monitor.secrets import SecretRef
from monitor.web.settings import WebSettings

DEFAULT_CONFIG = Path("config/monitor.toml")
EXAMPLE_CONFIG = Path("config/monitor.example.toml")
PACKAGED_CONFIG = Path(__file__).parent / "default_config" / "monitor.example.toml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file press-monitor.db in the state directory",
    )
    busy_timeout_ms: int = Field(default=10_000, ge=0)


class RulesSettings(Section):
    paths: list[Path] = Field(
        default_factory=lambda: [Path("rules")],
        description="rule files or directories, relative to the config file",
    )


class FetchSettings(Section):
    """Limits for every outbound feed request: a hostile or broken server must
    cost at most `deadline_s` seconds and `max_body_bytes` of memory."""

    contact_url: str = Field(
        default="https://github.com/press-monitor/press-monitor",
        description="named in the User-Agent so feed operators can reach us",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=20.0, gt=0)
    deadline_s: float = Field(default=60.0, gt=0, description="total time for one fetch")
    max_body_bytes: int = Field(default=15 * 1024 * 1024, gt=0, description="after decompression")
    max_redirects: int = Field(default=5, ge=0)
    concurrency: int = Field(default=32, ge=1, description="fetches in flight at once")
    per_host_concurrency: int = Field(default=2, ge=1)
    allow_private_addresses: bool = Field(
        default=False,
        description="allow loopback, private, link-local and metadata addresses (tests, intranets)",
    )
    allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list, description="refused ranges to allow anyway, e.g. ['10.1.2.0/24']"
    )


class ScheduleSettings(Section):
    tick_s: float = Field(default=15.0, gt=0, description="how often due feeds are claimed")
    latency_target_s: int = Field(
        default=300, ge=1, description="every source is polled at least this often, unless it asks for less"
    )
    min_interval_s: int = Field(default=60, ge=1, description="no source is polled more often than this")
    max_interval_s: int = Field(
        default=6 * 3600, ge=1, description="the longest a server's caching headers or <ttl> can delay a poll"
    )
    economy: bool = Field(
        default=False, description="poll less often in hours of the week in which a source never published"
    )
    economy_ceiling_s: int = Field(default=3600, ge=1, description="the longest interval economy mode uses")
    websub_fallback_s: int = Field(
        default=3600, ge=1, description="polling interval of a source whose WebSub hub pushes its updates"
    )
    max_backoff_s: int = Field(default=24 * 3600, ge=1)
    lease_s: int = Field(default=300, ge=10, description="a claimed feed is ours for this long")
    stale_after_intervals: int = Field(default=5, ge=2)
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    max_failing_s: float = Field(
        default=1800.0, gt=0,
        description="polls failing with none succeeding for this long: /healthz fails, the watchdog stops",
    )
    parse_workers: int | None = Field(
        default=None, ge=0,
        description="processes that parse and classify; default one per core, 0 = in the daemon process",
    )


class RetentionSettings(Section):
    unmatched_text_days: int = Field(
        default=30, ge=1, description="drop the text of items that matched nothing after this"
    )
    hits_days: int = Field(
        default=0, ge=0,
        description="delete the hits of items older than this (0 = keep them: matches keep their highlights)",
    )
    delivery_attempts_days: int = Field(
        default=90, ge=0, description="delete alert delivery attempts older than this (0 = keep them)",
    )


class FeedEntry(Section):
    url: str
    title: str | None = None
    kind: Literal["feed", "page"] = Field(
        default="feed",
        description="feed: a feed, or a web page resolved to the feed it declares, else read as a listing page; "
        "page: a listing page whose article links become items",
    )
    links: str | None = Field(
        default=None, description="CSS selector of a listing page's article links (default: found automatically)"
    )
    interval_s: int | None = Field(
        default=None, ge=1, description="poll this source at most this often (slower than the latency target)"
    )
    headers: dict[str, SecretRef] = Field(
        default_factory=dict,
        description="request headers from secret references (credentials), sent only to the feed's own origin",
    )
    fulltext: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="fetch each new entry's linked article: when the entry looks like a summary, always, or never",
    )
    robots: bool = Field(default=True, description="honour the site's robots.txt when fetching articles")

    @field_validator("links")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        from monitor.ingest.listing import check_selector  # cssselect, only when a selector is set

        return None if value is None or not value.strip() else check_selector(value.strip())


class ArticleSettings(Section):
    """Fetching the linked article of a summary-only entry (`fulltext`)."""

    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="an article page larger than this is not read")
    retry_first_s: int = Field(default=300, ge=1, description="a failed article fetch is tried again after this")
    retry_max_s: int = Field(default=3600, ge=1, description="the longest wait between two tries (backoff doubles)")
    retry_for_s: int = Field(default=24 * 3600, ge=0, description="tries stop this long after the first one")
    concurrency: int = Field(default=16, ge=1, description="article fetches of one feed in flight at once")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["kv", "json"] = "kv"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    state_dir: Path = Field(
        default=Path("var"),
        description="where the SQLite file lives; systemd's $STATE_DIRECTORY wins when set",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    articles: ArticleSettings = Field(default_factory=ArticleSettings)
    feeds: list[FeedEntry] = Field(default_factory=list, description="feeds listed inline")
    opml: list[Path] = Field(
        default_factory=list, description="OPML feed lists, relative to the config file"
    )
    channels: dict[str, Channel] = Field(default_factory=dict, description="where alerts can go")
    routes: list[Route] = Field(default_factory=list, description="which rules alert which channel")
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)


class Config:
    """Validated settings plus where they came from (for resolving relative paths)."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        self.path = path

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        if self.settings.database.url:
            return self.settings.database.url
        state = Path(os.environ.get("STATE_DIRECTORY", "").split(":")[0] or self.settings.state_dir)
        return f"sqlite:///{state / 'press-monitor.db'}"

    @property
    def rule_paths(self) -> list[Path]:
        return [p if p.is_absolute() else self.base_dir / p for p in self.settings.rules.paths]


def resolve_config_path(explicit: Path | None) -> Path:
    """`--config`, else `$MONITOR_CONFIG`, else config/monitor.toml, else the shipped example."""
    if explicit is not None:
        return explicit
    if env := os.environ.get("MONITOR_CONFIG"):
        return Path(env)
    for candidate in (DEFAULT_CONFIG, EXAMPLE_CONFIG, PACKAGED_CONFIG):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"{DEFAULT_CONFIG}: no config file found (and no {EXAMPLE_CONFIG} to fall back on)")


def load_config(explicit: Path | None = None) -> Config:
    path = resolve_config_path(explicit)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc.reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc
    return Config(settings, path)


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{path}: key '{key}': {message} ({_shown(error.get('input'))})")
    return "\n".join(lines)


def _shown(value: object) -> str:
    """What an error may say about a bad value: numbers and booleans as they are;
    text, tables and lists only by their kind, since a secret written where its
    reference belongs would otherwise reach the journal."""
    if isinstance(value, bool | int | float) or value is None:
        return f"got {value!r}"
    kind = "text" if isinstance(value, str) else "a table" if isinstance(value, dict) else "a list"
    return f"got {kind}; the value is not shown"
