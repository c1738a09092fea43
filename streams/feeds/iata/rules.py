"""The IATA status codes and what each means for tracking: one table for Cargo-IMP FSU, Cargo-XML XFSU and ONE
Record, so the same fact gives the same event whichever format carries it.

Status -> canonical milestone (shared with the XFSU and ONE Record adapters, `STATUS_RULES`):

| code | meaning (IATA)                                          | milestone         | where            | classifier |
| ---- | ------------------------------------------------------- | ----------------- | ---------------- | ---------- |
| BKD  | booked on a flight                                      | DEPARTED          | departure airport| PLANNED    |
| FOH  | on hand, pending ready-for-carriage                     | GATE_IN           | status airport   | ACTUAL     |
| RCS  | received from shipper, ready for carriage               | GATE_IN           | status airport   | ACTUAL     |
| RCT  | received from another carrier                           | GATE_IN           | status airport   | ACTUAL     |
| DPU  | picked up at the shipper's door                         | PICKED_UP         | status airport   | ACTUAL     |
| PRE  | prepared (built up) for loading on a flight             | STUFFED           | departure airport| ACTUAL     |
| MAN  | manifested on a flight                                  | LOADED            | departure airport| ACTUAL     |
| DEP  | departed on a flight                                    | DEPARTED          | departure airport| ACTUAL     |
| TFD  | transferred to another carrier                          | GATE_OUT          | status airport   | ACTUAL     |
| ARR  | arrived on a flight                                     | ARRIVED           | arrival airport  | ACTUAL     |
| RCF  | received from a flight (in the warehouse)               | DISCHARGED        | arrival airport  | ACTUAL     |
| TGC  | transferred to customs/government control               | CUSTOMS_HOLD      | status airport   | ACTUAL     |
| CCD  | cleared by customs                                      | CUSTOMS_RELEASED  | status airport   | ACTUAL     |
| DLV  | delivered to the consignee or agent                     | DELIVERED         | status airport   | ACTUAL     |
| DDL  | delivered to the consignee's door                       | DELIVERED         | status airport   | ACTUAL     |
| NFD, AWD, AWR, TRM, DIS, CRC, DOC, FIW, FOW and unknown codes: no canonical milestone -> a Rejection       |

An `E` time on a status's own time makes its event ESTIMATED; BKD never reports an actual (a booking is a plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from schemas import Classifier, Milestone


@dataclass(frozen=True, slots=True)
class StatusRule:
    milestone: Milestone | None
    meaning: str
    at: Literal["status", "departure", "arrival"] = "status"
    planned: bool = False  # BKD: a booking reports a plan, never an actual


STATUS_RULES: dict[str, StatusRule] = {
    "BKD": StatusRule(Milestone.DEPARTED, "booked on a flight", "departure", planned=True),
    "FOH": StatusRule(Milestone.GATE_IN, "freight on hand, pending ready-for-carriage"),
    "RCS": StatusRule(Milestone.GATE_IN, "received from shipper, ready for carriage"),
    "RCT": StatusRule(Milestone.GATE_IN, "received from another carrier"),
    "DPU": StatusRule(Milestone.PICKED_UP, "picked up at the shipper's door"),
    "PRE": StatusRule(Milestone.STUFFED, "prepared for loading on a flight", "departure"),
    "MAN": StatusRule(Milestone.LOADED, "manifested on a flight", "departure"),
    "DEP": StatusRule(Milestone.DEPARTED, "departed on a flight", "departure"),
    "TFD": StatusRule(Milestone.GATE_OUT, "transferred to another carrier"),
    "ARR": StatusRule(Milestone.ARRIVED, "arrived on a flight", "arrival"),
    "RCF": StatusRule(Milestone.DISCHARGED, "received from a flight", "arrival"),
    "TGC": StatusRule(Milestone.CUSTOMS_HOLD, "transferred to customs/government control"),
    "CCD": StatusRule(Milestone.CUSTOMS_RELEASED, "cleared by customs"),
    "DLV": StatusRule(Milestone.DELIVERED, "delivered to the consignee or agent"),
    "DDL": StatusRule(Milestone.DELIVERED, "delivered to the consignee's door"),
    # Statuses with no canonical milestone (reported as rejections so nobody wonders where they went).
    "NFD": StatusRule(None, "consignee notified of arrival", "arrival"),
    "AWD": StatusRule(None, "arrival documents delivered to the consignee", "arrival"),
    "AWR": StatusRule(None, "arrival documents received from a flight", "arrival"),
    "TRM": StatusRule(None, "to be transferred to another carrier"),
    "DIS": StatusRule(None, "discrepancy"),
    "CRC": StatusRule(None, "reported to customs"),
    "DOC": StatusRule(None, "documents received by the handling party"),
    "FIW": StatusRule(None, "freight into warehouse", "arrival"),
    "FOW": StatusRule(None, "freight out of warehouse"),
}

TIME_TYPES: dict[str, Classifier] = {"A": Classifier.ACTUAL, "E": Classifier.ESTIMATED, "S": Classifier.PLANNED}


def status_classifier(rule: StatusRule, time_type: str | None) -> Classifier:
    """Classifier of the status's own event: E makes it an estimate; BKD is a plan; everything else happened."""
    if time_type == "E":
        return Classifier.ESTIMATED
    return Classifier.PLANNED if rule.planned else Classifier.ACTUAL


def flight_time_classifier(rule: StatusRule, time_type: str | None) -> Classifier:
    """Classifier of a departure/arrival time carried by a status line (A/E/S), never ACTUAL in a booking."""
    found = TIME_TYPES.get(time_type or "", Classifier.ACTUAL)
    return Classifier.PLANNED if rule.planned and found is Classifier.ACTUAL else found



def unmapped_reason(label: str, code: str) -> str:
    rule = STATUS_RULES.get(code)
    if rule is None:
        return f"{label}: unknown status code {code}"
    return f"{label}: status {code} ({rule.meaning}) has no canonical milestone; not tracked"
