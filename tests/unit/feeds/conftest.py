"""Feed adapter tests: published samples in samples/ (sources in samples/README.md) and hand-made edge cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "samples"
RECEIVED = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


@pytest.fixture
def received() -> datetime:
    return RECEIVED
