"""The canonical order of a history: when each record became known to corridor, then a stable tie-break.

Replay, the backtest and the publishers that stamp records (`streams/io/kafka.py`) all order by it, so a replay
of a recorded feed sees what the live run saw, in the same order (docs/design/ordering-and-time.md)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from schemas import ClockTick, Plan, ShipmentPlan, TrackingEvent
from schemas.conveyances import ConveyanceEvent
from streams.core.conveyance import Boarding

Record = Plan | TrackingEvent | ClockTick | ShipmentPlan | ConveyanceEvent | Boarding
_RANK = {ShipmentPlan: 0, Plan: 0, Boarding: 0, TrackingEvent: 1, ConveyanceEvent: 1, ClockTick: 2}


def known_at(record: Record) -> datetime:
    if isinstance(record, Plan | ShipmentPlan):
        return record.issued_time
    if isinstance(record, TrackingEvent | ConveyanceEvent):
        return record.received_time
    if isinstance(record, Boarding):
        return record.as_of
    return record.time


def canonical_order(records: Iterable[Record]) -> list[Record]:
    def key(r: Record) -> tuple:
        ident = (r.event_id if isinstance(r, TrackingEvent | ConveyanceEvent) else r.unit.id if isinstance(r, Plan)
                 else r.shipment.id if isinstance(r, ShipmentPlan)
                 else f"{r.ride}|{r.unit.id}" if isinstance(r, Boarding) else "")  # fmt: skip
        return (known_at(r), _RANK[type(r)], ident, r.model_dump_json())

    return sorted(records, key=key)
