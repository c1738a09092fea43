"""Which worker answers: a unit's requests go to the worker that owns its key; lists ask every worker.

Ownership is Faust's: `app.router.table_metadata("units")` is the assignment the group leader broadcast,
worker URL -> active partitions of the units changelog, and a unit's partition is its key's murmur2
partition, as its records were routed. This is what `app.router.route_req` / `@app.table_route` do, done
here by hand for three reasons: the unit reference is normalised first (so "csqu 305438-3" and CSQU3054383
are one key and a malformed one is a 400, not a forward), a forwarded request carries a hop header so two
workers that disagree during a rebalance answer 503 instead of bouncing it between them, and an owner that
cannot be reached is a 503 with a JSON message, not a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import faust
import orjson
from yarl import URL

from streams.security.forwarding import FORWARDED_BY, ForwardSigner
from streams.security.tenants import OPEN, Tenant

log = logging.getLogger(__name__)

HOP_HEADER = FORWARDED_BY  # set on requests one worker makes to another (signed: streams/security/forwarding.py)
WORKER_HEADER = "X-Corridor-Worker"  # set on every API answer: the worker that computed it
TIMEOUT = aiohttp.ClientTimeout(total=10)


class Unavailable(RuntimeError):
    """No worker can answer for a partition right now (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    worker: str


def _norm(url: Any) -> str:
    return str(url).rstrip("/")


def signed_target(url: URL) -> str:
    """What a forwarding signature covers: the path and query as yarl reads them, the same on both sides."""
    return f"{url.path}?{url.query_string}"


class Cluster:
    def __init__(self, app: faust.App, table: str, partitions: int, signer: ForwardSigner | None = None) -> None:
        self.app = app
        self.table = table
        self.partitions = partitions
        self.signer = signer  # signs forwarded requests with the tenant they are made for

    @property
    def me(self) -> str:
        return _norm(self.app.conf.canonical_url)

    def owners(self) -> dict[int, str]:
        """partition -> URL of the worker active for it, as the group's last assignment says."""
        out: dict[int, str] = {}
        try:
            meta: Mapping[str, Mapping[str, list[int]]] = self.app.router.table_metadata(self.table)
        except KeyError:
            return out
        for url, topics in meta.items():
            for parts in topics.values():
                for p in parts:
                    out[p] = _norm(url)
        return out

    def workers(self) -> list[str]:
        """Every worker that owns at least one partition (this one first when it does)."""
        urls = sorted(set(self.owners().values()))
        return sorted(urls, key=lambda u: u != self.me)

    def owner(self, partition: int) -> str | None:
        return self.owners().get(partition)

    async def forward(self, url: str, path_qs: str, method: str = "GET", tenant: Tenant = OPEN) -> Answer:
        """Ask worker `url` for `path_qs` for `tenant`, marked as forwarded (and signed, with a forwarding
        secret); Unavailable if it does not answer."""
        target = URL(url).join(URL(path_qs))
        headers = {HOP_HEADER: self.me} if self.signer is None else \
            self.signer.headers(method, signed_target(target), self.me, tenant)  # fmt: skip
        try:
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.request(
                method, target, headers=headers
            ) as resp:
                body = await resp.read()
                return Answer(resp.status, body, resp.content_type, resp.headers.get(WORKER_HEADER, url))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("api: worker %s did not answer %s: %r", url, path_qs, exc)
            raise Unavailable(f"the worker at {url} that owns this data did not answer ({exc.__class__.__name__})"
                              "; retry shortly") from None

    async def gather(self, path_qs: str, tenant: Tenant = OPEN) -> dict[str, Any]:
        """GET `path_qs` from every other worker for `tenant`, in parallel: url -> decoded JSON body (None if it
        failed)."""
        others = [u for u in self.workers() if u != self.me]

        async def one(url: str) -> Any:
            try:
                answer = await self.forward(url, path_qs, tenant=tenant)
            except Unavailable:
                return None
            if answer.status != 200:
                log.warning("api: worker %s answered %s to %s", url, answer.status, path_qs)
                return None
            return orjson.loads(answer.body)

        results = await asyncio.gather(*(one(u) for u in others))
        return dict(zip(others, results, strict=True))
