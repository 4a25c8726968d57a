"""Secrets by reference: the config names an environment variable or a systemd
credential, never the secret itself, so config files can be shared and committed."""

from __future__ import annotations

import os
from pathlib import Path

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
