"""The API's index of what the jobs published: two tables per kind of subject, fed from the output topics by the
`api-index` agent:

- `api_alerts` / `api_shipment_alerts`: per unit (shipment), every alert published for it (de-duplicated by id);
- `api_eta` / `api_shipment_eta`: per unit (shipment), the ETA updates published for it, oldest first (the last
  MAX_ETA_HISTORY).

The unit state keeps only the last ETA and the ids of the alerts it emitted, so the history and the alert
bodies come from the topics. The tables are keyed like the topics, so partition p of the index is on the worker
that holds partition p of the job's tables (see streams/api/store.py). Updates are pure functions of a table value
(`add_alert`, `add_eta`); a malformed record is logged and skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import faust
import orjson

from schemas.topics import TopicNames

log = logging.getLogger(__name__)

ALERTS_TABLE, ETA_TABLE = "api_alerts", "api_eta"
SHIPMENT_ALERTS_TABLE, SHIPMENT_ETA_TABLE = "api_shipment_alerts", "api_shipment_eta"
MAX_ETA_HISTORY = 100


# -- the index: pure updates of a table value --------------------------------------------------------------


def add_alert(current: bytes | None, value: bytes) -> bytes | None:
    """The unit's alert list with `value` added, or None if it is already there (alerts are emitted at most
    once, but at-least-once delivery may repeat one)."""
    alert = orjson.loads(value)
    alerts: list[dict[str, Any]] = orjson.loads(current) if current else []
    if any(a["alert_id"] == alert["alert_id"] for a in alerts):
        return None
    return orjson.dumps([*alerts, alert])


def _eta_identity(e: dict[str, Any]) -> tuple:
    predicted = e["predicted_arrival"] if "predicted_arrival" in e else e["predicted_delivery"]  # unit or shipment
    return e["as_of"], predicted, e.get("previous_prediction"), e["plan_revision"], e["reason"]


def add_eta(current: bytes | None, value: bytes) -> bytes | None:
    """The unit's (or shipment's) ETA history with `value` appended (the last MAX_ETA_HISTORY), or None for a repeat."""
    update = orjson.loads(value)
    history: list[dict[str, Any]] = orjson.loads(current) if current else []
    if any(_eta_identity(e) == _eta_identity(update) for e in history[-8:]):
        return None
    return orjson.dumps([*history, update][-MAX_ETA_HISTORY:])


def _raw_table(app: faust.App, name: str, partitions: int, help: str) -> faust.Table:
    table = app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes, help=help)
    table.key_serializer = table.value_serializer = "raw"
    return table


@dataclass(frozen=True, slots=True)
class IndexTables:
    alerts: Any
    etas: Any
    shipment_alerts: Any
    shipment_etas: Any


def add_index(app: faust.App, topics: TopicNames, partitions: int) -> IndexTables:
    """The four API tables and the agent that fills them from the unit and shipment alert and ETA topics."""
    alerts = _raw_table(app, ALERTS_TABLE, partitions, "API: alerts published per unit")
    etas = _raw_table(app, ETA_TABLE, partitions, "API: ETA updates published per unit")
    shipment_alerts = _raw_table(app, SHIPMENT_ALERTS_TABLE, partitions, "API: alerts published per shipment")
    shipment_etas = _raw_table(app, SHIPMENT_ETA_TABLE, partitions, "API: ETA updates published per shipment")
    route = {
        topics.name("alert"): (alerts, add_alert),
        topics.name("eta"): (etas, add_eta),
        topics.name("shipment_alert"): (shipment_alerts, add_alert),
        topics.name("shipment_eta"): (shipment_etas, add_eta),
    }
    source = app.topic(*route, schema=faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"))

    @app.agent(source, name="api-index", concurrency=1)
    async def api_index(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key, value, topic = event.key, event.value, event.message.topic
            if not key or not value:
                continue
            table, add = route[topic]
            try:
                new = add(table.get(key), value)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("api-index: skipped a malformed record on %s[%s]@%s", topic,
                            event.message.partition, event.message.offset)
                continue
            if new is not None:
                table[key] = new

    return IndexTables(alerts, etas, shipment_alerts, shipment_etas)
