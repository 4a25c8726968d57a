"""Standard Webhooks signatures (https://www.standardwebhooks.com, v1 = HMAC-SHA256).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the header is
`v1,<base64 signature>` (several, space-separated, during a key rotation). The
secret is shown to people as `whsec_<base64>` and the key is the decoded
base64 part. Following the format exactly is the point: a receiver can verify
us with any Standard Webhooks library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from monitor.errors import ConfigError

PREFIX = "whsec_"
MIN_KEY_BYTES = 16  # the spec asks for 24 to 64; the spec's own example key is 24


class SigningError(ConfigError, ValueError):
    """A webhook secret or id that cannot sign (a ValueError, for config validation)."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (the prefix is optional, as in the reference libraries)."""
    raw = secret.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError("a webhook secret is 'whsec_' followed by base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise SigningError(f"the webhook secret is too short ({len(key)} bytes; use at least 24)")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    if "." in msg_id:
        raise SigningError("a webhook id must not contain '.'")
    content = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(key: bytes, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True if any `v1` signature in the header is ours (constant-time compare)."""
    expected = sign(key, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in header.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False
