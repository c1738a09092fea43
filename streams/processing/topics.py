"""The public topics: names, keys, schemas. Every topic is created up front (Tansu does not auto-create)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["plan", "event", "clock", "timeline", "alert", "eta", "dead_letter", "road_ping"]
OUTPUTS: tuple[Role, ...] = ("timeline", "alert", "eta", "dead_letter")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    role: Role
    suffix: str
    key: str
    schema: str  # file in schemas/json/
    description: str
    direction: Literal["in", "out", "internal"]


SPECS: tuple[TopicSpec, ...] = (
    TopicSpec("plan", "plans", "unit id", "plan.schema.json", "unit itineraries (a later revision replaces)", "in"),
    TopicSpec("event", "events", "unit id", "tracking-event.schema.json", "canonical tracking events", "in"),
    TopicSpec("clock", "clock", "none (one tick per partition)", "clock-tick.schema.json",
              "event-time watermark ticks, broadcast to every partition", "in"),
    TopicSpec("timeline", "timelines", "unit id", "timeline.schema.json",
              "a unit's timeline after each change (compact in production)", "out"),
    TopicSpec("alert", "alerts", "unit id", "delay-alert.schema.json", "late and overdue milestones", "out"),
    TopicSpec("eta", "eta", "unit id", "eta-update.schema.json", "ETA updates when a prediction moves", "out"),
    TopicSpec("dead_letter", "dead-letters", "original key", "dead-letter.schema.json",
              "rejected input: reason and original bytes", "out"),
    TopicSpec("road_ping", "road-pings", "vehicle", "(internal)",
              "truck position pings re-keyed by vehicle for the geofence state", "internal"),
)
RAW_SUFFIX = "raw."  # corridor.raw.<format>: messages as carriers send them, one topic per format


@dataclass(frozen=True, slots=True)
class TopicNames:
    prefix: str = "corridor."

    def name(self, role: Role) -> str:
        for s in SPECS:
            if s.role == role:
                return self.prefix + s.suffix
        raise KeyError(f"no topic has the role {role!r}")

    @property
    def inputs(self) -> list[str]:
        """What the tracking job consumes."""
        return [self.name(s.role) for s in SPECS if s.direction == "in"]

    @property
    def outputs(self) -> list[str]:
        return [self.name(r) for r in OUTPUTS]

    def raw(self, fmt: str) -> str:
        return f"{self.prefix}{RAW_SUFFIX}{fmt}"

    def format_of(self, topic: str) -> str | None:
        head = self.prefix + RAW_SUFFIX
        return topic[len(head):] if topic.startswith(head) else None

    @property
    def raw_topics(self) -> list[str]:
        from streams.feeds.registry import FORMATS  # the formats decide the raw topics

        return [self.raw(f) for f in FORMATS]

    @property
    def all(self) -> list[str]:
        """Every topic corridor reads or writes; all are created up front."""
        return [*(self.name(s.role) for s in SPECS), *self.raw_topics]

    def role_of(self, topic: str) -> Role | None:
        for s in SPECS:
            if self.name(s.role) == topic:
                return s.role
        return None
