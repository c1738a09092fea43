"""A shipment's tracking state (the value of the `shipments` table), encoded as one orjson array."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from schemas import ShipmentKind, ShipmentPlan, ShipmentRef

VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _t(dt: datetime | None) -> int | None:
    return None if dt is None else (dt - _EPOCH) // _US


def _d(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


@lru_cache(maxsize=4096)  # a plan is re-read on every report for its shipment; validate it once
def _plan(raw: bytes) -> ShipmentPlan:
    return ShipmentPlan.model_validate_json(raw)


@dataclass(slots=True)
class ShipmentState:
    ref: ShipmentRef | None = None
    plan_json: bytes | None = None  # the plan as received (validated on the way in)
    # unit id -> {"kind": unit kind, "links": [...], "own": bool, "tl": the unit's latest timeline}
    rides: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerted: list[str] = field(default_factory=list)
    eta: datetime | None = None
    eta_done: bool = False  # the "delivered" ETA update was emitted
    digest: str | None = None
    next_due: datetime | None = None
    eta_band: tuple[datetime, datetime] | None = None  # (p10, p90) of the door delivery as last published

    @property
    def plan(self) -> ShipmentPlan | None:
        return None if self.plan_json is None else _plan(self.plan_json)

    def encode(self) -> bytes:
        ref = [self.ref.kind.value, self.ref.id] if self.ref else None
        plan = self.plan_json.decode() if self.plan_json is not None else None
        band = [_t(self.eta_band[0]), _t(self.eta_band[1])] if self.eta_band else None
        tail = [band] if band else []  # added later: a state without a band reads as before
        return orjson.dumps([VERSION, ref, plan, self.rides, self.alerted, _t(self.eta), int(self.eta_done),
                             self.digest, _t(self.next_due), *tail])  # fmt: skip

    @classmethod
    def decode(cls, data: bytes) -> ShipmentState:
        version, ref, plan, rides, alerted, eta, done, digest, due, *tail = orjson.loads(data)
        if version != VERSION:
            raise ValueError(f"shipment state version {version} is not {VERSION}")
        return cls(
            ref=ShipmentRef.model_construct(kind=ShipmentKind(ref[0]), id=ref[1]) if ref else None,
            plan_json=plan.encode() if plan is not None else None,
            rides=rides,
            alerted=alerted,
            eta=_d(eta),
            eta_done=bool(done),
            digest=digest,
            next_due=_d(due),
            eta_band=(_d(tail[0][0]), _d(tail[0][1])) if tail and tail[0] else None,  # type: ignore[arg-type]
        )
