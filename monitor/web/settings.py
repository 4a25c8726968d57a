"""Web interface settings. Bound to loopback by default: put a reverse proxy with
authentication in front before exposing it."""

from __future__ import annotations

from ipaddress import ip_address
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
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names answered besides loopback, base_url's and web.host's (e.g. a proxy's)",
    )

    api_token: SecretRef | None = Field(
        default=None, description="bearer token of the read API (/api/v1/…); unset = no API (404)"
    )
    api_rate_per_minute: int = Field(
        default=120, ge=1, le=100_000, description="API requests per client address per minute (bursts up to it)"
    )

    public_url: str | None = Field(
        default=None,
        description="where WebSub hubs reach this daemon (its /websub/ callbacks), e.g. through a reverse "
                    "proxy; unset = no push, polling only",
    )
    websub_lease_s: int = Field(
        default=86_400, ge=60, le=366 * 86_400, description="WebSub lease asked of hubs; renewed at 85 %"
    )

    try_deadline_s: float = Field(
        default=3.0, gt=0, le=60, description="the rules page's try-it form stops after this long (partial result)"
    )
    try_max_items: int = Field(
        default=20_000, ge=1, le=1_000_000, description="the try-it form looks at most at this many stored items"
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

    def answered_hosts(self) -> list[str]:
        """The Host header names requests may carry (DNS rebinding: any other gets 400)."""
        hosts = ["localhost", "127.0.0.1", "[::1]", *self.allowed_hosts]
        for url in (self.base_url, self.public_url):  # a WebSub hub calls back through public_url
            if url and (name := urlsplit(url).hostname):
                hosts.append(_bracketed(name))
        if self.host not in ("", "0.0.0.0", "::"):
            hosts.append(_bracketed(self.host))
        return [h.lower() for h in hosts]


def _bracketed(host: str) -> str:
    """An IPv6 literal as a Host header writes it."""
    try:
        return f"[{host}]" if ip_address(host).version == 6 else host
    except ValueError:
        return host
