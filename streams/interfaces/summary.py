"""The demo's closing figures, computed from the output topics as a consumer would see them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def _t(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


@dataclass
class EtaAccuracy:
    units: int  # arrived units with a prediction before the horizon
    corridor_mae_h: float
    schedule_mae_h: float
    carrier_mae_h: float | None


def latest_timelines(timelines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in timelines:
        out[t["unit"]["id"]] = t
    return out


def actual_journey(timeline: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """(actual first departure, actual final arrival), if the unit has arrived."""
    ms = timeline.get("milestones") or []
    arrivals = [m for m in ms if m["kind"] == "ARRIVAL"]
    departures = [m for m in ms if m["kind"] == "DEPARTURE" and m["actual"]]
    if not arrivals or not arrivals[-1]["actual"] or not departures:
        return None
    return _t(departures[0]["actual"]), _t(arrivals[-1]["actual"])  # type: ignore[return-value]


def eta_accuracy(
    timelines: dict[str, dict[str, Any]], etas: list[dict[str, Any]], fraction: float = 0.5
) -> EtaAccuracy | None:
    """Mean absolute error of the final-destination ETA known at `fraction` of each journey (by actual
    time), for corridor's prediction, the plan's schedule, and the carrier's latest estimate."""
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for e in etas:
        by_unit.setdefault(e["unit"]["id"], []).append(e)
    errs_c, errs_s, errs_k = [], [], []
    for unit, tl in timelines.items():
        journey = actual_journey(tl)
        if journey is None:
            continue
        dep, arr = journey
        horizon = dep + (arr - dep) * fraction
        known = [e for e in by_unit.get(unit, []) if _t(e["as_of"]) <= horizon]  # type: ignore[operator]
        if not known:
            continue
        last = max(known, key=lambda e: _t(e["as_of"]))  # type: ignore[arg-type, return-value]
        errs_c.append(abs((_t(last["predicted_arrival"]) - arr).total_seconds()) / 3600)  # type: ignore[operator]
        errs_s.append(abs((_t(last["planned_arrival"]) - arr).total_seconds()) / 3600)  # type: ignore[operator]
        carrier = _t(last.get("carrier_estimate"))
        errs_k.append(abs(((carrier or _t(last["planned_arrival"])) - arr).total_seconds()) / 3600)  # type: ignore[operator]
    if not errs_c:
        return None
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return EtaAccuracy(len(errs_c), mean(errs_c), mean(errs_s), mean(errs_k))


@dataclass
class Summary:
    units: int
    arrived: int
    alerts: int
    alerts_by: Counter
    late_units: int
    eta_updates: int
    dead_letters: int
    accuracy: EtaAccuracy | None
    events_published: int
    shipments: int = 0
    shipments_delivered: int = 0
    shipment_alerts_by: Counter = field(default_factory=Counter)
    most_delayed_shipment: str | None = None

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.alerts_by.items())) or "none"
        out = [
            f"units tracked:      {self.units} ({self.arrived} arrived at destination)",
            f"events published:   {self.events_published}",
            f"alerts raised:      {self.alerts} ({kinds}); units with an alert: {self.late_units}",
            f"ETA updates:        {self.eta_updates}",
            f"dead letters:       {self.dead_letters}",
        ]
        a = self.accuracy
        if a:
            out.append(
                f"ETA error at mid-journey ({a.units} arrived units, mean absolute): "
                f"corridor {a.corridor_mae_h:.1f} h, carrier estimate {a.carrier_mae_h:.1f} h, "
                f"schedule {a.schedule_mae_h:.1f} h"
            )
        else:
            out.append("ETA error: no unit arrived with a prediction to compare")
        if self.shipments:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.shipment_alerts_by.items())) or "none"
            out.append(f"shipments tracked:  {self.shipments} ({self.shipments_delivered} delivered); "
                       f"shipment alerts: {kinds}")  # fmt: skip
            if self.most_delayed_shipment:
                out.append(f"most delayed shipment: {self.most_delayed_shipment} "
                           f"(corridor shipment {self.most_delayed_shipment.split()[0]} --broker ...)")  # fmt: skip
        return out


def summarise(records: dict[str, list[dict[str, Any]]], names: dict[str, str], published: int) -> Summary:
    timelines = latest_timelines(records.get(names["timeline"], []))
    alerts = records.get(names["alert"], [])
    etas = records.get(names["eta"], [])
    arrived = sum(1 for t in timelines.values() if t["status"] in ("ARRIVED", "DELIVERED"))
    return Summary(
        units=len(timelines),
        arrived=arrived,
        alerts=len(alerts),
        alerts_by=Counter(f"{a['kind']}/{a['severity']}" for a in alerts),
        late_units=len({a["unit"]["id"] for a in alerts}),
        eta_updates=len(etas),
        dead_letters=len(records.get(names["dead_letter"], [])),
        accuracy=eta_accuracy(timelines, etas),
        events_published=published,
        **_shipments(records, names),
    )


def _shipments(records: dict[str, list[dict[str, Any]]], names: dict[str, str]) -> dict[str, Any]:
    if "shipment_timeline" not in names:
        return {}
    latest: dict[str, dict[str, Any]] = {}
    for t in records.get(names["shipment_timeline"], []):
        if t.get("plan_revision") is not None:  # planned shipments (an AWB seen only as a unit is not one)
            latest[t["shipment"]["id"]] = t
    alerts = records.get(names["shipment_alert"], [])
    late = max(latest.values(), key=lambda t: t.get("minutes_late") or 0, default=None)
    worst = None
    if late is not None and (late.get("minutes_late") or 0) > 0:
        worst = f"{late['shipment']['id']} {late['minutes_late'] / 60:+.1f} h"
    return {
        "shipments": len(latest),
        "shipments_delivered": sum(1 for t in latest.values() if t["status"] == "DELIVERED"),
        "shipment_alerts_by": Counter(a["kind"] for a in alerts),
        "most_delayed_shipment": worst,
    }
