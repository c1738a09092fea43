"""Shipment flows on the seed corridors: shipments (bookings, air waybills) followed across the units they ride in,
with ground truth. Pure and deterministic like `scenario.py`, whose trips (and so disruptions) it shares.

Three flows, `per_flow` instances of each:

- **consolidation** (ASEAN Express + CR Express): ASEAN bookings leave Hanoi in containers (1-3 shipments each,
  LCL), by road to Pingxiang and rail to Chongqing. There they are stripped and, after the hub dwell, stuffed
  with local Chongqing bookings into CR Express containers to Duisburg, where the containers are stripped (after
  a customs hold, sometimes) and each shipment goes on a truck to its consignee. Flows "asean-consolidation"
  and "chongqing-local". A hub backlog at Chongqing (abnormal dwell) or a late feeder makes the wave miss its
  train; the CR Express containers are then re-planned onto the next one.
- **air**: air waybills received in Hong Kong, built into ULDs, flown to Liège, broken down, sometimes held by
  customs, and trucked to Madrid on the daily line-haul.
- **air-split**: one air waybill whose pieces are split: some fly in a ULD on the booked flight, the rest are
  offloaded and fly on the next flight (56 h later) in another ULD; both parts go to Madrid on one truck or two.

How the records name the joins (what the shipment core learns from): cargo into a unit is a STUFFED event of
that unit naming the shipment and its pieces, cargo out of it a STRIPPED event; an air waybill's own statuses
(FSU RCS, MAN, DEP, ARR, RCF, TGC, CCD) are events whose unit is the air waybill; the door delivery is the
last truck's DELIVERED, followed by its STRIPPED. Units that end at a hub (feeder containers, CR Express
containers, ULDs) have plans without a promised delivery and no DELIVERED event.

The flows are in `consolidation.py` and `air_cargo.py`, on what they share in `cargo.py`; this module runs them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import Plan, ShipmentKind, ShipmentPlan, TrackingEvent
from streams.sim.air_cargo import AirFlow
from streams.sim.cargo import Cargo
from streams.sim.consolidation import ConsolidationFlow
from streams.sim.trips import SimRecord

FLOWS = ("consolidation", "air", "air-split")


@dataclass(frozen=True)
class ShipmentOutcome:
    """What really happened to one shipment: ground truth for the shipment tracker's tests."""

    shipment: str
    kind: ShipmentKind
    flow: str  # "asean-consolidation", "chongqing-local", "air", "air-split"
    lane: str
    pieces: int
    planned_delivery: datetime  # the shipment plan's last leg, planned arrival
    promised_delivery: datetime
    delivered: datetime  # the (last) door delivery
    units: tuple[str, ...]  # every unit the cargo rode in, in the order it was put in them
    disruptions: tuple[str, ...]  # e.g. "hub-backlog@CNCKG", "missed-departure@CNCKG", "customs-hold@DEDUI"

    @property
    def on_time(self) -> bool:
        return self.delivered <= self.promised_delivery

    @property
    def delay(self) -> timedelta:
        return self.delivered - self.planned_delivery


@dataclass(frozen=True)
class ShipmentScenario:
    seed: int
    start: datetime
    records: list[SimRecord]  # sorted by published_at (plans first at one instant); no clock ticks
    outcomes: list[ShipmentOutcome]

    @property
    def shipment_plans(self) -> list[ShipmentPlan]:
        return [r.record for r in self.records if isinstance(r.record, ShipmentPlan)]

    @property
    def plans(self) -> list[Plan]:
        return [r.record for r in self.records if isinstance(r.record, Plan)]

    @property
    def events(self) -> list[TrackingEvent]:
        return [r.record for r in self.records if isinstance(r.record, TrackingEvent)]


class _Flows(ConsolidationFlow, AirFlow):
    """Every flow, on one set of records and ids (so no unit id is drawn twice)."""


def _outcomes(cargo: list[Cargo]) -> list[ShipmentOutcome]:
    out = []
    for c in cargo:
        assert c.plan is not None and c.plan.promised_delivery is not None and c.delivered
        out.append(
            ShipmentOutcome(
                shipment=c.ref.id,
                kind=c.ref.kind,
                flow=c.flow,
                lane=c.lane,
                pieces=c.pieces,
                planned_delivery=c.plan.legs[-1].planned_arrival,
                promised_delivery=c.plan.promised_delivery,
                delivered=max(c.delivered),
                units=tuple(sorted(c.loaded, key=c.loaded.__getitem__)),
                disruptions=tuple(c.tags),
            )
        )
    return out


def generate_shipments(
    seed: int,
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC),
    per_flow: int = 2,
    *,
    flows: Sequence[str] = FLOWS,
    avoid: Collection[str] = (),
) -> ShipmentScenario:
    """Shipment plans, and the plans and events of every unit the shipments ride in, for `per_flow` instances
    of each flow in `flows` (a consolidation wave, an air flight's air waybills, a split air waybill).

    `avoid`: unit ids already used (by `generate()`'s corridor units), never reused here. No clock ticks."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    if per_flow < 0 or not set(flows) <= set(FLOWS):
        raise ValueError(f"per_flow must not be negative and flows among {FLOWS}")
    start = start.astimezone(UTC)
    gen = _Flows(seed, start, avoid)
    for flow in FLOWS:
        if flow in flows:
            for w in range(per_flow):
                {"consolidation": gen.consolidation, "air": gen.air, "air-split": gen.air_split}[flow](w)
    records = [*gen.records, *(r for em in gen.emitters for r in em.records)]
    records.sort(key=lambda r: (r.published_at, 0 if r.record.record in ("plan", "shipment_plan") else 1))
    return ShipmentScenario(seed=seed, start=start, records=records, outcomes=_outcomes(gen.cargo))
