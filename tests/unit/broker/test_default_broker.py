"""Which embedded broker a command starts when it is given none and no `corridor broker` runs: durable on
CORRIDOR_BROKER_DATA (the worker, the connectors, notify...), in memory for the demo and when
CORRIDOR_EMBEDDED_STORAGE=memory says so. The broker itself is a stand-in: what is checked is what it is asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.broker import resolve
from streams.settings import Settings


@dataclass
class _Started:
    data: Path | None = None
    log_path: Path | None = None
    port: int = 9

    def __enter__(self) -> _Started:
        STARTED.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


STARTED: list[_Started] = []


@pytest.fixture(autouse=True)
def fake_broker(monkeypatch):
    STARTED.clear()
    monkeypatch.setattr(resolve, "EmbeddedBroker", _Started)
    monkeypatch.setattr(resolve, "record_shared", lambda home, broker: None)
    monkeypatch.setattr(resolve, "forget_shared", lambda home: None)


def test_a_command_without_a_broker_starts_a_durable_one_on_the_broker_data_dir(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None)
    with resolve.broker_for(settings) as (bootstrap, adjusted):
        assert bootstrap == "127.0.0.1:9"
        assert STARTED[-1].data == tmp_path / "broker"  # ~/.corridor/broker by default
        assert adjusted.embedded_fetch_wait_ms >= resolve.LONG_RUN_FETCH_WAIT_MS
    with resolve.broker_for(Settings(home=tmp_path, broker_data=tmp_path / "elsewhere", _env_file=None)):
        assert STARTED[-1].data == tmp_path / "elsewhere"


def test_memory_when_asked_or_for_the_demo(tmp_path: Path, monkeypatch) -> None:
    with resolve.broker_for(Settings(home=tmp_path, _env_file=None), durable=False) as (_, adjusted):
        assert STARTED[-1].data is None and adjusted.embedded_fetch_wait_ms == 5
    monkeypatch.setenv("CORRIDOR_EMBEDDED_STORAGE", "memory")
    with resolve.broker_for(Settings(home=tmp_path, _env_file=None)) as (_, adjusted):
        # a worker on memory by choice may run for hours: the long wait (docs/operations.md)
        assert STARTED[-1].data is None and adjusted.embedded_fetch_wait_ms == resolve.LONG_RUN_FETCH_WAIT_MS


def test_the_demo_asks_for_memory_and_the_worker_for_durable(tmp_path: Path, monkeypatch) -> None:
    """What the commands themselves pass: the demo's run stops right after the broker is chosen."""
    from streams import cli

    asked: dict[str, bool] = {}

    class Chosen(Exception):
        pass

    def choose(settings: Settings, *, durable: bool = True):  # type: ignore[no-untyped-def]
        asked["durable"] = durable
        raise Chosen

    monkeypatch.setattr(resolve, "broker_for", choose)
    monkeypatch.setenv("CORRIDOR_HOME", str(tmp_path))
    runner = CliRunner()
    for command, durable in ((["demo"], False), (["worker", "--no-web"], True)):
        asked.clear()
        result = runner.invoke(cli.app, command)
        assert isinstance(result.exception, Chosen), (command, result.output)
        assert asked == {"durable": durable}, command
