"""The gateway's OpenAPI 3.0 document (served at /openapi.json; the property-based HTTP test runs from it)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {
        "error": {"type": "string"},
        "dead_letter": {"$ref": "#/components/schemas/Location", "description": "where the refused body was put"},
    },
}  # fmt: skip
_LOCATION = {
    "type": "object", "required": ["topic", "partition", "offset"],
    "properties": {"topic": {"type": "string"}, "partition": {"type": "integer", "minimum": 0},
                   "offset": {"type": "integer", "minimum": 0}},
}  # fmt: skip
_ACCEPTED = {
    "type": "object", "required": ["status", "format", "bytes", "duplicate", "topic", "partition", "offset"],
    "additionalProperties": False,
    "properties": {
        "status": {"type": "string", "enum": ["accepted"]},
        "format": {"type": "string"},
        "bytes": {"type": "integer", "minimum": 1},
        "duplicate": {"type": "boolean", "description": "a re-send within the idempotency window: not published "
                      "again; topic, partition and offset are the first send's"},
        "topic": {"type": "string"}, "partition": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Location"},
                  "description": "a body over the record size, cut at its messages' boundaries: where each part went"},
    },
}  # fmt: skip


def _err(text: str, retry: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"description": text,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if retry:
        out["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return out


def _answers(*, auth: bool = True, formats: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "202": {"description": "acknowledged by Kafka (acks=all)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
        "400": _err("unreadable body (or a body of another version): it is in the dead-letter topic"),
        "413": _err("over the configured size, or too big for one Kafka record with no message boundary to cut it "
                    "at (then dead-lettered)"),
        "503": _err("Kafka did not acknowledge: nothing was accepted, send again after Retry-After", retry=True),
        "422": _err("the Idempotency-Key was used within the window for another body: not published"),
    }
    if auth:
        out["401"] = _err("no credentials; logged, never published")
        out["403"] = _err("wrong credentials or signature; logged, never published")
    if formats:
        out["415"] = _err("unknown format, or none recognised from the content: it is in the dead-letter topic")
    return out


_IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": 255},
    "description": "a re-send with the same key within the window gets the first answer and is not published again "
                   "(DCSA bodies without it are de-duplicated by their events' eventID and eventUpdatedDateTime)",
}  # fmt: skip
_DCSA_BODY = {"oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]}

_READINESS = {"type": "object", "required": ["ready", "reason"], "properties": {
    "ready": {"type": "boolean"}, "reason": {"type": "string", "nullable": True}}}


def document(formats: list[str]) -> dict[str, Any]:
    any_body = {"required": True, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "corridor gateway", "version": "1.0.0",
                 "description": "Carrier pushes into corridor's raw topics. See docs/connectors.md."},
        "paths": {
            "/ingest/{format}": {"post": {
                "summary": "A carrier message in the named format, published unchanged to corridor.raw.<format>",
                "operationId": "ingestFormat", "security": [{"bearer": []}, {"apiKey": []}],
                "parameters": [{"name": "format", "in": "path", "required": True,
                                "schema": {"type": "string", "enum": formats}}, _IDEMPOTENCY],
                "requestBody": any_body, "responses": _answers(formats=True)}},
            "/ingest": {"post": {
                "summary": "A carrier message whose format is recognised from its content",
                "operationId": "ingestDetected", "security": [{"bearer": []}, {"apiKey": []}],
                "parameters": [_IDEMPOTENCY], "requestBody": any_body, "responses": _answers(formats=True)}},
            "/v3/events": {"post": {
                "summary": "DCSA Track & Trace 3.0 subscriber endpoint: the publisher POSTs {\"events\": [...]}",
                "operationId": "dcsaV3Events", "security": [{"bearer": []}, {"apiKey": []}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _DCSA_BODY}}},
                "responses": _answers()}},
            "/v2/notifications/{source}": {
                "parameters": [{"name": "source", "in": "path", "required": True, "schema": {"type": "string"}}],
                "head": {"summary": "DCSA 2.2: the publisher's check that the callback URL exists",
                         "operationId": "dcsaV2Check", "security": [],
                         "responses": {"204": {"description": "a subscription is configured here"},
                                       "404": {"description": "no subscription here"}}},
                "post": {
                    "summary": "DCSA Track & Trace 2.2 subscription callback, signed with Notification-Signature",
                    "operationId": "dcsaV2Callback", "security": [],
                    "parameters": [
                        {"name": "Notification-Signature", "in": "header", "required": True,
                         "schema": {"type": "string", "example": "sha256=" + "0" * 64},
                         "description": "sha256=<hex HMAC-SHA256 of the body, keyed with the base64-decoded "
                                        "subscription secret>"},
                        _IDEMPOTENCY],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"type": "array", "items": {"type": "object"}}}}},
                    "responses": {**_answers(), "404": _err("no DCSA 2.2 subscription is configured at this URL")}},
            },
            "/health": {"get": {"summary": "Kafka connection and answers so far", "operationId": "health",
                                "security": [], "responses": {"200": {"description": "up", "content": {
                                    "application/json": {"schema": {"type": "object"}}}}}}},
            "/healthz": {"get": {"summary": "Liveness: the process answers", "operationId": "healthz",
                                 "security": [], "responses": {"200": {"description": "alive", "content": {
                                     "application/json": {"schema": {"type": "object"}}}}}}},
            "/readyz": {"get": {"summary": "Readiness: a Kafka bootstrap server accepts connections",
                                "operationId": "readyz", "security": [],
                                "responses": {code: {"description": what, "content": {"application/json": {
                                    "schema": _READINESS}}} for code, what in (("200", "ready"),
                                                                                ("503", "Kafka unreachable"))}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text exposition format)", "operationId": "metrics",
                                 "security": [], "responses": {"200": {"description": "the metrics", "content": {
                                     "text/plain": {"schema": {"type": "string"}}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {"Error": _ERROR, "Location": _LOCATION, "Accepted": _ACCEPTED},
        },
    }
