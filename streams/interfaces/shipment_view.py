"""A shipment as a person reads it in a terminal: legs, parts, hub stays, events, alerts and how the ETA moved.
Rendered from the published records (ShipmentTimeline, ShipmentAlert, ShipmentEta as dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def _t(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%d %b %H:%M")


def _h(minutes: int | None) -> str:
    return "-" if minutes is None else f"{minutes / 60:+.1f} h"


def render(timeline: dict[str, Any], alerts: list[dict[str, Any]], etas: list[dict[str, Any]]) -> Group:
    ref = timeline["shipment"]
    head = Text.assemble(
        (f"{ref['kind'].replace('_', ' ').lower()} {ref['id']}", "bold"),
        f"  {timeline.get('customer') or ''}  {timeline.get('lane') or ''}  {timeline.get('pieces') or '?'} pieces  ",
        (timeline["status"], "bold cyan"),
    )
    planned, late = timeline.get("planned_delivery"), timeline.get("minutes_late")
    outcome = (f"delivered {_t(timeline['delivered_at'])}" if timeline.get("delivered_at")
               else f"predicted {_t(timeline.get('predicted_delivery'))}")  # fmt: skip
    summary = Text(f"to {timeline.get('destination') or '?'}: planned {_t(planned)}, {outcome}, "
                   f"{_h(late)} against plan; as of {_t(timeline.get('as_of'))}",
                   style="red" if late and late > 360 else "")  # fmt: skip

    legs = Table(title="legs", title_justify="left", expand=False)
    for col in ("#", "mode", "from-to", "planned", "actual / predicted", "units", "pieces out/in", "late"):
        legs.add_column(col)
    for g in timeline.get("legs", []):
        dep = _t(g["actual_departure"]) if g["actual_departure"] else "-"
        arr = _t(g["actual_arrival"]) if g["actual_arrival"] else f"~{_t(g['predicted_arrival'])}"
        legs.add_row(str(g["leg_index"] + 1), g["mode"], f"{g['origin']}-{g['destination']}",
                     f"{_t(g['planned_departure'])} - {_t(g['planned_arrival'])}", f"{dep} - {arr}",
                     ", ".join(g["units"]) or "-", f"{g['pieces_departed']}/{g['pieces_arrived']}",
                     _h(g["minutes_late"]))  # fmt: skip

    parts = Table(title="parts (cargo in each unit)", title_justify="left")
    for col in ("unit", "pieces", "leg", "in", "out"):
        parts.add_column(col)
    for p in timeline.get("parts", []):
        leg = "-" if p["leg_index"] is None else str(p["leg_index"] + 1)
        out = f"{p['unloaded_location'] or ''} {_t(p['unloaded_at'])}" if p["unloaded_at"] else "-"
        parts.add_row(f"{p['unit']['kind'].lower()} {p['unit']['id']}", str(p["pieces"] or "all"), leg,
                      f"{p['loaded_location'] or '?'} {_t(p['loaded_at'])}", out)

    hubs = Table(title="hub stays", title_justify="left")
    for col in ("hub", "in", "out", "dwell", "normal", "customs"):
        hubs.add_column(col)
    for s in timeline.get("hubs", []):
        customs = (f"HELD since {_t(s['held_since'])}" if s["held_since"]
                   else f"released {_t(s['released_at'])}" if s["released_at"] else "-")  # fmt: skip
        over = s["dwell_minutes"] is not None and s["dwell_minutes"] > s["normal_minutes"]
        hubs.add_row(s["location"], _t(s["arrived"]), _t(s["departed"]),
                     Text(_h(s["dwell_minutes"]).lstrip("+"), style="red" if over else ""),
                     f"{s['normal_minutes'] / 60:.0f} h", customs)  # fmt: skip

    events = Table(title="events", title_justify="left")
    for col in ("time", "milestone", "where", "unit", "pieces", "source"):
        events.add_column(col)
    for e in timeline.get("events", []):
        unit = f"{e['unit']['id']}" if e["unit"] else "(shipment)"
        events.add_row(_t(e["event_time"]), e["milestone"], e["location"], unit, str(e["pieces"] or ""), e["source"])

    lines: list[Any] = [head, summary, legs, parts, hubs, events]
    if alerts:
        lines.append(Text("alerts", style="bold"))
        for a in alerts:
            lines.append(Text(f"  {_t(a['detected_at'])}  {a['kind']:<12} {a['severity']:<8} {a['message']}",
                              style="red" if a["severity"] == "CRITICAL" else "yellow"))  # fmt: skip
    if etas:
        lines.append(Text("ETA (door to door)", style="bold"))
        for e in etas:
            cause = ""
            if e.get("cause_leg") is not None:
                cause = f"  [leg {e['cause_leg'] + 1}" + (f", {e['cause_unit']['id']}]" if e.get("cause_unit") else "]")
            lines.append(Text(f"  {_t(e['as_of'])}  {_t(e['predicted_delivery'])}  {e['reason']}{cause}"))
    return Group(*lines)
