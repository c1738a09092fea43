"""Requests one worker forwards to another, signed with a secret the workers share.

A forwarded request carries who forwarded it (X-Corridor-Forwarded-By), the tenant it is asked for
(X-Corridor-Tenant, base64url JSON) and an HMAC-SHA256 over the time, method, path and query, forwarder and
tenant (X-Corridor-Signature: `t=<unix seconds>,v1=<hex>`). The receiving worker answers for that tenant only,
and only when the signature verifies and is recent, so the header cannot be made up to reach data or to turn a
worker's fan-out off. Timestamps use the wall clock: this is transport security, not a domain decision."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

import orjson

from streams.security.credentials import Unauthorized
from streams.security.tenants import Tenant

FORWARDED_BY = "X-Corridor-Forwarded-By"
TENANT = "X-Corridor-Tenant"
SIGNATURE = "X-Corridor-Signature"
MAX_SKEW_S = 60


def _mac(secret: bytes, stamp: str, method: str, path_qs: str, by: str, tenant: str) -> str:
    msg = "\n".join((stamp, method.upper(), path_qs, by, tenant)).encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def encode_tenant(tenant: Tenant) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(tenant.claim())).decode().rstrip("=")


def decode_tenant(value: str) -> Tenant:
    try:
        claim = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return Tenant.of(str(claim["sub"]), claim["customers"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized(f"forwarded request: unreadable tenant ({exc.__class__.__name__})") from None


class ForwardSigner:
    def __init__(self, secret: str | bytes) -> None:
        self.secret = secret.encode() if isinstance(secret, str) else secret
        if len(self.secret) < 16:
            raise ValueError("the forwarding secret must be at least 16 bytes")

    def headers(self, method: str, path_qs: str, by: str, tenant: Tenant, now: float | None = None) -> dict[str, str]:
        stamp = str(int(time.time() if now is None else now))
        carried = encode_tenant(tenant)
        return {FORWARDED_BY: by, TENANT: carried,
                SIGNATURE: f"t={stamp},v1={_mac(self.secret, stamp, method, path_qs, by, carried)}"}

    def verify(self, method: str, path_qs: str, headers: Mapping[str, str], now: float | None = None) -> Tenant:
        """The tenant a forwarded request is made for; Unauthorized unless it is signed with our secret, recent,
        and names a tenant."""
        by, carried, signature = headers.get(FORWARDED_BY), headers.get(TENANT), headers.get(SIGNATURE)
        if not carried:
            raise Unauthorized("forwarded request without a tenant")
        if not by or not signature:
            raise Unauthorized("forwarded request without a signature")
        fields = dict(part.partition("=")[::2] for part in signature.split(","))
        stamp, mac = fields.get("t", ""), fields.get("v1", "")
        if not stamp.isascii() or not stamp.isdigit():
            raise Unauthorized("forwarded request: malformed signature")
        if abs((time.time() if now is None else now) - int(stamp)) > MAX_SKEW_S:
            raise Unauthorized("forwarded request: signature too old (or the workers' clocks disagree)")
        if not hmac.compare_digest(mac.encode(), _mac(self.secret, stamp, method, path_qs, by, carried).encode()):
            raise Unauthorized("forwarded request: bad signature")
        return decode_tenant(carried)
