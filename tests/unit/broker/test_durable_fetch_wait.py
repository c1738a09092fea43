"""On the durable embedded broker, fetches wait long enough for Tansu's s3:// engine (docs/operations.md)."""

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


@pytest.mark.parametrize(("durable", "wait"), [(True, 500), (False, 5), (None, 5)])  # None: recorded before
def test_a_running_broker_gets_the_wait_its_storage_needs(tmp_path: Path, running_broker, durable, wait) -> None:
    running_broker(durable)
    settings = Settings(home=tmp_path, _env_file=None)
    with resolve.broker_for(settings) as (_, adjusted):
        assert adjusted.embedded_broker
        assert adjusted.embedded_fetch_wait_ms == wait


def test_an_explicit_wait_is_kept_on_the_durable_broker(tmp_path: Path, running_broker, monkeypatch) -> None:
    running_broker(True)
    monkeypatch.setenv("CORRIDOR_EMBEDDED_FETCH_WAIT_MS", "20")
    settings = Settings(home=tmp_path, _env_file=None)
    with resolve.broker_for(settings) as (_, adjusted):
        assert adjusted.embedded_fetch_wait_ms == 20
