"""The door of an HTTP service: who is asking (a bearer credential, or a worker forwarding for a tenant), and
whether they are asking too often."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.security.credentials import Authenticator, Unauthorized
from streams.security.forwarding import FORWARDED_BY, SIGNATURE, TENANT, ForwardSigner
from streams.security.ratelimit import RateLimiter
from streams.security.tenants import OPEN, Tenant


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"too many requests; retry in {wait:.1f} s")
        self.wait = wait


@dataclass
class Guard:
    auth: Authenticator
    signer: ForwardSigner | None = None
    limiter: RateLimiter | None = None  # per credential
    failures: RateLimiter | None = None  # failed attempts per caller address (slows key guessing)

    @property
    def required(self) -> bool:
        return self.auth.configured

    def forwarded(self, headers: Mapping[str, str]) -> bool:
        return any(h in headers for h in (FORWARDED_BY, TENANT, SIGNATURE))

    async def tenant(self, method: str, path_qs: str, headers: Mapping[str, str], remote: str | None) -> Tenant:
        """The tenant a request is answered for. Unauthorized / Forbidden / RateLimited otherwise."""
        try:
            return await self._tenant(method, path_qs, headers)
        except Unauthorized:
            if self.failures is not None:
                wait = self.failures.take(f"ip:{remote}")
                if wait:
                    raise RateLimited(wait) from None
            raise

    async def _tenant(self, method: str, path_qs: str, headers: Mapping[str, str]) -> Tenant:
        if self.forwarded(headers):
            if self.signer is not None:
                return self.signer.verify(method, path_qs, headers)  # internal: not rate limited again
            if self.required:
                raise Unauthorized("forwarded requests are refused: no forwarding secret is configured "
                                   "(CORRIDOR_FORWARD_SECRET)")
            return OPEN  # no credentials anywhere: the header grants nothing that is not already open
        if not self.required:
            return OPEN
        tenant = await self.auth.tenant(headers.get("Authorization"))
        if self.limiter is not None:
            wait = self.limiter.take(tenant.subject)
            if wait:
                raise RateLimited(wait)
        return tenant
