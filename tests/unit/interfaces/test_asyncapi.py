"""schemas/asyncapi.yaml: generated from the topic specifications, valid AsyncAPI 3.0, and complete."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from schemas.topics import SPECS, TOPIC_CONFIG, TopicNames
from streams.interfaces.asyncapi import PATH, document, render

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "data" / "asyncapi-3.0.0.schema.json").read_text())


def test_the_document_is_what_the_code_generates() -> None:
    assert PATH.read_text() == render(), "schemas/asyncapi.yaml is stale: run `python -m streams.interfaces.asyncapi`"


def test_the_document_is_valid_asyncapi_3() -> None:
    jsonschema.validate(yaml.safe_load(PATH.read_text()), SCHEMA, cls=jsonschema.Draft7Validator)


def test_an_invalid_document_is_refused() -> None:
    doc = document()
    doc["channels"]["plan"]["bindings"]["kafka"]["partitions"] = "four"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft7Validator)


def test_every_topic_has_a_channel_with_its_key_schema_and_configuration() -> None:
    doc, names = document(), TopicNames()
    for spec in SPECS:
        channel = doc["channels"][spec.role]
        assert channel["address"] == names.name(spec.role)
        kafka = channel["bindings"]["kafka"]
        policy, retention = TOPIC_CONFIG[spec.role]
        assert kafka["topicConfiguration"]["cleanup.policy"] == [policy]
        assert kafka["topicConfiguration"].get("retention.ms") == retention
        message = doc["components"]["messages"][spec.role]
        assert spec.key in message["bindings"]["kafka"]["key"]["description"]
        if spec.schema.endswith(".schema.json"):  # the published schema file, which exists
            ref = message["payload"]["schema"]["$ref"]
            assert (PATH.parent / ref).is_file() and ref.endswith(spec.schema)
    # The carrier formats' topics and notify's dead letters are there too.
    assert doc["channels"]["raw"]["address"] == "corridor.raw.{format}"
    assert doc["channels"]["notifyDeadLetter"]["address"] == "corridor.notify.dead-letters"


def test_every_reference_resolves() -> None:
    doc = document()

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
                r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        if not ref.startswith("#/"):
            continue  # the schema files, checked above
        target: object = doc
        for part in ref[2:].split("/"):
            target = target[part]  # type: ignore[index]
        assert isinstance(target, dict), ref
