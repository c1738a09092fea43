"""The public topics: names, keys, schemas. Every topic is created up front (Tansu does not auto-create)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal[
    "plan", "event", "clock", "timeline", "alert", "eta", "dead_letter", "road_ping",
    "shipment_plan", "shipment_feed", "shipment_timeline", "shipment_alert", "shipment_eta",
    "conveyance",
    "boarding", "conveyance_feed",
]
UNIT_INPUTS: tuple[Role, ...] = ("plan", "event", "clock")
SHIPMENT_INPUTS: tuple[Role, ...] = ("shipment_plan", "shipment_feed", "clock")
OUTPUTS: tuple[Role, ...] = (
    "timeline", "alert", "eta", "dead_letter", "shipment_feed", "shipment_timeline", "shipment_alert", "shipment_eta",
)


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
    TopicSpec("shipment_plan", "shipment-plans", "shipment id", "shipment-plan.schema.json",
              "shipment plans: legs door to door (a later revision replaces)", "in"),
    TopicSpec("shipment_feed", "shipment-feed", "shipment id", "unit-report.schema.json",
              "a carrying unit's timeline and joins, forwarded to each shipment it carries", "internal"),
    TopicSpec("shipment_timeline", "shipment-timelines", "shipment id", "shipment-timeline.schema.json",
              "a shipment's timeline across its units after each change", "out"),
    TopicSpec("shipment_alert", "shipment-alerts", "shipment id", "shipment-alert.schema.json",
              "late delivery, overdue legs, hub dwell and customs holds, naming the unit and leg", "out"),
    TopicSpec("shipment_eta", "shipment-eta", "shipment id", "shipment-eta.schema.json",
              "door-to-door ETA updates naming the leg and unit that moved them", "out"),
    # Conveyance events (vessel, train, flight, truck trip at a call): written by ingest, keyed by the normalised
    # conveyance id so every feed about one conveyance lands on one partition, for the conveyance job to join.
    TopicSpec("conveyance", "conveyances", "conveyance id", "conveyance-event.schema.json",
              "vessel, train, flight and truck-trip departures, arrivals and omitted calls (PLN/EST/ACT)", "in"),
    # The conveyance job (docs/design/conveyances.md): boardings and conveyance events meet keyed by ride; what a
    # ride's units hear goes back to the unit job, one record per unit partition listing the units.
    TopicSpec("boarding", "boardings", "ride", "(internal)",
              "who boards or leaves a ride (plans, unit events, loading lists) and conveyance events, by ride",
              "internal"),
    TopicSpec("conveyance_feed", "conveyance-feed", "ride#n (lands on the partition of the units it lists)",
              "(internal)", "a conveyance event for the units aboard, one record per unit partition", "internal"),
)
CONVEYANCE_INPUTS: tuple[Role, ...] = ("conveyance", "boarding")
RAW_SUFFIX = "raw."  # corridor.raw.<format>: messages as carriers send them, one topic per format
# The feed formats a raw topic exists for: each is an adapter of streams/feeds/registry.py, in its detection order
# (tests/unit/feeds/test_registry.py holds the two lists equal). Named here because the topics are part of the
# contract producers write to, and the contracts import nothing from the code that implements them.
RAW_FORMATS: tuple[str, ...] = (
    "edifact", "iata-fsu", "iata-ffm", "iata-xfsu", "iata-one-record", "dcsa-tnt-3.0", "dcsa-tnt-2.2", "epcis-2.0",
    "rail-events", "road-pings",
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
        """What the unit tracking job consumes."""
        return [self.name(r) for r in UNIT_INPUTS]

    @property
    def shipment_inputs(self) -> list[str]:
        """What the shipment job consumes (clock ticks drive both jobs)."""
        return [self.name(r) for r in SHIPMENT_INPUTS]

    @property
    def conveyance_inputs(self) -> list[str]:
        """What the conveyance job consumes."""
        return [self.name(r) for r in CONVEYANCE_INPUTS]

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
        return [self.raw(f) for f in RAW_FORMATS]

    @property
    def all(self) -> list[str]:
        """Every topic corridor reads or writes; all are created up front."""
        return [*(self.name(s.role) for s in SPECS), *self.raw_topics]

    def role_of(self, topic: str) -> Role | None:
        for s in SPECS:
            if self.name(s.role) == topic:
                return s.role
        return None


# Production configuration of each topic (deploy/topics.md; the AsyncAPI document's Kafka bindings): cleanup
# policy and retention (None: compacted, kept forever). Inputs that replay a journey keep it for 90 days.
_DAY_MS = 86_400_000
TOPIC_CONFIG: dict[Role, tuple[Literal["compact", "delete"], int | None]] = {
    "plan": ("compact", None), "event": ("delete", 90 * _DAY_MS), "clock": ("delete", 7 * _DAY_MS),
    "timeline": ("compact", None), "alert": ("delete", 90 * _DAY_MS), "eta": ("delete", 90 * _DAY_MS),
    "dead_letter": ("delete", 30 * _DAY_MS), "road_ping": ("delete", 7 * _DAY_MS),
    "shipment_plan": ("compact", None), "shipment_feed": ("delete", 90 * _DAY_MS),
    "shipment_timeline": ("compact", None), "shipment_alert": ("delete", 90 * _DAY_MS),
    "shipment_eta": ("delete", 90 * _DAY_MS), "conveyance": ("delete", 90 * _DAY_MS),
    "boarding": ("delete", 90 * _DAY_MS), "conveyance_feed": ("delete", 7 * _DAY_MS),
}
RAW_CONFIG: tuple[Literal["delete"], int] = ("delete", 30 * _DAY_MS)  # the re-ingest window
