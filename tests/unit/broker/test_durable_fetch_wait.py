"""On an embedded broker that runs for hours, fetches wait long enough for Tansu to list a partition's batches
(docs/operations.md); the demo keeps the short wait."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from streams.broker import embedded, resolve
from streams.settings import Settings


@pytest.fixture()
def running_broker(tmp_path: Path):
    """A recorded `corridor broker`: a live pid (ours) and a port that accepts connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def record(durable: bool | None) -> None:
        info = {"pid": os.getpid(), "owner": os.getpid(), "bootstrap": f"127.0.0.1:{port}"}
        if durable is not None:
            info["durable"] = durable
        embedded.state_file(tmp_path).write_text(json.dumps(info))

    yield record
    server.close()


@pytest.mark.parametrize("durable", [True, False, None])  # None: recorded before the flag was
def test_a_running_broker_memory_or_durable_gets_the_long_wait(tmp_path: Path, running_broker, durable) -> None:
    running_broker(durable)
    settings = Settings(home=tmp_path, _env_file=None)
    with resolve.broker_for(settings) as (_, adjusted):
        assert adjusted.embedded_broker
        assert adjusted.embedded_fetch_wait_ms == resolve.LONG_RUN_FETCH_WAIT_MS == 500


def test_an_explicit_wait_is_kept_on_the_durable_broker(tmp_path: Path, running_broker, monkeypatch) -> None:
    running_broker(True)
    monkeypatch.setenv("CORRIDOR_EMBEDDED_FETCH_WAIT_MS", "20")
    settings = Settings(home=tmp_path, _env_file=None)
    with resolve.broker_for(settings) as (_, adjusted):
        assert adjusted.embedded_fetch_wait_ms == 20
