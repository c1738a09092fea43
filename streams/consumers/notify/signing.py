"""Webhook signatures as DCSA Track & Trace does: `Notification-Signature: sha256=<hex HMAC-SHA256 of the
raw request body, keyed with the subscriber's secret>`. Receivers verify over the bytes they received."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Notification-Signature"


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Constant-time check of a received header against the body."""
    return header is not None and hmac.compare_digest(sign(body, secret), header.strip())
