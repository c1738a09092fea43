"""The one JSON codec for every topic: orjson behind dumps/loads, and one DecodeError with a readable reason."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.events import ClockTick, TrackingEvent
from schemas.plans import Plan
from schemas.shipments import ShipmentPlan

M = TypeVar("M", bound=BaseModel)

InputRecord = Plan | TrackingEvent | ClockTick | ShipmentPlan
_BY_RECORD: dict[str, type[BaseModel]] = {
    "plan": Plan, "event": TrackingEvent, "clock": ClockTick, "shipment_plan": ShipmentPlan,
}


class DecodeError(ValueError):
    """Bytes that are not a valid record; the message says what is wrong, for a person to act on."""


def dumps(obj: BaseModel | Any) -> bytes:
    if isinstance(obj, BaseModel):
        return obj.__pydantic_serializer__.to_json(obj)
    return orjson.dumps(obj)


def dumps_fields(fields: dict[str, Any]) -> bytes:
    """What `dumps` writes for a model whose fields (every one, in declaration order, nested models as dicts)
    are `fields`, for values that need no validation: str, int, None, enum members, lists, dicts and UTC
    datetimes. pydantic and orjson write these the same way once UTC is spelled "Z" (not for offsets of
    seconds, which UTC instants never have); the tests compare the two."""
    return orjson.dumps(fields, option=orjson.OPT_UTC_Z)


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def decode(data: bytes | str, model: type[M]) -> M:
    """Decode JSON bytes into `model`, raising DecodeError with a field-level reason."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        title = model.model_config.get("title") or model.__name__
        raise DecodeError(f"invalid {title}: {_explain(exc)}") from None


def decode_input(data: bytes | str, expected: str | None = None) -> InputRecord:
    """Decode a plan, event, clock tick or shipment plan. `expected` ("plan", "event", "clock") pins the record type,
    as each input topic does; otherwise the `record` field (or the shape) decides."""
    obj = loads(data)
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("record") or ("plan" if "legs" in obj else "event" if "event_id" in obj else None)
    if expected is not None:
        if kind is not None and kind != expected:
            article = "an" if expected[0] in "aeiou" else "a"
            raise DecodeError(f"expected {article} {expected} record, got {kind!r}")
        kind = expected
    model = _BY_RECORD.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise DecodeError(f"unknown record type {kind!r}; expected one of {sorted(_BY_RECORD)}")
    try:
        return model.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as exc:
        raise DecodeError(f"invalid {kind}: {_explain(exc)}") from None
