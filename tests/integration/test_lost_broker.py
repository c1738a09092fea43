"""A broker that lost its data, tried as an operator would: the memory broker SIGKILLed under a running worker.
Readiness says the broker is gone and the log does not flood; a fresh broker does not brick the worker's data
dir: the worker says what happened in one line and `corridor worker --reset-state` is the way on."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from schemas.topics import TopicNames
from streams.bootstrap import running
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker, free_port
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.topology.broker_watch import limit_repeats
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, journey, plan

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, **more: object) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(app_id=f"lost-{tag}", topic_prefix=f"l{tag}.", partitions=PARTITIONS, store="rocksdb://",
                    data_dir=tmp_path / "state", home=tmp_path / "home", embedded_broker=True, **more)  # type: ignore[arg-type]


async def _fill(settings: Settings, bootstrap: str) -> None:
    """A worker that tracked two units: its RocksDB state has applied changelog offsets."""
    topics = TopicNames(settings.topic_prefix)
    await ensure_topics(bootstrap, topics.all, PARTITIONS)
    async with (OutputReader(bootstrap, topics) as reader, running(settings, bootstrap),
                Publisher(bootstrap, topics, PARTITIONS) as pub):
        await pub.send_all([plan(UNIT), plan(OTHER), *journey(UNIT)[:3], *journey(OTHER)[:3]])
        await reader.wait_for(lambda r: len(r.of("alert")) >= 2)
        await reader.settle(1.0)


async def _readyz(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, await r.json()


async def test_readiness_says_the_broker_is_gone_and_the_log_does_not_flood(tmp_path: Path):
    settings = _settings(tmp_path, web_enabled=True, web_port=free_port())
    topics = TopicNames(settings.topic_prefix)
    root = logging.getLogger()
    everything, limited = _Count(), _Count()
    root.addHandler(everything)
    root.addHandler(limited)
    broker = EmbeddedBroker().start()
    port = broker.port
    try:
        await ensure_topics(broker.bootstrap, topics.all, PARTITIONS)
        async with running(settings, broker.bootstrap):
            limit_repeats(_Only(limited))  # what the worker's handlers get (runner.Worker.on_started)
            assert (await _readyz(settings.web_port))[0] == 200
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGKILL)  # as the operator did
            broker.process.wait()
            everything.n = limited.n = 0
            status, body = 503, {}
            for _ in range(50):
                status, body = await _readyz(settings.web_port)
                if status == 503:
                    break
                await asyncio.sleep(0.1)
            assert status == 503 and "broker is unreachable" in body["reason"], body
            await asyncio.sleep(10)
            assert (await _readyz(settings.web_port))[0] == 503
            gone = [m for m in limited.messages if "is unreachable" in m]
            assert len(gone) == 1, gone  # one line for the change of state
            # The clients' reconnect errors, held back: a few lines, where they were many more.
            assert limited.n <= 40 and everything.n > 2 * limited.n, (limited.n, everything.n)
            # The broker comes back (empty: a memory broker) on the same port: ready again is possible.
            broker = EmbeddedBroker(port=port).start()
            await ensure_topics(broker.bootstrap, topics.all, PARTITIONS)
            for _ in range(50):
                status, body = await _readyz(settings.web_port)
                if "broker" not in (body.get("reason") or ""):
                    break
                await asyncio.sleep(0.1)
            assert "broker is unreachable" not in (body.get("reason") or "")
            assert any("reachable again" in m for m in limited.messages)
    finally:
        root.removeHandler(everything)
        root.removeHandler(limited)
        broker.stop()


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1
        self.messages.append(record.getMessage())


class _Only(logging.Logger):
    """A stand-in logger whose only handler is the given one (limit_repeats installs on a logger's handlers)."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__("only")
        self.handlers = [handler]


def _worker_cli(settings: Settings, bootstrap: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "CORRIDOR_TOPIC_PREFIX": settings.topic_prefix, "CORRIDOR_PARTITIONS": str(PARTITIONS),
           "CORRIDOR_EMBEDDED_BROKER": "true", "CORRIDOR_HOME": str(settings.home)}
    return subprocess.Popen([sys.executable, "-m", "streams", "worker", "--broker", bootstrap, "--app-id",
                             settings.app_id, "--data-dir", str(settings.data_dir), "--web-port",
                             str(settings.web_port), "--loglevel", "warning", *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


async def test_a_broker_that_lost_its_topics_does_not_brick_the_data_dir(tmp_path: Path):
    settings = _settings(tmp_path, web_port=free_port())
    with EmbeddedBroker() as first:
        await _fill(settings, first.bootstrap)
    with EmbeddedBroker() as fresh:  # the broker came back without its data
        proc = _worker_cli(settings, fresh.bootstrap)
        _, stderr = proc.communicate(timeout=120)
        lines = [ln for ln in stderr.decode().splitlines() if ln.startswith("corridor worker:")]
        assert proc.returncode == 2, stderr.decode()[-2000:]
        assert len(lines) == 1, stderr.decode()[-2000:]
        assert "the broker has lost this worker's topics" in lines[0] and "--reset-state" in lines[0]
        assert "-changelog[" in lines[0]

        # The way on: the state is moved aside (kept) and the worker starts from the broker's topics.
        proc = _worker_cli(settings, fresh.bootstrap, "--reset-state")
        try:
            status = 0
            for _ in range(600):
                await asyncio.sleep(0.1)
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                try:
                    status, _ = await _readyz(settings.web_port)
                except aiohttp.ClientError:
                    continue
                if status == 200:
                    break
            assert status == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        assert "local state moved aside to" in stderr.decode()
        assert [p.name for p in settings.data_dir.iterdir() if ".reset-" in p.name]
