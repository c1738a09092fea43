"""Who owns a partition, by the group's assignment, and what an unreachable owner gives (503, not 500)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from streams.api.routing import Cluster, Unavailable


def _app(me: str, meta: dict) -> SimpleNamespace:
    router = SimpleNamespace(table_metadata=lambda name: meta)
    return SimpleNamespace(conf=SimpleNamespace(canonical_url=me), router=router)


def test_owners_come_from_the_assignment_of_the_units_changelog():
    meta = {"http://127.0.0.1:7001": {"c-units-changelog": [0, 2]},
            "http://127.0.0.1:7000/": {"c-units-changelog": [1, 3]}}
    cluster = Cluster(_app("http://127.0.0.1:7000", meta), "units", 4)  # type: ignore[arg-type]
    assert cluster.owners() == {0: "http://127.0.0.1:7001", 2: "http://127.0.0.1:7001",
                                1: "http://127.0.0.1:7000", 3: "http://127.0.0.1:7000"}
    assert cluster.workers() == ["http://127.0.0.1:7000", "http://127.0.0.1:7001"]  # this worker first
    assert cluster.owner(5) is None


async def test_an_owner_that_does_not_answer_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connection refused
        cluster = Cluster(_app("http://127.0.0.1:7000", {dead: {"t": [0]}}), "units", 1)  # type: ignore[arg-type]
        with pytest.raises(Unavailable, match="did not answer"):
            await cluster.forward(dead, "/api/units/CSQU3054383")
        assert await cluster.gather("/api/alerts") == {dead: None}  # a list says which partitions are missing
