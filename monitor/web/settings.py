"""Web interface settings. Bound to loopback by default: put a reverse proxy with
authentication in front before exposing it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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
