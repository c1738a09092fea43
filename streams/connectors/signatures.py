"""DCSA 2.2 `Notification-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the subscription's
secret (the base64-decoded bytes of the secret the subscription was created with). A subscription being rotated
has two secrets for a while: a signature made with either is accepted."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import Enum

HEADER = "Notification-Signature"


class Verdict(Enum):
    VALID = "valid"
    MISSING = "missing"  # 401: the request is not authenticated at all
    MALFORMED = "malformed"  # 403: not <type>=<hex>, or a type other than sha256
    MISMATCH = "mismatch"  # 403: signed, but with no secret we hold (or the body was changed)


def sign(body: bytes, key: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, keys: Sequence[bytes]) -> Verdict:
    """Check `header` against every key, in constant time, without stopping at the first match (the time taken
    does not tell which secret, nor how much of the signature, was right)."""
    if header is None or not header.strip():
        return Verdict.MISSING
    kind, sep, value = header.strip().partition("=")
    if not sep or kind.strip().lower() != "sha256" or len(value.strip()) != 64:
        return Verdict.MALFORMED
    try:
        given = bytes.fromhex(value.strip())
    except ValueError:
        return Verdict.MALFORMED
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), given)
    return Verdict.VALID if ok else Verdict.MISMATCH


def key_matches(given: str, keys: Sequence[str]) -> bool:
    """An API key against a source's keys, in constant time per key, looking at every key."""
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given.encode(), k.encode())
    return ok
