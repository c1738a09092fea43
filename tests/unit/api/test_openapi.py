"""The OpenAPI document in the repository is the one the code generates, and it covers every API route."""

from __future__ import annotations

import orjson

from streams.api import openapi
from streams.api.views import ROUTES


def test_openapi_json_in_the_repository_matches_the_code():
    assert openapi.PATH.read_bytes() == openapi.render(), (
        "streams/api/openapi.json is out of date: run `python -m streams.api.openapi`")


def test_document_is_openapi_3_1_and_every_reference_resolves():
    doc = openapi.document()
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    for name in ("Timeline", "DelayAlert", "EtaUpdate", "Plan", "UnitDetail", "AlertPage", "ApiError"):
        assert name in schemas
    text = orjson.dumps(doc).decode()
    refs = {part.split('"')[0] for part in text.split('"$ref":"#/components/schemas/')[1:]}
    assert refs <= schemas.keys()


def test_every_api_route_is_documented_and_nothing_else():
    served = {path for path, _ in ROUTES if path.startswith(("/api/", "/healthz", "/readyz")) and "{tail" not in path}
    assert served == set(openapi.document()["paths"])
