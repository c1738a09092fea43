"""The severity ladder both jobs grade alerts on: how late (or overdue, or long held) in multiples of what is
tolerated. Pure: no I/O, no clock."""

from __future__ import annotations

from schemas import Severity


def by_ratio(ratio: float, minor: float = 2, major: float = 6) -> Severity:
    """MINOR up to `minor` times the tolerance, MAJOR up to `major` times, CRITICAL beyond. Lateness against a
    plan is graded on the default rungs (2, 6); the shipment job's overdue legs, long dwells and customs holds,
    measured against a norm rather than a promise, on closer ones (1.5, 3)."""
    if ratio <= minor:
        return Severity.MINOR
    if ratio <= major:
        return Severity.MAJOR
    return Severity.CRITICAL
