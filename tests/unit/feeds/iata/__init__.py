"""IATA air cargo adapters (FSU, XFSU, ONE Record) against published samples and their edge cases."""

from __future__ import annotations

from pathlib import Path

from schemas import TrackingEvent

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
