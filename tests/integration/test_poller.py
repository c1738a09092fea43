"""The DCSA poller against a fake carrier API on 127.0.0.1 and the real broker: three pages, OAuth2, 429 and 503
with Retry-After, restarts mid-way (after a page was checkpointed, and between publishing a page and
checkpointing it, and before Kafka took it): no page missed, none published twice; the events on
corridor.events through a real worker."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import aiohttp
import orjson
import pytest

from streams.connectors.checkpoints import CheckpointStore, checkpoint_topic, ensure_checkpoint_topic
from streams.connectors.config import Carrier, OAuth2
from streams.connectors.poller import Poller
from streams.connectors.sink import RawSink
from streams.feeds.dcsa import events_of
from streams.topology.runner import running
from tests.integration.carriers import T0, FakeCarrier, container, event_v22, event_v30
from tests.integration.connectors_support import read_topic

pytestmark = pytest.mark.integration


class Crash(Exception):
    pass


def _ids(records) -> list[str]:
    return [e["eventID"] for m in records for e in events_of(orjson.loads(m.value))]


async def test_three_pages_restarts_no_gap_no_duplicate(bootstrap, settings, topics, reader):
    events = [event_v22(i, T0 + timedelta(minutes=i)) for i in range(8)]
    ckpt = checkpoint_topic(settings.topic_prefix)
    await ensure_checkpoint_topic(bootstrap, ckpt)
    waits: list[float] = []

    async def sleep(s: float) -> None:  # backoff is recorded, not slept: the test stays fast
        waits.append(s)

    async with FakeCarrier(events=events) as carrier, aiohttp.ClientSession() as http:
        cfg = Carrier(name="maeu", url=f"{carrier.base}/v2/events", version="2.2", limit=3, event_types=["EQUIPMENT"],
                      since=(T0 - timedelta(days=1)).isoformat(),
                      oauth2=OAuth2(token_url=f"{carrier.base}/oauth/token", client_id="corridor",
                                    client_secret="s3cret-client"))  # fmt: skip

        async def poller() -> tuple[Poller, RawSink, CheckpointStore]:
            sink = RawSink(bootstrap, topics)
            store = await CheckpointStore(bootstrap, ckpt).__aenter__()
            return Poller(cfg, sink, store, http, sleep=sleep), sink, store

        async def close(sink: RawSink, store: CheckpointStore) -> None:
            await sink.close()
            await store.__aexit__()

        # 1. one page, then stopped cleanly; the carrier first says 429 (Retry-After 7) and 503 (none)
        carrier.faults.extend([(429, "7"), (503, None)])
        p, sink, store = await poller()
        assert (await p.run_pass(max_pages=1)).pages == 1
        await close(sink, store)
        assert waits == [7.0, 2.0]  # Retry-After honoured, then exponential backoff (1 s base, second attempt)

        # 2. page 2 published, then a crash before its checkpoint
        p, sink, store = await poller()
        saves = 0
        real_save = store.save

        async def save_then_crash(key, state):
            nonlocal saves
            saves += 1
            if saves == 2:  # 1: page 2 pending, 2: page 2 done
                raise Crash("killed between publishing and checkpointing")
            await real_save(key, state)

        store.save = save_then_crash  # type: ignore[method-assign]
        with pytest.raises(Crash):
            await p.run_pass()
        await close(sink, store)

        # 3. restarted: finds page 2 on Kafka, goes on with page 3, ends the pass
        p, sink, store = await poller()
        r = await p.run_pass()
        await close(sink, store)
        assert (r.pages, r.events) == (1, 2)
        raw = await read_topic(bootstrap, topics.raw("dcsa-tnt-2.2"), at_least=3)
        assert len(raw) == 3 and _ids(raw) == [e["eventID"] for e in events]

        # 4. new events: one created at the same instant as the last one published, one later; and a crash
        #    after the page was marked pending but before Kafka took it
        carrier.events.append(event_v22(8, T0 + timedelta(minutes=7)))
        carrier.events.append(event_v22(9, T0 + timedelta(minutes=30)))
        p, sink, store = await poller()
        real_send = sink.send

        async def crash_send(*a, **k):
            raise Crash("killed before Kafka took the page")

        sink.send = crash_send  # type: ignore[method-assign]
        with pytest.raises(Crash):
            await p.run_pass()
        sink.send = real_send  # type: ignore[method-assign]
        await close(sink, store)
        p, sink, store = await poller()
        r = await p.run_pass()
        await close(sink, store)
        assert (r.pages, r.events) == (1, 2)
        bounds = [q.get("eventCreatedDateTime:gte") for q in carrier.requests if "cursor" not in q]
        assert bounds[-1] == events[7]["eventCreatedDateTime"]  # the new pass starts at the newest time seen
        assert all(q.get("eventType") == "EQUIPMENT" for q in carrier.requests if "cursor" not in q)

    raw = await read_topic(bootstrap, topics.raw("dcsa-tnt-2.2"), at_least=4)
    ids = _ids(raw)
    assert len(raw) == 4 and sorted(ids) == sorted(f"e22-{i:05d}" for i in range(10)), ids
    assert {m.key for m in raw} == {b"poll:maeu"} and len({m.partition for m in raw}) == 1

    async with running(settings, bootstrap):
        got = await read_topic(bootstrap, topics.name("event"), at_least=10, timeout=40)
        await reader.settle()
    out = Counter(orjson.loads(m.value)["event_id"] for m in got)
    assert set(out) == {f"dcsa:e22-{i:05d}" for i in range(10)} and set(out.values()) == {1}, out
    assert {orjson.loads(m.value)["unit"]["id"] for m in got} == {container(i) for i in range(10)}
    assert reader.of("dead_letter") == []


async def test_dcsa_30_cursor_paging_with_an_api_key_and_filters(bootstrap, settings, topics):
    events = [event_v30(i, T0 + timedelta(minutes=i)) for i in range(6)]
    ckpt = checkpoint_topic(settings.topic_prefix)
    await ensure_checkpoint_topic(bootstrap, ckpt)
    wanted = [container(i) for i in (0, 2, 3, 5, 4)]
    async with FakeCarrier(events=events, api_key="carrier-api-key") as carrier, aiohttp.ClientSession() as http, \
            RawSink(bootstrap, topics) as sink, CheckpointStore(bootstrap, ckpt) as store:  # fmt: skip
        cfg = Carrier(name="hlcu", url=f"{carrier.base}/v3/events", version="3.0", limit=2, api_key="carrier-api-key",
                      equipment_references=wanted)  # fmt: skip
        r = await Poller(cfg, sink, store, http).run_pass()
        assert (r.pages, r.events) == (3, 5)
        assert (await Poller(cfg, sink, store, http).run_pass()).events == 0  # nothing new: nothing published
        bad = cfg.model_copy(update={"api_key": "wrong", "name": "hlcu-bad"})
        with pytest.raises(Exception, match="401"):
            await Poller(bad, sink, store, http).run_pass()
    raw = await read_topic(bootstrap, topics.raw("dcsa-tnt-3.0"), at_least=3)
    assert len(raw) == 3 and sorted(_ids(raw)) == [f"e30-{i:05d}" for i in (0, 2, 3, 4, 5)]


async def test_run_pollers_once_polls_every_carrier(bootstrap, settings, topics):
    """What `corridor poll --once` runs: the checkpoint topic created, one pass per carrier."""
    import asyncio

    from streams.connectors.config import PollConfig
    from streams.connectors.service import run_pollers

    async with FakeCarrier(events=[event_v22(i, T0 + timedelta(minutes=i)) for i in range(4)],
                           api_key="k") as a, FakeCarrier(events=[event_v30(i, T0) for i in range(3)],
                                                          api_key="k") as b:  # fmt: skip
        cfg = PollConfig(carriers=[Carrier(name="a", url=f"{a.base}/v2/events", api_key="k", limit=3),
                                   Carrier(name="b", url=f"{b.base}/v3/events", version="3.0", api_key="k")])
        stats = await run_pollers(settings, bootstrap, cfg, asyncio.Event(), once=True)
        again = await run_pollers(settings, bootstrap, cfg, asyncio.Event(), once=True)
    assert stats == {"a": {"pages": 2, "events": 4, "dead_letters": 0}, "b": {"pages": 1, "events": 3,
                                                                                "dead_letters": 0}}
    assert again["a"]["events"] == again["b"]["events"] == 0  # resumed from the checkpoints
