"""Alert configuration: channels declared once, routes saying which rules go where.

    [channels.analysts]
    type = "email"
    ...
    [[routes]]
    rules = ["ohchr", "upr"]
    channel = "analysts"
    mode = "digest"
    digest = "0 7 * * mon-fri"
    timezone = "Europe/Geneva"
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.secrets import SecretRef


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EmailChannel(_Section):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    smtp_host: str
    smtp_port: int | None = Field(default=None, description="default: 465 for tls, 587 for starttls, 25 for none")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    timeout_s: float = Field(default=30.0, gt=0)


class WebhookChannel(_Section):
    type: Literal["webhook"]
    url: str
    secret: SecretRef | None = Field(default=None, description="Standard Webhooks signing secret (whsec_…)")
    timeout_s: float = Field(default=10.0, gt=0)


Channel = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]


class Route(_Section):
    rules: list[str] = Field(min_length=1, description='rule ids, or ["*"] for every rule')
    channel: str
    mode: Literal["immediate", "digest"] = "immediate"
    digest: str | None = Field(default=None, description="cron expression (5 fields) for digest mode")
    timezone: str = "UTC"
    quiet_hours: str | None = Field(default=None, description='"22:00-07:00" in the route\'s time zone')


class AlertSettings(_Section):
    dispatch_tick_s: float = Field(default=5.0, gt=0)
    lease_s: int = Field(default=120, ge=10)
    retry_schedule_s: list[float] = Field(
        default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 36000],
        description="delay before each retry; after the last one the alert is dead",
    )
