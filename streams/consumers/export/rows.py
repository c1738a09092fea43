"""From one output record to table rows. Pure: the same record always gives the same rows.

Timelines are snapshots (a unit's whole timeline after each change), so `timelines`, `milestones` and
`durations` hold one set of rows per snapshot, tagged with the record's partition and offset; analytics
read each unit's latest snapshot (highest offset: a unit's records share one partition). `eta` and `alerts`
hold one row per record. The actual arrival an ETA is judged against comes later, from the unit's
timeline, so the report joins it in rather than the sink patching rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
SRC = [("src_partition", pa.int32()), ("src_offset", pa.int64())]

SCHEMAS: dict[str, pa.Schema] = {
    "timelines": pa.schema([*SRC, ("unit", pa.string()), ("unit_kind", pa.string()), ("status", pa.string()),
                            ("mode", pa.string()), ("location", pa.string()), ("destination", pa.string()),
                            ("plan_revision", pa.int32()), ("planned_arrival", TS), ("predicted_arrival", TS),
                            ("minutes_late", pa.int64()), ("as_of", TS), ("milestones", pa.int32())]),
    "milestones": pa.schema([*SRC, ("unit", pa.string()), ("as_of", TS), ("key", pa.string()),
                             ("kind", pa.string()), ("leg_index", pa.int32()), ("mode", pa.string()),
                             ("location", pa.string()), ("planned", TS), ("estimated", TS), ("actual", TS),
                             ("predicted", TS), ("delay_minutes", pa.int64())]),
    "durations": pa.schema([*SRC, ("unit", pa.string()), ("as_of", TS), ("segment", pa.string()),
                            ("leg_index", pa.int32()), ("mode", pa.string()), ("origin", pa.string()),
                            ("destination", pa.string()), ("started", TS), ("ended", TS), ("hours", pa.float64()),
                            ("planned_hours", pa.float64())]),
    "eta": pa.schema([*SRC, ("unit", pa.string()), ("as_of", TS), ("destination", pa.string()),
                      ("predicted_arrival", TS), ("previous_prediction", TS), ("planned_arrival", TS),
                      ("carrier_estimate", TS), ("reason", pa.string()), ("plan_revision", pa.int32()),
                      ("remaining_stops", pa.int32())]),
    "alerts": pa.schema([*SRC, ("alert_id", pa.string()), ("unit", pa.string()), ("kind", pa.string()),
                         ("severity", pa.string()), ("milestone", pa.string()), ("milestone_kind", pa.string()),
                         ("location", pa.string()), ("leg_index", pa.int32()), ("mode", pa.string()),
                         ("planned", TS), ("actual", TS), ("minutes_late", pa.int64()), ("detected_at", TS),
                         ("plan_revision", pa.int32()), ("message", pa.string())]),
    # CO2e per leg (a diverted stretch is one row, along the route really taken), from the timeline's `co2e`.
    "emissions": pa.schema([*SRC, ("unit", pa.string()), ("unit_kind", pa.string()), ("as_of", TS),
                            ("leg_index", pa.int32()), ("last_leg_index", pa.int32()), ("mode", pa.string()),
                            ("stops", pa.string()), ("km", pa.float64()), ("distance", pa.string()),
                            ("g_per_tkm", pa.float64()), ("tonnes", pa.float64()), ("tonnes_source", pa.string()),
                            ("kg", pa.float64()), ("diverted", pa.bool_())]),
}
# Alerts and ETAs carry no lane: partitioned by date only.
BY_LANE = {"timelines", "milestones", "durations", "emissions"}

Row = tuple[str, str | None, str, dict[str, Any]]  # (table, lane or None, month YYYY-MM, values)


def ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _month(value: str | None) -> str:
    """The Hive partition by event time. A month, not a day: a batch of a busy partition spans many days
    of event time (most of all when re-reading history), and a file per day and lane would be tiny."""
    return value[:7] if value else "unknown"


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() / 3600 if start and end else None


def rows_for(role: str, v: dict[str, Any], partition: int, offset: int) -> list[Row]:
    """Rows for one record of the timeline, alert or ETA topic (anything else gives none)."""
    src = {"src_partition": partition, "src_offset": offset}
    if role == "timeline":
        return _timeline(v, src)
    if role == "alert":
        return [("alerts", None, _month(v.get("detected_at")), {
            **src, "alert_id": v["alert_id"], "unit": v["unit"]["id"], "kind": v.get("kind"),
            "severity": v.get("severity"), "milestone": v.get("milestone"), "milestone_kind": v.get("milestone_kind"),
            "location": v.get("location"), "leg_index": v.get("leg_index"), "mode": v.get("mode"),
            "planned": ts(v.get("planned")), "actual": ts(v.get("actual")), "minutes_late": v.get("minutes_late"),
            "detected_at": ts(v.get("detected_at")), "plan_revision": v.get("plan_revision"),
            "message": v.get("message"),
        })]
    if role == "eta":
        return [("eta", None, _month(v.get("as_of")), {
            **src, "unit": v["unit"]["id"], "as_of": ts(v.get("as_of")), "destination": v.get("destination"),
            "predicted_arrival": ts(v.get("predicted_arrival")),
            "previous_prediction": ts(v.get("previous_prediction")),
            "planned_arrival": ts(v.get("planned_arrival")), "carrier_estimate": ts(v.get("carrier_estimate")),
            "reason": v.get("reason"), "plan_revision": v.get("plan_revision"),
            "remaining_stops": len(v.get("stops") or []),
        })]
    return []


def _timeline(v: dict[str, Any], src: dict[str, int]) -> list[Row]:
    unit, lane, as_of = v["unit"]["id"], v.get("lane"), v.get("as_of")
    month, when = _month(as_of), ts(as_of)
    milestones = v.get("milestones") or []
    out: list[Row] = [("timelines", lane, month, {
        **src, "unit": unit, "unit_kind": v["unit"].get("kind"), "status": v.get("status"), "mode": v.get("mode"),
        "location": v.get("location"), "destination": v.get("destination"), "plan_revision": v.get("plan_revision"),
        "planned_arrival": ts(v.get("planned_arrival")), "predicted_arrival": ts(v.get("predicted_arrival")),
        "minutes_late": v.get("minutes_late"), "as_of": when, "milestones": len(milestones),
    })]
    for m in milestones:
        out.append(("milestones", lane, month, {
            **src, "unit": unit, "as_of": when, "key": m["key"], "kind": m["kind"], "leg_index": m["leg_index"],
            "mode": m["mode"], "location": m["location"], "planned": ts(m["planned"]),
            "estimated": ts(m.get("estimated")), "actual": ts(m.get("actual")), "predicted": ts(m.get("predicted")),
            "delay_minutes": m.get("minutes_late") if m.get("actual") else None,
        }))
    out += [("durations", lane, month, {**src, "unit": unit, "as_of": when, **d}) for d in segments(milestones)]
    co2e = v.get("co2e") or {}
    out += [("emissions", lane, month, {
        **src, "unit": unit, "unit_kind": v["unit"].get("kind"), "as_of": when, "leg_index": g["leg_index"],
        "last_leg_index": g["last_leg_index"], "mode": g["mode"], "stops": "-".join(g["stops"]), "km": g.get("km"),
        "distance": g.get("distance"), "g_per_tkm": g.get("g_per_tkm"), "tonnes": co2e.get("tonnes"),
        "tonnes_source": co2e.get("tonnes_source"), "kg": g.get("kg"), "diverted": bool(g.get("diverted")),
    }) for g in co2e.get("legs") or []]  # fmt: skip
    return out


def segments(milestones: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Completed stretches of the journey, from actual times: LEG (departure to arrival of one leg), DWELL
    (arrival at a stop to departure of the next leg; mode = the outbound leg's) and DELIVERY (final arrival
    to delivery)."""
    deps = {m["leg_index"]: m for m in milestones if m["kind"] == "DEPARTURE"}
    arrs = {m["leg_index"]: m for m in milestones if m["kind"] == "ARRIVAL"}
    out = []

    def seg(kind: str, leg: int, mode: str, a: dict[str, Any], b: dict[str, Any]) -> None:
        start, end = ts(a.get("actual")), ts(b.get("actual"))
        if start and end:
            out.append({"segment": kind, "leg_index": leg, "mode": mode, "origin": a["location"],
                        "destination": b["location"], "started": start, "ended": end, "hours": _hours(start, end),
                        "planned_hours": _hours(ts(a["planned"]), ts(b["planned"]))})

    for leg, dep in sorted(deps.items()):
        if leg in arrs:
            seg("LEG", leg, dep["mode"], dep, arrs[leg])
        if leg - 1 in arrs:
            seg("DWELL", leg, dep["mode"], arrs[leg - 1], dep)
    for m in milestones:
        if m["kind"] == "DELIVERY" and m["leg_index"] in arrs:
            seg("DELIVERY", m["leg_index"], m["mode"], arrs[m["leg_index"]], m)
    return out
