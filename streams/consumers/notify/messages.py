"""What subscribers receive: one message per group of alerts, or a resolved notice; and the dead letter
written when a message could not be delivered. The body is built once, so every retry sends the same bytes
(and the same signature and idempotency key)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from streams.consumers.notify.grouping import PendingGroup, Ref

MessageKind = Literal["alerts", "resolved"]


@dataclass
class Message:
    sub_id: str
    kind: MessageKind
    unit: str
    idempotency_key: str
    body: bytes
    alert_ids: list[str]
    subject: str
    text: str
    detected_at: dict[str, str] = field(default_factory=dict)  # alert id -> detected_at, for the store
    refs: list[Ref] = field(default_factory=list)


def idempotency_key(sub_id: str, alert_ids: list[str], prefix: str = "") -> str:
    """`<alert_id>:<subscription>` for a single alert; a digest of the sorted ids for a group, so the same
    set of alerts always has the same key. Receivers that de-duplicate per alert use `alert_ids` in the body."""
    if len(alert_ids) == 1 and not prefix:
        return f"{alert_ids[0]}:{sub_id}"
    digest = hashlib.sha256("|".join(sorted(alert_ids)).encode()).hexdigest()[:24]
    return f"{prefix}{digest}:{sub_id}"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def alerts_message(group: PendingGroup, lane: str | None) -> Message:
    alerts = sorted(group.alerts, key=lambda a: (a.get("detected_at", ""), a["alert_id"]))
    ids = [a["alert_id"] for a in alerts]
    key = idempotency_key(group.sub_id, ids)
    worst = max((a.get("severity", "MINOR") for a in alerts), key=["MINOR", "MAJOR", "CRITICAL"].index)
    body = {
        "type": "corridor.delay-alerts",
        "subscription_id": group.sub_id,
        "idempotency_key": key,
        "created_at": _now(),
        "unit": alerts[0]["unit"],
        "lane": lane,
        "kind": group.kind,
        "severity": worst,
        "count": len(alerts),
        "alert_ids": ids,
        "alerts": alerts,
    }
    noun = "alert" if len(alerts) == 1 else "alerts"
    subject = f"[corridor] {worst} {group.kind}: {group.unit} ({len(alerts)} {noun})"
    text = "\n".join(
        [f"{len(alerts)} {group.kind} {noun} for {group.unit}" + (f" on {lane}" if lane else "") + ":", ""]
        + [f"- [{a.get('severity')}] {a.get('message', a['alert_id'])} (alert {a['alert_id']})" for a in alerts]
    )
    return Message(group.sub_id, "alerts", group.unit, key, orjson.dumps(body), ids, subject, text + "\n",
                   {a["alert_id"]: a.get("detected_at", "") for a in alerts}, list(group.refs))


def resolved_message(sub_id: str, unit: dict[str, Any] | str, reason: str, state: dict[str, Any],
                     alert_ids: list[str], refs: list[Ref] | None = None) -> Message:
    unit_id = unit if isinstance(unit, str) else unit["id"]
    key = idempotency_key(sub_id, alert_ids, prefix="resolved-")
    late = state.get("minutes_late")
    body = {
        "type": "corridor.delay-resolved",
        "subscription_id": sub_id,
        "idempotency_key": key,
        "created_at": _now(),
        "unit": unit if isinstance(unit, dict) else {"id": unit},
        "reason": reason,
        **state,
        "alert_ids": sorted(alert_ids),
    }
    what = "arrived" if reason == "ARRIVED" else "is back within tolerance"
    lateness = f"{late / 60:.1f} h late" if isinstance(late, int) else "lateness unknown"
    subject = f"[corridor] resolved: {unit_id} {what} ({lateness})"
    text = f"{unit_id} {what} ({lateness}). Closes alerts: {', '.join(sorted(alert_ids))}\n"
    return Message(sub_id, "resolved", unit_id, key, orjson.dumps(body), sorted(alert_ids), subject, text,
                   refs=list(refs or []))


class NotifyDeadLetter(BaseModel):
    """A message that kept failing, with its last error. Keyed by unit id on the notify dead-letter topic."""

    model_config = ConfigDict(frozen=True, title="NotifyDeadLetter")

    record: Literal["notify_dead_letter"] = "notify_dead_letter"
    subscription_id: str
    channel: Literal["webhook", "email"] | None
    target: str | None
    message_kind: MessageKind
    unit: str
    idempotency_key: str
    alert_ids: list[str]
    attempts: int
    last_error: str
    failed_at: datetime
    body: dict[str, Any] = Field(description="the message as it would have been sent")
