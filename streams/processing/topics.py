"""The public topics: names, keys, schemas. Every topic is created up front (Tansu does not auto-create)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["plan", "event", "clock", "timeline", "alert", "eta", "dead_letter"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    role: Role
    suffix: str
    key: str
    schema: str  # file in schemas/json/
    description: str
    direction: Literal["in", "out"]


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
)


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
        return [self.name(s.role) for s in SPECS if s.direction == "in"]

    @property
    def all(self) -> list[str]:
        return [self.name(s.role) for s in SPECS]

    def role_of(self, topic: str) -> Role | None:
        for s in SPECS:
            if self.name(s.role) == topic:
                return s.role
        return None
