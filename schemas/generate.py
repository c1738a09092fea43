"""Generate the JSON Schema files in schemas/json/ from the models (the files are the published contract)."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import BaseModel

from schemas.conveyances import ConveyanceEvent
from schemas.events import ClockTick, TrackingEvent
from schemas.outputs import DeadLetter, DelayAlert, EtaUpdate, Timeline
from schemas.plans import Plan
from schemas.shipments import ShipmentAlert, ShipmentEta, ShipmentPlan, ShipmentTimeline, UnitReport

SCHEMA_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {
    "tracking-event": TrackingEvent,
    "plan": Plan,
    "clock-tick": ClockTick,
    "timeline": Timeline,
    "delay-alert": DelayAlert,
    "eta-update": EtaUpdate,
    "dead-letter": DeadLetter,
    "shipment-plan": ShipmentPlan,
    "shipment-timeline": ShipmentTimeline,
    "shipment-alert": ShipmentAlert,
    "shipment-eta": ShipmentEta,
    "unit-report": UnitReport,
    "conveyance-event": ConveyanceEvent,
}


def render(model: type[BaseModel]) -> bytes:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://corridor.example/schemas/{model.__name__}.schema.json"
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def rendered() -> dict[Path, bytes]:
    return {SCHEMA_DIR / f"{name}.schema.json": render(model) for name, model in MODELS.items()}


def write() -> list[Path]:
    SCHEMA_DIR.mkdir(exist_ok=True)
    changed = []
    for path, content in rendered().items():
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for p in write():
        print(f"wrote {p}")
