"""Secrets by reference: the config names an environment variable or a systemd
credential, never the secret itself, so config files can be shared and committed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, model_validator

from monitor.errors import ConfigError


class SecretRef(BaseModel):
    """`{ env = "SMTP_PASSWORD" }` or `{ credential = "smtp-password" }` (LoadCredential=)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    credential: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.credential is None):
            raise ValueError("give exactly one of 'env' or 'credential'")
        return self

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"systemd credential {self.credential}"


class SecretError(ConfigError):
    """A secret reference that cannot be resolved; the message says where it was looked for."""


def resolve(ref: SecretRef) -> str:
    """The secret's value; SecretError says where it was looked for."""
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if not value:
            raise SecretError(f"{ref.describe()} is not set")
        return value
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretError(f"{ref.describe()}: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)")
    path = Path(directory) / str(ref.credential)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"{ref.describe()}: cannot read {path}: {exc.strerror or exc}") from exc


# -- redaction: the one function every output uses for URLs ---------------------

REDACTED = "***"
_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+""")
_PARAMETER = re.compile(r"([^=&;#?]+)=([^&;#]*)")
_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:api[_-]?key|key|token|secret|pass(?:word|wd)?|pwd|auth\w*|credentials?|sig(?:nature)?"
    r"|session(?:[_-]?id)?|sid|code)$",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """`url` without its secrets: userinfo becomes `***@`, and the value of every
    query or fragment parameter named like a secret (apikey, token, password,
    signature…) becomes `***`. Used for every output: logs, CLI, pages, alerts."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _PARAMETER.sub(_redact_parameter, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc, query=_PARAMETER.sub(_redact_parameter, parts.query),
                                     fragment=_PARAMETER.sub(_redact_parameter, parts.fragment)))


def redact_urls(text: str) -> str:
    """Every URL in `text` through `redact_url` (error messages, log lines)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group()), text)


def _redact_parameter(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{name}={REDACTED}" if _SECRET_NAME.search(name) else match.group()
