"""Noise control: the alerts for one subscriber, unit and cause (the alert kind: LATE or OVERDUE) that come
within `window` seconds of the first go out as one message. Pure: the caller passes the time in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

Ref = tuple[TopicPartition, int]  # the Kafka record an alert came from, released when its message is done
GroupKey = tuple[str, str, str]  # (subscription id, unit id, alert kind)


@dataclass
class PendingGroup:
    sub_id: str
    unit: str
    kind: str
    opened: float
    alerts: list[dict[str, Any]] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)

    @property
    def alert_ids(self) -> list[str]:
        return [a["alert_id"] for a in self.alerts]


class Grouper:
    def __init__(self, window: float) -> None:
        self.window = max(0.0, window)
        self._open: dict[GroupKey, PendingGroup] = {}

    def add(self, sub_id: str, alert: dict[str, Any], ref: Ref | None, now: float) -> None:
        unit, kind = alert["unit"]["id"], alert["kind"]
        group = self._open.get((sub_id, unit, kind))
        if group is None:
            group = self._open[(sub_id, unit, kind)] = PendingGroup(sub_id, unit, kind, now)
        if alert["alert_id"] not in group.alert_ids:
            group.alerts.append(alert)
        if ref is not None:
            group.refs.append(ref)

    def due(self, now: float) -> list[PendingGroup]:
        """Groups whose window has closed, oldest first, removed from the grouper."""
        keys = [k for k, g in self._open.items() if now - g.opened >= self.window]
        return [self._open.pop(k) for k in sorted(keys, key=lambda k: self._open[k].opened)]

    def drain(self) -> list[PendingGroup]:
        groups, self._open = list(self._open.values()), {}
        return groups

    def __len__(self) -> int:
        return len(self._open)
