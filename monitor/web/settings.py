"""Web interface settings. Bound to loopback by default: put a reverse proxy with
authentication in front before exposing it."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.secrets import SecretRef


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=0, le=65535)
    token: SecretRef | None = Field(
        default=None, description="protects the one write (mark not relevant); unset = read-only"
    )
    base_url: str | None = Field(default=None, description="public URL, for links in the Atom feed")
    public_url: str | None = Field(
        default=None,
        description="where WebSub hubs reach this daemon (its /websub/ callbacks), e.g. through a reverse "
                    "proxy; unset = no push, polling only",
    )
    websub_lease_s: int = Field(
        default=86_400, ge=60, le=366 * 86_400, description="WebSub lease asked of hubs; renewed at 85 %"
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without query or fragment, "
                             "e.g. https://monitor.example.org/press")
        return value.rstrip("/")
