"""Where corridor may send a webhook: public addresses only, unless configuration allows more.

A subscription's URL is checked when it is saved (every address its host resolves to) and again at every send:
the HTTP client connects only to addresses that pass (a resolver that filters), so a name that resolved to a
public address when saved and to 169.254.169.254 later (DNS rebinding) is refused at send time too."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ValueError):
    """A webhook target corridor will not call; the message says why."""


class AddressRefused(OSError):
    """Raised inside the HTTP client when every address of a webhook's host is refused (aiohttp wraps it)."""


def _why_not(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for test, what in ((addr.is_loopback, "loopback"), (addr.is_link_local, "link-local (cloud metadata lives here)"),
                       (addr.is_private, "private"), (addr.is_multicast, "multicast"),
                       (addr.is_unspecified, "unspecified"), (addr.is_reserved, "reserved")):
        if test:
            return what
    if not addr.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class TargetPolicy:
    """`allow`: networks that may be called although not public (e.g. 10.20.0.0/16 for an internal receiver,
    127.0.0.0/8 in tests). Public addresses are always allowed."""

    allow: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow: Iterable[str]) -> TargetPolicy:
        nets = []
        for a in allow:
            try:
                nets.append(ipaddress.ip_network(a.strip(), strict=False))
            except ValueError:
                raise ValueError(f"not a network: {a!r} (e.g. 10.20.0.0/16 or 127.0.0.1)") from None
        return cls(tuple(nets))

    def check_address(self, address: str) -> None:
        addr = ipaddress.ip_address(address.split("%", 1)[0])
        why = _why_not(addr)
        if why is not None and not any(addr in net for net in self.allow if net.version == addr.version):
            raise TargetRefused(f"{address} is a {why} address; webhooks go to public addresses only "
                                "(CORRIDOR_NOTIFY_WEBHOOK_ALLOW lists networks allowed besides)")

    async def check_url(self, url: str) -> None:
        """Every address the URL's host resolves to must be allowed; TargetRefused otherwise."""
        host = urlparse(url).hostname
        if not host:
            raise TargetRefused(f"no host in {url!r}")
        port = urlparse(url).port or (443 if url.lower().startswith("https") else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"cannot resolve {host}: {exc}") from None
        for *_, sockaddr in infos:
            self.check_address(sockaddr[0])


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops every address the policy refuses; with none left the connection fails."""

    def __init__(self, policy: TargetPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:  # fmt: skip
        results = await self.inner.resolve(host, port, family)
        kept, refused = [], []
        for r in results:
            try:
                self.policy.check_address(r["host"])
                kept.append(r)
            except TargetRefused as exc:
                refused.append(str(exc))
        if not kept:
            raise AddressRefused(errno.EACCES, f"webhook host {host} refused: {'; '.join(refused) or 'no address'}")
        return kept

    async def close(self) -> None:
        await self.inner.close()


def connector_kwargs(policy: TargetPolicy) -> dict[str, Any]:
    return {"resolver": GuardedResolver(policy)}
