"""`corridor poll`: DCSA Track & Trace 2.2 and 3.0 `GET /events` clients, one per carrier.

Per page: the position with the page marked pending is checkpointed, the page is published (keyed by
`poll:<carrier>`, its digest in a header), and the position after it is checkpointed. A poller restarted after a
crash between the two checkpoints looks for the pending page's digest on its partition from the offset noted
before sending: found, it moves on; not found, it fetches the page again. So a restart neither misses nor
re-publishes a page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson

from streams.connectors.backoff import RETRY_STATUSES, delay, retry_after
from streams.connectors.checkpoints import CheckpointStore
from streams.connectors.config import Carrier
from streams.connectors.paging import Position, step
from streams.connectors.sink import RawSink, digest
from streams.feeds.dcsa import events_of

log = logging.getLogger(__name__)


class PollError(Exception):
    """The carrier refused or failed past the retries: this pass stops, the next one resumes from the checkpoint."""


@dataclass
class Page:
    status: int
    body: bytes
    next_cursor: str | None


class CarrierClient:
    """HTTP to one carrier: auth (API key or OAuth2 client credentials), retries, the cursor from the headers."""

    def __init__(self, carrier: Carrier, session: aiohttp.ClientSession, sleep=asyncio.sleep) -> None:  # type: ignore[no-untyped-def]
        self.carrier = carrier
        self.session = session
        self._sleep = sleep
        self._token: str | None = None
        self._token_until = 0.0

    def params(self, since: str | None) -> dict[str, str]:
        c = self.carrier
        p: dict[str, str] = {"limit": str(c.limit)}
        if c.equipment_references:
            p["equipmentReference"] = ",".join(c.equipment_references)
        if c.booking_references:
            p["carrierBookingReference"] = ",".join(c.booking_references)
        if c.event_types:
            p["eventType" if c.version == "2.2" else "eventTypes"] = ",".join(c.event_types)
        if since:
            p[c.time_param] = since
        p.update(c.extra_params)
        return p

    def request_for(self, cursor: str | None, since: str | None) -> tuple[str, dict[str, str]]:
        """2.2's Next-Page is a link (absolute, or relative to the endpoint); 3.0's Next-Page-Cursor is a cursor."""
        if cursor is not None and (cursor.startswith(("http://", "https://", "/"))):
            return urljoin(self.carrier.url, cursor), {}
        params = self.params(since)
        if cursor is not None:
            params["cursor"] = cursor
        return self.carrier.url, params

    async def _auth(self, refresh: bool = False) -> dict[str, str]:
        c = self.carrier
        if c.api_key:
            return {c.api_key_header: c.api_key}
        if c.oauth2 is None:
            return {}
        if refresh or self._token is None or time.monotonic() >= self._token_until:
            o = c.oauth2
            form = {"grant_type": "client_credentials"}
            if o.scope:
                form["scope"] = o.scope
            if o.audience:
                form["audience"] = o.audience
            async with self.session.post(o.token_url, data=form, auth=aiohttp.BasicAuth(o.client_id, o.client_secret),
                                         timeout=aiohttp.ClientTimeout(total=c.timeout_seconds)) as r:
                if r.status != 200:
                    raise PollError(f"{c.name}: token endpoint answered {r.status}: {(await r.text())[:200]}")
                doc = await r.json(content_type=None)
            self._token = doc["access_token"]
            self._token_until = time.monotonic() + max(0.0, float(doc.get("expires_in", 300)) - 30)
        return {"Authorization": f"Bearer {self._token}"}

    async def page(self, cursor: str | None, since: str | None) -> Page:
        c = self.carrier
        url, params = self.request_for(cursor, since)
        refreshed = False
        attempt = 0
        while True:
            headers = {"Accept": "application/json", "API-Version": c.version.split(".")[0] + ".0.0"}
            headers.update(await self._auth(refresh=False))
            try:
                async with self.session.get(url, params=params, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=c.timeout_seconds)) as r:
                    body = await r.read()
                    status, rh = r.status, r.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, rh, body = 0, {}, str(exc).encode()
            if status == 200:
                nxt = rh.get("Next-Page-Cursor") or rh.get("Next-Page") or None
                return Page(status, body, nxt)
            if status == 401 and c.oauth2 is not None and not refreshed:
                refreshed = True
                await self._auth(refresh=True)
                continue
            if status in RETRY_STATUSES or status == 0:
                if attempt + 1 >= c.max_attempts:
                    raise PollError(f"{c.name}: GET {url} failed {attempt + 1} times, last {status or body.decode()}")
                wait = delay(attempt, c.backoff_seconds, c.backoff_max_seconds,
                             retry_after(rh.get("Retry-After"), datetime.now(UTC)))
                log.info("poll %s: %s, again in %.1fs", c.name, status or body.decode()[:100], wait)
                attempt += 1
                await self._sleep(wait)
                continue
            raise PollError(f"{c.name}: GET {url} answered {status}: {body[:300].decode(errors='replace')}")


@dataclass
class PassResult:
    pages: int = 0
    events: int = 0
    dead_letters: int = 0


class Poller:
    def __init__(self, carrier: Carrier, sink: RawSink, store: CheckpointStore, session: aiohttp.ClientSession,
                 sleep=asyncio.sleep) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        self.carrier = carrier
        self.sink = sink
        self.store = store
        self.client = CarrierClient(carrier, session, sleep)
        self.key = f"poll:{carrier.name}"
        self.topic = sink.topics.raw(carrier.format)
        self.fields = (("eventCreatedDateTime",) if carrier.version == "2.2"
                       else ("eventUpdatedDateTime", "eventCreatedDateTime"))  # fmt: skip

    async def position(self) -> Position:
        saved = await self.store.load(self.key)
        if saved is None:
            return Position(since=self.carrier.since)
        pos = Position.from_dict(saved)
        if pos.pending is None:
            return pos
        # a crash between publishing a page and checkpointing it: was it published?
        p = pos.pending
        found = await self.sink.find(self.topic, p["partition"], p["start"], p["digest"])
        if found is not None:
            log.info("poll %s: page %s was published at %s/%d/%d before a restart", self.carrier.name,
                     p["digest"][:12], found.topic, found.partition, found.offset)  # fmt: skip
            pos = Position.from_dict(p["after"])
        else:
            pos = replace(pos, pending=None)  # not published: fetch it again
        await self.store.save(self.key, pos.to_dict())
        return pos

    async def run_pass(self, max_pages: int | None = None) -> PassResult:
        """Page until the carrier has no next page (or `max_pages`), checkpointing every page."""
        result = PassResult()
        pos = await self.position()
        fetched = 0
        while max_pages is None or fetched < max_pages:
            page = await self.client.page(pos.cursor, pos.since)
            fetched += 1
            try:
                doc = orjson.loads(page.body)
                events = events_of(doc)
            except orjson.JSONDecodeError as exc:
                await self.sink.dead_letter(f"poll:{self.carrier.name}", self.key.encode(), page.body,
                                            f"poll {self.carrier.name}: the page is not JSON ({exc})", self.key)
                result.dead_letters += 1
                pos = replace(pos, cursor=page.next_cursor)
                await self.store.save(self.key, pos.to_dict())
                if page.next_cursor is None:
                    break
                continue
            kept, after = step(pos, events, page.next_cursor, self.fields)
            if kept:
                body = page.body if len(kept) == len(events) else self._reencode(doc, kept)
                await self._publish(pos, after, body)
                result.pages += 1
                result.events += len(kept)
            else:
                await self.store.save(self.key, after.to_dict())
            pos = after
            if page.next_cursor is None:
                break
        return result

    @staticmethod
    def _reencode(doc: Any, kept: list[Any]) -> bytes:
        if isinstance(doc, dict) and isinstance(doc.get("events"), list):
            return orjson.dumps({**doc, "events": kept})
        return orjson.dumps(kept)

    async def _publish(self, before: Position, after: Position, body: bytes) -> None:
        key = self.key.encode()
        partition = await self.sink.partition_for(self.topic, key)
        start = await self.sink.end_offset(self.topic, partition)
        pending = {"digest": digest(body), "partition": partition, "start": start, "after": after.to_dict()}
        await self.store.save(self.key, replace(before, pending=pending).to_dict())
        ack = await self.sink.send(self.topic, body, key, self.key)
        await self.store.save(self.key, after.to_dict())
        log.info("poll %s: %d bytes to %s/%d/%d", self.carrier.name, len(body), ack.topic, ack.partition, ack.offset)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every interval until `stop`; a failed pass is logged and retried at the next interval."""
        while not stop.is_set():
            try:
                r = await self.run_pass()
                log.info("poll %s: %d pages, %d events", self.carrier.name, r.pages, r.events)
            except Exception as exc:  # one carrier's failure must not stop the others
                log.warning("poll %s: pass failed: %s", self.carrier.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.carrier.interval_seconds)
