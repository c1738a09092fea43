from __future__ import annotations

import asyncio
import logging

from streams.broker.embedded import free_port
from streams.broker.watch import BrokerWatch, _hosts
from streams.topology.broker_watch import RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str = "Unable connect to %r", level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("127.0.0.1:9092",), None)


def test_repeats_pass_with_doubling_backoff_and_say_what_was_held():
    clock = Clock()
    limiter = RepeatLimiter(first_interval=1, max_interval=8, clock=clock)
    passed = []
    for step in range(800):  # 80 per second for 10 s, as the Kafka client did with its broker gone
        clock.now = step / 80
        r = _record()
        if limiter.filter(r):
            passed.append((clock.now, r.getMessage()))
    assert [t for t, _ in passed] == [0.0, 1.0, 3.0, 7.0]  # then every 8 s at most
    assert passed[0][1] == "Unable connect to '127.0.0.1:9092'"
    assert passed[1][1].endswith("(and 79 more like it in the last 1 s)")
    assert passed[2][1].endswith("(and 159 more like it in the last 2 s)")


def test_other_messages_and_info_are_not_held():
    clock = Clock()
    limiter = RepeatLimiter(clock=clock)
    assert limiter.filter(_record()) and not limiter.filter(_record())
    assert limiter.filter(_record("another message"))
    assert limiter.filter(_record(level=logging.INFO)) and limiter.filter(_record(level=logging.INFO))
    clock.now = 1000  # quiet for long: starts afresh, nothing to report
    r = _record()
    assert limiter.filter(r) and r.getMessage() == "Unable connect to '127.0.0.1:9092'"


def test_hosts():
    assert _hosts("kafka://a:9092,b:9093") == [("a", 9092), ("b", 9093)]
    assert _hosts("[::1]:9092") == [("::1", 9092)]


async def test_watch_logs_one_line_per_change(caplog):
    port = free_port()
    watch = BrokerWatch(f"127.0.0.1:{port}", timeout=0.5)
    caplog.set_level(logging.WARNING, "streams.broker.watch")
    for _ in range(3):
        await watch.check()
    assert not watch.reachable and "unreachable since" in (watch.reason() or "")
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        for _ in range(3):
            await watch.check()
    finally:
        server.close()
    assert watch.reachable and watch.reason() is None
    lines = [r.getMessage() for r in caplog.records if r.name == "streams.broker.watch"]
    assert len(lines) == 2 and "unreachable" in lines[0] and "reachable again" in lines[1]
