"""The one severity ladder both jobs grade on (`streams.core.severity`), rung by rung."""

from __future__ import annotations

import pytest

from schemas import Mode, Severity
from streams.core.policy import DEFAULT_POLICY
from streams.core.severity import by_ratio
from streams.core.shipments.policy import DEFAULT_SHIPMENT_POLICY

MINOR, MAJOR, CRITICAL = Severity.MINOR, Severity.MAJOR, Severity.CRITICAL


@pytest.mark.parametrize(("ratio", "late", "norm"), [(0, MINOR, MINOR), (1.5, MINOR, MINOR), (1.51, MINOR, MAJOR),
                                                     (2, MINOR, MAJOR), (2.01, MAJOR, MAJOR), (3, MAJOR, MAJOR),
                                                     (3.01, MAJOR, CRITICAL), (6, MAJOR, CRITICAL),
                                                     (6.01, CRITICAL, CRITICAL)])  # fmt: skip
def test_lateness_is_graded_on_2_and_6_tolerances_and_norms_on_1_5_and_3(ratio: float, late: Severity,
                                                                         norm: Severity) -> None:  # fmt: skip
    assert by_ratio(ratio) is late
    assert by_ratio(ratio, 1.5, 3) is norm


def test_both_policies_grade_minutes_late_in_their_tolerances() -> None:
    sea = int(DEFAULT_POLICY.tolerance(Mode.SEA).total_seconds() // 60)
    assert [DEFAULT_POLICY.severity(Mode.SEA, m) for m in (2 * sea, 2 * sea + 1, 6 * sea + 1)] == [MINOR, MAJOR,
                                                                                                  CRITICAL]
    door = int(DEFAULT_SHIPMENT_POLICY.delivery_tolerance.total_seconds() // 60)
    assert [DEFAULT_SHIPMENT_POLICY.severity(m) for m in (2 * door, 6 * door, 6 * door + 1)] == [MINOR, MAJOR,
                                                                                                  CRITICAL]
