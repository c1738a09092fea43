import asyncio

import orjson
import pytest

from streams.connectors.idempotency import Ack, IdempotencyWindow, dcsa_key


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_is_published_once_within_the_window():
    clock = Clock()
    window = IdempotencyWindow(60, clock=clock)
    sent = []

    async def publish() -> Ack:
        sent.append(1)
        return Ack("t", 0, len(sent))

    assert await window.once("k", publish) == (Ack("t", 0, 1), False)
    assert await window.once("k", publish) == (Ack("t", 0, 1), True)
    clock.now = 61
    assert await window.once("k", publish) == (Ack("t", 0, 2), False)
    assert await window.once(None, publish) == (Ack("t", 0, 3), False)  # no key: no de-duplication


async def test_concurrent_resends_wait_for_the_first_and_failures_are_forgotten():
    window = IdempotencyWindow(60)
    gate = asyncio.Event()
    sent = []

    async def slow() -> Ack:
        sent.append(1)
        await gate.wait()
        return Ack("t", 1, 7)

    first = asyncio.create_task(window.once("k", slow))
    await asyncio.sleep(0)
    second = asyncio.create_task(window.once("k", slow))
    await asyncio.sleep(0)
    gate.set()
    assert (await first, await second) == ((Ack("t", 1, 7), False), (Ack("t", 1, 7), True))
    assert len(sent) == 1

    async def broken() -> Ack:
        raise RuntimeError("kafka down")

    with pytest.raises(RuntimeError):
        await window.once("j", broken)
    assert window.seen("j") is None


def test_dcsa_key_is_the_set_of_event_ids_and_update_times():
    a = orjson.dumps([{"eventID": "1"}, {"eventID": "2"}])
    b = orjson.dumps({"events": [{"eventID": "2"}, {"eventID": "1"}]})
    assert dcsa_key(a) == dcsa_key(b) is not None
    updated = orjson.dumps([{"eventID": "1", "eventUpdatedDateTime": "2026-01-02T00:00:00Z"}, {"eventID": "2"}])
    assert dcsa_key(updated) != dcsa_key(a)  # a 3.0 update of an event is new
    assert dcsa_key(orjson.dumps([{"eventID": "1"}, {"no": "id"}])) is None
    assert dcsa_key(b"not json") is None
    assert dcsa_key(b"[]") is None
