"""The one JSON codec for every topic: orjson behind dumps/loads, and one DecodeError with a readable reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
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


def _plain(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.__dict__
    raise TypeError(f"{type(obj).__name__} is not a model")


def dumps_plain(model: BaseModel) -> bytes:
    """`dumps(model)` from the model's `__dict__`, for a model (nested models included) whose fields are of the
    types `dumps_fields` takes and that no serializer, alias or exclusion of its own changes: an `EtaUpdate`, built
    for every unit a vessel's news moves (pydantic's serializer took twice as long). Anything orjson refuses (an
    integer beyond 64 bits) is left to `dumps`. `tests/unit/schemas/test_codec_plain.py` compares the two."""
    try:
        return orjson.dumps(model.__dict__, default=_plain, option=orjson.OPT_UTC_Z)
    except TypeError:
        return dumps(model)


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from None


def explain(exc: ValidationError) -> str:
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
        raise DecodeError(f"invalid {title}: {explain(exc)}") from None


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
        raise DecodeError(f"invalid {kind}: {explain(exc)}") from None


def constructor(cls: type[M]) -> Callable[..., M]:
    """A faster `cls.model_construct` (no validation, defaults filled in), for outputs built on every record from
    values the core made itself: pydantic's walks every field's aliases and default machinery per call, a seventh
    of a unit's step in the conveyance fan-out's profile. Same `__dict__` (same order), fields set, extra and
    private attributes as `model_construct` makes (`tests/unit/schemas/test_constructor.py`). Only for models
    without aliases, extra fields, private attributes or post-init, whose defaults are constants (not factories)."""
    fields = cls.__pydantic_fields__
    if (cls.model_config.get("extra") == "allow" or cls.__pydantic_post_init__ or cls.__private_attributes__
            or cls.__pydantic_root_model__
            or any(f.alias or f.validation_alias or f.default_factory for f in fields.values())):  # fmt: skip
        raise TypeError(f"{cls.__name__}: model_construct does more than `constructor` does")
    defaults = {n: f.default for n, f in fields.items() if not f.is_required()}
    mutable = {n for n, v in defaults.items() if isinstance(v, list | dict | set)}
    names = tuple(fields)
    new, setattr_ = cls.__new__, object.__setattr__
    # Every field in declaration order, defaults in place: values for all the required and mutable ones (as the
    # core always gives) and for fields only are laid over it in one step, keeping that order.
    template = {n: defaults.get(n) for n in names}
    complete = frozenset(n for n in names if n not in defaults) | mutable
    known = frozenset(names)

    def make(**values: Any) -> M:
        keys = values.keys()
        if keys >= complete and keys <= known:
            data = {**template, **values}
            fields_set = set(keys)
        else:
            data = {}
            for n in names:
                if n in values:
                    data[n] = values[n]
                elif n in defaults:
                    data[n] = copy.deepcopy(defaults[n]) if n in mutable else defaults[n]
            fields_set = set(values).intersection(fields)
        m = new(cls)
        setattr_(m, "__dict__", data)
        setattr_(m, "__pydantic_fields_set__", fields_set)
        setattr_(m, "__pydantic_extra__", None)
        setattr_(m, "__pydantic_private__", None)
        return m

    return make
