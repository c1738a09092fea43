"""IATA air cargo adapters (FSU, XFSU, ONE Record) against published samples and their edge cases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from schemas import TrackingEvent
from streams.feeds.base import ParseResult

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    """A sample message, byte for byte (samples/README.md names each one's source)."""
    return (SAMPLES / name).read_bytes()


def brief(event: TrackingEvent) -> tuple:
    """The canonical fields a test pins down: (AWB, milestone, classifier, location, UTC time, flight, carrier)."""
    return (
        event.unit.id,
        event.milestone.value,
        event.classifier.value,
        event.location,
        event.event_time.isoformat(),
        event.transport.flight,
        event.transport.carrier,
    )


def check_result(result: ParseResult) -> None:
    """What an IATA adapter's result holds whatever it was given: no exception turned into an "internal error"
    rejection (the adapters' guard does that, so a "never raises" property must look), a reason for every
    rejection, no event twice, times in UTC."""
    assert isinstance(result, ParseResult)
    assert not any(r.reason.startswith("internal error") for r in result.rejections), result.rejections
    assert all(isinstance(r.reason, str) and r.reason for r in result.rejections)
    ids = [e.event_id for e in result.events]
    assert len(ids) == len(set(ids))
    assert all(event.event_time.utcoffset() == timedelta(0) for event in result.events)
