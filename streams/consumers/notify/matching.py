"""Which subscriptions an alert goes to. Alerts carry unit, kind and severity; lane and customer come from
the unit's plan and shipment refs from its events (read by `context.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.consumers.notify.subscriptions import Filters


@dataclass(frozen=True, slots=True)
class UnitContext:
    lane: str | None = None
    customer: str | None = None
    shipments: frozenset[str] = field(default_factory=frozenset)


def matches(f: Filters, alert: dict[str, Any], ctx: UnitContext) -> bool:
    unit = str(alert.get("unit", {}).get("id", "")).upper()
    if f.units and unit not in f.units:
        return False
    if f.kinds and alert.get("kind") not in f.kinds:
        return False
    if f.severities and alert.get("severity") not in f.severities:
        return False
    if f.lanes and (ctx.lane or "").upper() not in f.lanes:
        return False
    if f.customers and (ctx.customer or "").casefold() not in {c.casefold() for c in f.customers}:
        return False
    return not (f.shipments and not ctx.shipments & set(f.shipments))
