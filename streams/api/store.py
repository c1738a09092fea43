"""What one worker knows, for the API: the `units` and `clock` tables of the tracking job, the shipment job's
tables, and the API's own index of published alerts and ETA updates (streams/api/index.py, the `api-index` agent).

The index tables are keyed by unit id and written while consuming partition p of
corridor.alerts / corridor.eta, which are keyed by unit id like every input: partition p of all of them is
assigned to the same worker (Faust co-partitions topics with the same partition count), so a unit's state,
alerts and ETA history are always on one worker, the one `units` routing sends its requests to. Like the
tracking job's tables they are RocksDB tables with changelog topics: a restarted or moved worker rebuilds them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import faust
import orjson

from schemas import ShipmentRef, ShipmentTimeline, TrackedUnit
from schemas.partitioning import partition_for
from streams.api import at_risk
from streams.api import shipments as shipment_rules
from streams.api.places import place
from streams.api.units import (
    UnitFacts,
    facts_of,
    hub_relation,
    split_alerts,
    summary,
    view_of,
)
from streams.core.policy import TrackingPolicy
from streams.core.schedule import PartitionClock
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.shipments.state import ShipmentState
from streams.core.shipments.tracker import view_of as shipment_view_of
from streams.core.state import UnitState

log = logging.getLogger(__name__)


Sees = Callable[[str | None], bool]  # the tenant's test: is data of this customer theirs (Tenant.sees)


def _everyone(customer: str | None) -> bool:
    return True


class NotFound(LookupError):
    """A well-formed reference that names nothing here (HTTP 404)."""



# -- reading ----------------------------------------------------------------------------------------------


@dataclass
class ShipmentTables:
    """The shipment job's tables (`shipments`, `shipment_clock`), the API's shipment index, the job's policy and
    its in-memory watermarks."""

    shipments: Any
    clock: Any
    alerts: Any
    etas: Any
    policy: ShipmentPolicy
    fine_watermarks: dict[int, datetime] | None = None
    views: dict[bytes, tuple[bytes, ShipmentTimeline]] = field(default_factory=dict)  # by key: (raw state, view)


class LocalStore:
    """Reads this worker's share of the tables. Every method answers for local partitions only."""

    def __init__(self, app: faust.App, units: Any, clock: Any, alerts: Any, etas: Any, partitions: int,
                 policy: TrackingPolicy, fine_watermarks: dict[int, datetime] | None = None,
                 shipments: ShipmentTables | None = None) -> None:  # fmt: skip
        self.ship = shipments
        self.app = app
        self.units, self.clock, self.alerts, self.etas = units, clock, alerts, etas
        self.partitions = partitions
        self.policy = policy
        # The engine's in-memory watermarks, when it keeps them (the clock table then holds the watermark only as
        # of the hour bucket it entered): read together they give the watermark the engine derives with.
        self.fine_watermarks = fine_watermarks
        # by key: (raw state, watermark, facts derived from them)
        self._facts: dict[bytes, tuple[bytes, datetime | None, UnitFacts]] = {}

    @property
    def units_changelog(self) -> str:
        return self.units.changelog_topic.get_topic_name()

    def local_partitions(self) -> set[int]:
        """Partitions of the units table this worker is active for (standbys are not served)."""
        topic = self.units_changelog
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def partition_of(self, unit_id: str) -> int:
        return partition_for(unit_id.encode(), self.partitions)

    def watermark(self, partition: int) -> datetime | None:
        if self.fine_watermarks is None:
            return PartitionClock(self.clock, partition).watermark
        return PartitionClock(self.clock, partition, self.fine_watermarks).watermark

    # -- one unit --------------------------------------------------------------------------------------

    def unit_detail(self, unit: TrackedUnit, sees: Sees = _everyone) -> dict[str, Any]:
        """The UnitDetail body (plain data) for a unit on a local partition, or NotFound. A unit whose plan names
        a customer the tenant does not see is NotFound with the very message of an unknown one (no leak)."""
        key = unit.id.encode()
        raw = self.units.get(key)
        unknown = NotFound(f"no {unit.kind.value.lower()} {unit.id} is tracked: no plan or event has been "
                           "received for it")
        if not raw:
            raise unknown
        state = UnitState.decode(raw)
        if state.unit is None or not sees(state.plan.customer if state.plan is not None else None):
            raise unknown
        partition = self.partition_of(unit.id)
        watermark = self.watermark(partition)
        view = view_of(state, watermark, self.policy)
        facts = facts_of(state, view, self.policy)
        alerts = self._list(self.alerts, key)
        opened, closed = split_alerts(alerts, facts)
        history = self._list(self.etas, key)
        plan = _plan_data(state)
        codes = [*(code for leg in (plan or {}).get("legs", []) for code in (leg["origin"], leg["destination"])),
                 *(e.location for e in state.events.values())]
        return {
            "unit": {"kind": state.unit.kind.value, "id": state.unit.id},
            "partition": partition,
            "watermark": watermark,
            "timeline": view.timeline,
            "plan": plan,
            "eta": {"current": history[-1] if history else None, "history": history},
            "open_alerts": opened,
            "closed_alerts": [{"alert": a, "closed_because": why} for a, why in closed],
            "places": [p for p in map(place, dict.fromkeys(codes)) if p is not None],
        }

    # -- one shipment ----------------------------------------------------------------------------------

    def shipment_partitions(self) -> set[int]:
        """Partitions of the shipments table this worker is active for."""
        if self.ship is None:
            return set()
        topic = self.ship.shipments.changelog_topic.get_topic_name()
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def shipment_watermark(self, partition: int) -> datetime | None:
        assert self.ship is not None
        return PartitionClock(self.ship.clock, partition, self.ship.fine_watermarks).watermark

    def shipment_detail(self, ref: ShipmentRef, kind_given: bool = True, sees: Sees = _everyone) -> dict[str, Any]:
        """The ShipmentDetail body (plain data) for a shipment on a local partition, or NotFound. Without
        `kind_given` the reference's kind is a guess and the stored one is answered."""
        what = ref.kind.value.lower().replace("_", " ") if kind_given else "shipment"
        if self.ship is None:
            raise NotFound("shipment tracking is not running on this worker")
        key = ref.id.encode()
        raw = self.ship.shipments.get(key)
        state = ShipmentState.decode(raw) if raw else None
        if state is None or state.ref is None or not sees(state.plan.customer if state.plan is not None else None):
            raise NotFound(f"no {what} {ref.id} is tracked: no shipment plan or unit report has named it")
        if kind_given and state.ref.kind is not ref.kind:
            stored = state.ref.kind.value.lower().replace("_", " ")
            article = "an" if stored[0] in "aeiou" else "a"
            raise NotFound(f"no {what} {ref.id} is tracked ({ref.id} is tracked as {article} {stored})")
        partition = self.partition_of(ref.id)
        watermark = self.shipment_watermark(partition)
        view = shipment_view_of(state, watermark, self.ship.policy)
        timeline = view.timeline
        alerts = self._list(self.ship.alerts, key)
        opened, closed = shipment_rules.split_alerts(alerts, timeline, self.ship.policy)
        history = self._list(self.ship.etas, key)
        plan = state.plan
        routes = shipment_rules.part_routes(timeline, plan, state.rides)
        codes = [*(code for leg in (plan.legs if plan else []) for code in (leg.origin, leg.destination)),
                 *(code for r in routes for code in r["stops"]), *(e.location for e in timeline.events),
                 *(h.location for h in timeline.hubs)]
        return {
            "shipment": {"kind": state.ref.kind.value, "id": state.ref.id},
            "partition": partition,
            "watermark": watermark,
            "timeline": timeline,
            "plan": plan,
            "eta": {"current": history[-1] if history else None, "history": history},
            "open_alerts": opened,
            "closed_alerts": [{"alert": a, "closed_because": why} for a, why in closed],
            "routes": routes,
            "places": [p for p in map(place, dict.fromkeys(codes)) if p is not None],
        }

    def shipment_timeline(self, key: bytes, raw: bytes) -> ShipmentTimeline | None:
        """A shipment's timeline now, re-derived only when its stored state changed."""
        assert self.ship is not None
        hit = self.ship.views.get(key)
        if hit is not None and hit[0] == raw:
            return hit[1]
        try:
            state = ShipmentState.decode(raw)
            if state.ref is None:
                return None
            watermark = self.shipment_watermark(self.partition_of(state.ref.id))
            timeline = shipment_view_of(state, watermark, self.ship.policy).timeline
        except Exception:  # one bad state must not break every list
            log.exception("api: cannot derive the shipment state of %r", key)
            return None
        self.ship.views[key] = (raw, timeline)
        return timeline

    def _shipments_with_alerts(self, sees: Sees = _everyone) -> Iterator[tuple[ShipmentTimeline, list, list]]:
        """Every local shipment that has alerts: its timeline now, its open alerts and its closed ones with why
        (`streams.api.shipments.split_alerts`)."""
        if self.ship is None:
            return
        local, policy = self.shipment_partitions(), self.ship.policy
        for key, raw_alerts in self.ship.alerts.items():
            if not raw_alerts or partition_for(key, self.partitions) not in local:
                continue
            raw = self.ship.shipments.get(key)
            timeline = self.shipment_timeline(key, raw) if raw else None
            if timeline is not None and sees(timeline.customer):
                yield timeline, *shipment_rules.split_alerts(orjson.loads(raw_alerts), timeline, policy)

    def shipment_alerts_list(self, open_: bool, severities: frozenset[str] | None, sees: Sees = _everyone
                             ) -> list[dict[str, Any]]:  # fmt: skip
        out: list[dict[str, Any]] = []
        for _, opened, closed in self._shipments_with_alerts(sees):
            chosen = opened if open_ else [a for a, _ in closed]
            out += [a for a in chosen if severities is None or a["severity"] in severities]
        return out

    def delayed_shipments(self, sees: Sees = _everyone) -> list[dict[str, Any]]:
        """Local shipments with open alerts, as rows of the delayed-shipments list."""
        return [shipment_rules.summary(timeline, opened) for timeline, opened, _ in self._shipments_with_alerts(sees)
                if opened]  # fmt: skip

    # -- lists -----------------------------------------------------------------------------------------

    def _list(self, table: Any, key: bytes) -> list[dict[str, Any]]:
        raw = table.get(key)
        return orjson.loads(raw) if raw else []

    def facts(self, key: bytes, raw: bytes) -> UnitFacts | None:
        """Facts of a unit, re-derived only when its stored state or its partition's watermark changed (time
        passing changes facts without changing the state: a unit becomes overdue, or bound for its next stop)."""
        watermark = self.watermark(partition_for(key, self.partitions))
        hit = self._facts.get(key)
        if hit is not None and hit[0] == raw and hit[1] == watermark:
            return hit[2]
        try:
            state = UnitState.decode(raw)
            if state.unit is None:
                return None
            view = view_of(state, watermark, self.policy)
            facts = facts_of(state, view, self.policy)
        except Exception:  # one bad state must not break every list
            log.exception("api: cannot derive the state of %r", key)
            return None
        self._facts[key] = (raw, watermark, facts)
        return facts

    def _local_items(self, table: Any) -> Iterator[tuple[bytes, bytes]]:
        local = self.local_partitions()
        for key, raw in table.items():
            if raw and partition_for(key, self.partitions) in local:
                yield key, raw

    def alerts_with_facts(self, sees: Sees = _everyone) -> Iterator[tuple[UnitFacts, list[dict[str, Any]]]]:
        """Every local unit of the tenant's that has alerts, with its facts and its alerts."""
        for key, raw_alerts in self._local_items(self.alerts):
            raw = self.units.get(key)
            facts = self.facts(key, raw) if raw else None
            if facts is not None and sees(facts.customer):
                yield facts, orjson.loads(raw_alerts)

    def alerts_list(self, open_: bool, severities: frozenset[str] | None, sees: Sees = _everyone
                    ) -> list[dict[str, Any]]:  # fmt: skip
        out: list[dict[str, Any]] = []
        for facts, alerts in self.alerts_with_facts(sees):
            opened, closed = split_alerts(alerts, facts)
            chosen = opened if open_ else [a for a, _ in closed]
            out += [a for a in chosen if severities is None or a["severity"] in severities]
        return out

    def delayed(self, sees: Sees = _everyone) -> list[dict[str, Any]]:
        rows = []
        for facts, alerts in self.alerts_with_facts(sees):
            opened, _ = split_alerts(alerts, facts)
            if opened:
                rows.append(summary(facts, opened))
        return rows

    def at_risk(self, sees: Sees = _everyone) -> list[dict[str, Any]]:
        """Local units and shipments predicted to miss their plan or promise beyond tolerance (`at_risk.py`)."""
        rows = []
        for key, raw in self._local_items(self.units):
            facts = self.facts(key, raw)
            if facts is not None and sees(facts.customer):
                row = at_risk.unit_row(facts, self.policy)
                if row is not None:
                    rows.append(row)
        if self.ship is not None:
            local = self.shipment_partitions()
            for key, raw in self.ship.shipments.items():
                if not raw or partition_for(key, self.partitions) not in local:
                    continue
                tl = self.shipment_timeline(key, raw)
                if tl is not None and sees(tl.customer):
                    row = at_risk.shipment_row(tl, self.ship.policy)
                    if row is not None:
                        rows.append(row)
        return rows

    def hub(self, hub: str, sees: Sees = _everyone) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        at: list[dict[str, Any]] = []
        bound: list[dict[str, Any]] = []
        seen: set[bytes] = set()
        for key, raw in self._local_items(self.units):
            seen.add(key)
            facts = self.facts(key, raw)
            if facts is None or not sees(facts.customer):
                continue
            rel = hub_relation(facts, hub)
            if rel is None:
                continue
            opened, _ = split_alerts(self._list(self.alerts, key), facts)
            row = summary(facts, opened)
            if rel[0] == "at":
                at.append(row)
            else:
                bound.append({**row, **rel[1]})
        for gone in self._facts.keys() - seen:  # units that moved to another worker
            del self._facts[gone]
        return at, bound


def _plan_data(state: UnitState) -> dict[str, Any] | None:
    """The plan in force, in the shape of the corridor.plans record (schemas.Plan)."""
    p = state.plan
    if p is None:
        return None
    return {
        "record": "plan", "unit": {"kind": p.unit.kind.value, "id": p.unit.id}, "revision": p.revision,
        "issued_time": p.issued_time, "lane": p.lane, "customer": p.customer,
        "legs": [{"mode": g.mode.value, "carrier": g.carrier, "origin": g.origin, "destination": g.destination,
                  "planned_departure": g.planned_departure, "planned_arrival": g.planned_arrival,
                  "reference": g.reference} for g in p.legs],
        "promised_delivery": p.promised_delivery,
    }
