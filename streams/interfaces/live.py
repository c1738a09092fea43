"""The demo's live terminal view: one row per unit (where it is, mode, delay, ETA) and the latest alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streams.interfaces.summary import latest_timelines

_STATUS_STYLE = {"PLANNED": "dim", "IN_TRANSIT": "cyan", "AT_STOP": "yellow", "ARRIVED": "green",
                 "DELIVERED": "green"}


def _short(ts: str | None) -> str:
    if not ts:
        return "-"
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).strftime("%d %b %H:%M")


def _delay(minutes: int | None) -> Text:
    if minutes is None:
        return Text("-")
    hours = minutes / 60
    style = "green" if hours <= 2 else "yellow" if hours <= 24 else "red"
    return Text(f"{hours:+.0f} h", style=style)


def render(records: dict[str, list[dict[str, Any]]], names: dict[str, str], header: str,
           max_rows: int = 40) -> Group:
    timelines = latest_timelines(records.get(names["timeline"], []))
    alerts = records.get(names["alert"], [])
    alert_count: dict[str, int] = {}
    for a in alerts:
        alert_count[a["unit"]["id"]] = alert_count.get(a["unit"]["id"], 0) + 1

    table = Table(expand=True, header_style="bold", pad_edge=False)
    for col in ("unit", "lane", "mode", "status", "at", "delay", "ETA", "planned", "alerts"):
        table.add_column(col, no_wrap=True)
    rows = sorted(timelines.values(), key=lambda t: (t.get("lane") or "", t["unit"]["id"]))
    for t in rows[:max_rows]:
        status = t["status"]
        table.add_row(
            t["unit"]["id"], t.get("lane") or "-", (t.get("mode") or "-").lower(),
            Text(status.lower().replace("_", " "), style=_STATUS_STYLE.get(status, "")),
            t.get("location") or "-", _delay(t.get("minutes_late")),
            _short(t.get("predicted_arrival")), _short(t.get("planned_arrival")),
            str(alert_count.get(t["unit"]["id"], "")),
        )
    if len(rows) > max_rows:
        table.caption = f"... and {len(rows) - max_rows} more units"

    recent = Table.grid(padding=(0, 1))
    for a in alerts[-6:]:
        style = {"MINOR": "yellow", "MAJOR": "orange1", "CRITICAL": "bold red"}.get(a["severity"], "")
        recent.add_row(Text(a["severity"], style=style), Text(a["kind"]), Text(a["message"]))
    return Group(
        Text(header, style="bold"),
        table,
        Panel(recent, title=f"latest alerts ({len(alerts)} in all)", title_align="left"),
    )
