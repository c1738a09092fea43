"""The OpenAPI 3.1 document of the query API, generated from the response models.

`python -m streams.api.openapi` rewrites streams/api/openapi.json; a test fails when the file and the code
drift apart. Workers serve the generated document at /api/openapi.json."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from streams.api.models import (
    AlertPage,
    ApiError,
    AtRiskList,
    DelayedShipments,
    DelayedUnits,
    Health,
    HubList,
    HubUnits,
    Readiness,
    ShipmentDetail,
    UnitDetail,
)

PATH = Path(__file__).with_name("openapi.json")
_MODELS: list[type[BaseModel]] = [UnitDetail, ShipmentDetail, AlertPage, DelayedUnits, DelayedShipments, HubList,
                                  HubUnits, Health, Readiness, ApiError, AtRiskList]

DESCRIPTION = """\
Query corridor's tracking state. Every worker serves this API for the whole cluster: a unit's (or a \
shipment's) request is forwarded to the worker that owns its partition (the answer's `X-Corridor-Worker` \
header names the worker that computed it), and lists are gathered from every worker (their `coverage` says \
which partitions answered).

Records inside the answers are the topic contracts: `Timeline` (corridor.timelines), `Plan` (corridor.plans), \
`DelayAlert` (corridor.alerts), `EtaUpdate` (corridor.eta); for shipments `ShipmentTimeline` \
(corridor.shipment-timelines), `ShipmentPlan` (corridor.shipment-plans), `ShipmentAlert` \
(corridor.shipment-alerts), `ShipmentEta` (corridor.shipment-eta).

**Open alerts.** Alerts are never retracted on the topic; an alert is *closed* when the unit has arrived at \
its final destination or been delivered, when it was raised under an older plan revision, when (OVERDUE) its \
milestone or a later one has happened, or when (LATE) a later LATE alert of the same unit supersedes it or \
the unit's latest actual milestone after it was within tolerance (the delay was made up). Otherwise it is \
*open*: a unit has at most one open LATE and one open OVERDUE alert. A *shipment* alert is closed when the \
shipment was delivered (every piece), when raised under an older plan revision, when (OVERDUE) every piece has \
left that leg's origin, when (LATE) a later LATE alert supersedes it or delivery is predicted within tolerance \
again, when (DWELL) the cargo left the hub, and when (CUSTOMS_HOLD) the hold was released or the cargo left.

**Errors** are JSON (`ApiError`): 400 for a malformed reference or parameter, 404 for an unknown one, 503 \
while the owning worker is unavailable (starting, rebalancing; retry after `Retry-After` seconds).

**Credentials.** When the installation configures them (docs/security.md), every `/api/` path but this \
document needs `Authorization: Bearer <API key or OIDC access token>` (401 without a usable one, 403 for a token \
that names no customer, 429 with `Retry-After` when a credential asks too often). Each credential sees its own \
customers' units and shipments only: another customer's is a 404, as if it were unknown, and lists leave it out."""


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "malformed reference or parameter", 404: "unknown reference (or another customer's)",
            503: "the owning worker is unavailable; retry", 401: "no usable credentials",
            403: "the credential names no customer", 429: "too many requests from this credential; retry after "
            "Retry-After seconds"}
    return {str(c): _json("ApiError", text[c]) for c in codes}


def _param(name: str, where: str, description: str, schema: dict[str, Any], required: bool = False
           ) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema}


UNIT_REF = _param("ref", "path", "container number (ISO 6346, check digit verified), air waybill (NNN-NNNNNNNN), "
                  "ULD (e.g. AKE12345CX) or trailer id; spaces and hyphens are ignored in container numbers",
                  {"type": "string", "maxLength": 40})
# Both delayed lists (units, shipments) take the same cap.
_DELAYED_LIMIT = _param("limit", "query", "at most this many",
                        {"type": "integer", "minimum": 1, "maximum": 500, "default": 500})

PATHS: dict[str, Any] = {
    "/api/units/{ref}": {"get": {
        "operationId": "getUnit",
        "summary": "A unit's timeline, plan, ETA and its history, and its alerts",
        "description": "The timeline is derived from the stored state at the partition's event-time watermark. "
                       "The ETA history is every EtaUpdate published for the unit (the last 100).",
        "parameters": [UNIT_REF, _param("kind", "query", "the unit's kind, when the reference is ambiguous",
                                        {"type": "string", "enum": ["CONTAINER", "ULD", "AWB", "TRAILER"]})],
        "responses": {"200": _json("UnitDetail", "the unit"), **_errors(400, 404, 503)},
    }},
    "/api/alerts": {"get": {
        "operationId": "listAlerts",
        "summary": "Open (or closed) alerts across all units and shipments, newest first, paged",
        "description": "Gathered from every worker (fan-out). Newest first by detection time (event time), "
                       "then alert id. Pass `next_cursor` back as `cursor` for the next page.",
        "parameters": [
            _param("open", "query", "true (default): open alerts; false: closed ones", {"type": "boolean"}),
            _param("severity", "query", "only these severities, comma-separated (e.g. MAJOR,CRITICAL)",
                   {"type": "string"}),
            _param("limit", "query", "page size", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
            _param("cursor", "query", "next_cursor of the previous page", {"type": "string"}),
            _param("about", "query", "unit, shipment, or unit,shipment (default): whose alerts",
                   {"type": "string"}),
        ],
        "responses": {"200": _json("AlertPage", "a page of alerts"), **_errors(400)},
    }},
    "/api/delayed": {"get": {
        "operationId": "listDelayedUnits",
        "summary": "Units with open alerts: overdue first, then by severity and minutes late",
        "parameters": [_DELAYED_LIMIT],
        "responses": {"200": _json("DelayedUnits", "delayed and overdue units"), **_errors(400)},
    }},
    "/api/delayed/shipments": {"get": {
        "operationId": "listDelayedShipments",
        "summary": "Shipments with open alerts: cargo that has not left first, then by severity and minutes late",
        "parameters": [_DELAYED_LIMIT],
        "responses": {"200": _json("DelayedShipments", "shipments with open alerts"), **_errors(400)},
    }},
    "/api/at-risk": {"get": {
        "operationId": "listAtRisk",
        "summary": "Units and shipments predicted to miss their plan or promise beyond tolerance, most impact first",
        "description": "Whether or not an alert is open: a unit's predicted arrival (the median) later than planned "
                       "by more than its final leg's tolerance, or its predicted delivery later than promised; a "
                       "shipment's predicted door delivery later than promised (or planned). Gathered from every "
                       "worker (fan-out).",
        "parameters": [_DELAYED_LIMIT],
        "responses": {"200": _json("AtRiskList", "units and shipments at risk"), **_errors(400)},
    }},
    "/api/hubs": {"get": {
        "operationId": "listHubs",
        "summary": "The hubs of the seed corridors, with positions (for maps)",
        "responses": {"200": _json("HubList", "hubs")},
    }},
    "/api/hubs/{locode}/units": {"get": {
        "operationId": "listHubUnits",
        "summary": "Units at a hub now, and units bound for it",
        "parameters": [_param("locode", "path", "UN/LOCODE of the hub", {"type": "string"})],
        "responses": {"200": _json("HubUnits", "units at and bound for the hub"), **_errors(400, 404)},
    }},
    "/api/shipments/{ref}": {"get": {
        "operationId": "getShipment",
        "summary": "A shipment's timeline across its units, plan, ETA and its history, and its alerts",
        "description": "The timeline (parts: which unit carried how many pieces from where to where; legs; hub "
                       "stays with dwell and customs holds; events across units) is derived from the stored "
                       "state at the partition's event-time watermark. `routes` gives each part's stops for maps. "
                       "The ETA history is every ShipmentEta published for the shipment (the last 100).",
        "parameters": [
            _param("ref", "path", "air waybill (NNN-NNNNNNNN, check digit verified; the hyphen may be a space or "
                   "left out), or a booking, bill of lading or consignment number as it is keyed (3-35 letters, "
                   "digits, '-' or '/', case-insensitive)", {"type": "string", "maxLength": 40}),
            _param("kind", "query", "the reference's kind; without it, NNN-NNNNNNNN is an air waybill and anything "
                   "else is looked up whatever its kind", {"type": "string", "enum": [
                       "BOOKING", "BILL_OF_LADING", "AIR_WAYBILL", "CONSIGNMENT"]}),
        ],
        "responses": {"200": _json("ShipmentDetail", "the shipment"), **_errors(400, 404, 503)},
    }},
    "/api/openapi.json": {"get": {
        "operationId": "getOpenApi",
        "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3.1 document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
    "/healthz": {"get": {
        "operationId": "health",
        "summary": "Liveness: the worker's web server and event loop answer",
        "responses": {"200": _json("Health", "alive"), **_errors(503)},
    }},
    "/readyz": {"get": {
        "operationId": "ready",
        "summary": "Readiness: partitions assigned and table recovery done (503 until then)",
        "responses": {"200": _json("Readiness", "ready"), "503": _json("Readiness", "not ready, with the reason")},
    }},
}


PUBLIC_PATHS = frozenset({"/api/openapi.json", "/healthz", "/readyz"})  # answered without credentials


def _secured(paths: dict[str, Any]) -> dict[str, Any]:
    """Every path but the public ones with the bearer requirement and its answers (401, 403, 429)."""
    out: dict[str, Any] = {}
    for path, ops in paths.items():
        out[path] = {}
        for method, op in ops.items():
            if path in PUBLIC_PATHS:
                out[path][method] = {**op, "security": []}
            else:
                out[path][method] = {**op, "responses": {**op["responses"], **_errors(401, 403, 429)}}
    return out


@cache
def document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "serialization") for m in _MODELS],
                                 ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "corridor query API", "version": "1.0.0", "description": DESCRIPTION},
        "paths": _secured(PATHS),
        "components": {"schemas": dict(sorted(defs["$defs"].items())), "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "an API key from the installation's keys file, or an OIDC access token (JWT)"}}},
        "security": [{"bearer": []}],
    }


def render() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        if PATH.read_bytes() != render():
            print(f"{PATH} is out of date: run python -m streams.api.openapi", file=sys.stderr)
            return 1
        return 0
    PATH.write_bytes(render())
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
