"""Alert configuration: channels declared once, routes saying which rules go where.

    [channels.analysts]
    type = "email"
    to = ["desk@example.org"]
    from = "press-monitor <alerts@example.org>"
    smtp_host = "smtp.example.org"
    username = "alerts"
    password = { env = "SMTP_PASSWORD" }

    [[routes]]
    rules = ["ohchr", "upr"]
    channel = "analysts"
    mode = "digest"
    digest = "0 7 * * mon-fri"
    timezone = "Europe/Zurich"

Everything that can be checked without the rule pack is checked here, on load,
so a typo stops the daemon at start instead of silently dropping alerts. What
needs the rules or several sections at once is checked by `check_alerts`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.secrets import SecretRef

#: Channel names end up in the database, logs and idempotency keys.
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: IANA has no zone for these cities; people write them anyway.
_ZONE_HINTS = {"Europe/Geneva": "Europe/Zurich", "Europe/Bern": "Europe/Zurich", "America/Washington": "America/New_York"}
_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _address(value: str) -> str:
    """A mail address as a header and an SMTP envelope both accept it."""
    if _CONTROL.search(value):
        raise ValueError(f"{value!r}: control characters are not allowed in an address")
    _, addr = parseaddr(value)
    if not addr or "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise ValueError(f"{value!r} is not a mail address (like desk@example.org or 'Desk <desk@example.org>')")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmailChannel(_Section):
    """SMTP delivery. Certificates are always verified (against `ca_file` when
    given, else the system store): smtplib does not verify by default, we do."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    smtp_host: str = Field(min_length=1)
    smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="default: 465 for tls, 587 for starttls, 25 for none"
    )
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = Field(
        default=None, description="PEM bundle to trust instead of the system store (a private CA)"
    )
    timeout_s: float = Field(default=30.0, gt=0, description="for the whole SMTP exchange")
    subject_prefix: str = Field(default="[press-monitor]", max_length=60)

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @field_validator("subject_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("control characters are not allowed in a header")
        return value

    @model_validator(mode="after")
    def _auth(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both 'username' and 'password' for SMTP authentication, or neither")
        if self.password is not None and self.security == "none" and not _is_loopback(self.smtp_host):
            raise ValueError("refusing to send an SMTP password in clear text: use security = 'starttls' or 'tls'")
        return self

    @property
    def port(self) -> int:
        return self.smtp_port or {"tls": 465, "starttls": 587, "none": 25}[self.security]

    @property
    def target(self) -> str:
        """Where it goes, for listings and logs (no secrets in it)."""
        return f"smtp://{self.smtp_host}:{self.port} -> {', '.join(parseaddr(t)[1] for t in self.to)}"


class WebhookChannel(_Section):
    """An HTTP endpoint receiving JSON, signed per Standard Webhooks."""

    type: Literal["webhook"]
    url: str
    secret: SecretRef | None = Field(default=None, description="Standard Webhooks signing secret (whsec_…)")
    timeout_s: float = Field(default=15.0, gt=0, description="for the whole request; the spec suggests 15-30 s")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        import httpx  # the sender's own parser decides; imported only when a webhook is configured

        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"invalid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @property
    def target(self) -> str:
        """Scheme, host and port only: webhook paths often carry a token."""
        import httpx

        url = httpx.URL(self.url)
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{url.host}{port}/…"


class AppriseChannel(_Section):
    """Chat and push services (Slack, Teams, Matrix, Telegram, ntfy…) through Apprise.

    The Apprise URLs carry the service's token, so they come from a secret
    reference, like every password: one URL or several, separated by
    whitespace or new lines (a systemd credential file can hold one per line)."""

    type: Literal["apprise"]
    urls: SecretRef = Field(description="Apprise URLs (slack://…, ntfys://…), whitespace-separated")
    format: Literal["markdown", "html", "text"] = Field(
        default="markdown", description="how the message body is written; Apprise converts it per service"
    )
    timeout_s: float = Field(default=30.0, gt=0, description="for the whole delivery to every URL")

    @property
    def target(self) -> str:
        """The URLs are a secret: say where they come from, not what they are."""
        return f"apprise ({self.urls.describe()})"


AnyChannel = EmailChannel | WebhookChannel | AppriseChannel
Channel = Annotated[AnyChannel, Field(discriminator="type")]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone, or ValueError saying what to write instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = _ZONE_HINTS.get(name)
        also = f" (use {hint!r})" if hint else " (an IANA name like 'Europe/Zurich' or 'UTC')"
        raise ValueError(f"unknown time zone {name!r}{also}") from None


def check_crontab(expr: str) -> str:
    """Five fields, as cron has them. Weekdays must be names: APScheduler 3 counts
    0 as Monday where cron counts 0 as Sunday, so a number would be read wrong."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r}: a cron expression has 5 fields (minute hour day month weekday)")
    if re.search(r"\d", fields[4].split("/")[0]):
        raise ValueError(f"{expr!r}: write weekdays as names (mon-fri, sun), not numbers")
    try:
        CronTrigger.from_crontab(expr, timezone=ZoneInfo("UTC"))
    except ValueError as exc:
        raise ValueError(f"{expr!r}: {exc}") from None
    return expr


class Route(_Section):
    rules: list[str] = Field(min_length=1, description='rule ids, or ["*"] for every rule')
    channel: str
    mode: Literal["immediate", "digest"] = "immediate"
    digest: str | None = Field(default=None, description="cron expression (5 fields) for digest mode")
    timezone: str = "UTC"
    quiet_hours: str | None = Field(default=None, description='"22:00-07:00" in the route\'s time zone')

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("digest")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_crontab(value)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            match = _QUIET.match(value)
            if match is None:
                raise ValueError(f"{value!r}: write quiet hours as 'HH:MM-HH:MM', e.g. '22:00-07:00'")
            if match.group(1, 2) == match.group(3, 4):
                raise ValueError(f"{value!r}: the quiet period must not start and end at the same time")
        return value

    @model_validator(mode="after")
    def _mode(self) -> Route:
        if self.mode == "digest" and self.digest is None:
            raise ValueError("mode 'digest' needs 'digest', a cron expression such as '0 7 * * mon-fri'")
        if self.mode == "immediate" and self.digest is not None:
            raise ValueError("'digest' is only for mode = 'digest'")
        if self.mode == "digest" and self.quiet_hours is not None:
            raise ValueError("quiet_hours are for immediate routes; a digest is sent at its cron time")
        return self

    def wants(self, rule: str) -> bool:
        return "*" in self.rules or rule in self.rules


class AlertSettings(_Section):
    dispatch_tick_s: float = Field(default=5.0, gt=0, description="how often due alerts are claimed")
    lease_s: float = Field(default=120, ge=1, description="a claimed alert is ours for this long")
    concurrency: int = Field(default=8, ge=1, description="deliveries in flight at once")
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000],
        description="delay before each retry; after the last one the alert is dead",
    )
    jitter: float = Field(default=0.2, ge=0, lt=1, description="each delay is randomised by ± this fraction")
    max_retry_after_s: float = Field(
        default=86400, gt=0, description="a receiver's Retry-After is honoured up to this"
    )

    @field_validator("retry_schedule_s")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(v <= 0 for v in value):
            raise ValueError("every retry delay must be positive")
        return value


def check_alerts(
    channels: Mapping[str, AnyChannel],
    routes: Sequence[Route],
    settings: AlertSettings,
    rule_ids: Iterable[str],
) -> list[str]:
    """What only the sections together can tell: problems as (key, message) lines."""
    known_rules = set(rule_ids)
    problems = []
    for name, channel in channels.items():
        if not CHANNEL_NAME.match(name):
            problems.append(f"key 'channels.{name}': a channel name is lowercase letters, digits, _ and - (at most 64)")
        if settings.lease_s <= channel.timeout_s:
            problems.append(
                f"key 'alerts.lease_s': {settings.lease_s:g} must exceed channels.{name}.timeout_s "
                f"({channel.timeout_s:g}), or a slow delivery would be sent twice"
            )
    schedules: dict[str, tuple[str | None, str, int]] = {}
    for i, route in enumerate(routes):
        if route.channel not in channels:
            declared = ", ".join(sorted(channels)) or "none"
            problems.append(f"key 'routes.{i}.channel': unknown channel {route.channel!r} (declared: {declared})")
        for rule in route.rules:
            if rule != "*" and rule not in known_rules:
                problems.append(
                    f"key 'routes.{i}.rules': unknown rule {rule!r} (rules: {', '.join(sorted(known_rules))})"
                )
        if route.mode == "digest":
            first = schedules.setdefault(route.channel, (route.digest, route.timezone, i))
            if first[:2] != (route.digest, route.timezone):
                problems.append(
                    f"key 'routes.{i}.digest': channel {route.channel!r} already has its digest at "
                    f"{first[0]!r} {first[1]} (routes.{first[2]}); one channel has one digest schedule"
                )
    return problems
