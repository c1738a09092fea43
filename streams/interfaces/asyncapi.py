"""The AsyncAPI 3.0 document of corridor's topics, generated from the topic specifications (topics.py SPECS and
TOPIC_CONFIG) and the JSON Schemas in schemas/json/: `python -m streams.interfaces.asyncapi` writes
schemas/asyncapi.yaml, and a test fails when the file and the code disagree.

Operations are corridor's: it receives the inputs and sends the outputs; internal topics it does both. Channel
addresses use the default prefix (CORRIDOR_TOPIC_PREFIX changes it); the Kafka bindings give the default
partitions and replication (CORRIDOR_PARTITIONS, CORRIDOR_REPLICATION) and the production configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from schemas.topics import RAW_CONFIG, RAW_SUFFIX, SPECS, TOPIC_CONFIG, TopicNames, TopicSpec
from streams.settings import Settings

PATH = Path(__file__).resolve().parents[2] / "schemas" / "asyncapi.yaml"
BINDING = "0.5.0"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"  # what schemas/generate.py writes
WORKER_GROUP = Settings.model_fields["app_id"].default  # the Faust app id is the workers' consumer group


def _camel(role: str) -> str:
    head, *rest = role.split("_")
    return head + "".join(w.title() for w in rest)


def _config(policy: str, retention: int | None) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [policy]}
    if retention is not None:
        config["retention.ms"] = retention
    return config


def _channel(address: str, description: str, message: str, config: dict[str, Any],
             parameters: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    channel: dict[str, Any] = {
        "address": address,
        "description": description,
        "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        "bindings": {"kafka": {
            "partitions": Settings.model_fields["partitions"].default,
            "replicas": Settings.model_fields["replication"].default,
            "topicConfiguration": config,
            "bindingVersion": BINDING,
        }},
    }
    if parameters:
        channel["parameters"] = parameters
    else:
        channel["bindings"]["kafka"]["topic"] = address
    return channel


def _key(spec: TopicSpec) -> dict[str, Any]:
    if spec.key.startswith("none"):
        return {"type": "null", "description": spec.key}
    return {"type": "string", "description": spec.key}


def _message(spec: TopicSpec) -> dict[str, Any]:
    if spec.schema.endswith(".schema.json"):
        payload: dict[str, Any] = {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": f"json/{spec.schema}"}}
        content = "application/json"
    else:  # internal, no published schema
        payload = {"type": "object", "description": f"{spec.description} (internal: no published schema)"}
        content = "application/json"
    return {
        "name": spec.role,
        "title": spec.description[0].upper() + spec.description[1:],
        "contentType": content,
        "payload": payload,
        "bindings": {"kafka": {"key": _key(spec), "bindingVersion": BINDING}},
    }


def _operations(role: str, direction: str) -> dict[str, Any]:
    actions = {"in": ["receive"], "out": ["send"], "internal": ["send", "receive"]}[direction]
    ops = {}
    for action in actions:
        op: dict[str, Any] = {"action": action, "channel": {"$ref": f"#/channels/{role}"},
                              "messages": [{"$ref": f"#/channels/{role}/messages/{role}"}]}  # fmt: skip
        if action == "receive":
            op["bindings"] = {"kafka": {"groupId": {"type": "string", "const": WORKER_GROUP},
                                        "bindingVersion": BINDING}}  # fmt: skip
        ops[f"{action}{_camel(role)[0].upper()}{_camel(role)[1:]}"] = op
    return ops


def document() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from streams.consumers.notify.messages import NotifyDeadLetter
    from streams.consumers.notify.service import dead_letter_topic

    try:
        app_version = version("corridor")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
        app_version = "0.0.0"
    names = TopicNames()
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in SPECS:
        channels[spec.role] = _channel(names.name(spec.role), spec.description, spec.role,
                                       _config(*TOPIC_CONFIG[spec.role]))  # fmt: skip
        messages[spec.role] = _message(spec)
        operations.update(_operations(spec.role, spec.direction))

    channels["raw"] = _channel(
        f"{names.prefix}{RAW_SUFFIX}{{format}}",
        "carrier messages as they were sent, one topic per format; the worker's ingest parses them into "
        "canonical events (refusals go to the dead-letter topic)", "raw", _config(*RAW_CONFIG),
        parameters={"format": {"description": "the format's name, as `corridor formats` lists them (e.g. edifact, "
                               "dcsa-tnt-3.0)"}})  # fmt: skip
    messages["raw"] = {
        "name": "raw", "title": "A carrier message, byte for byte", "contentType": "application/octet-stream",
        "payload": {"type": "string", "description": "the message in its format (EDIFACT, Cargo-IMP, XML, JSON...)"},
        "bindings": {"kafka": {"key": {"type": "string", "description": "any (road pings: the vehicle)"},
                               "bindingVersion": BINDING}},
    }
    operations.update(_operations("raw", "in"))

    notify_dead = dead_letter_topic(names.prefix)
    channels["notifyDeadLetter"] = _channel(notify_dead, "notify's messages that every delivery attempt failed",
                                            "notifyDeadLetter", _config(*TOPIC_CONFIG["dead_letter"]))  # fmt: skip
    schema = NotifyDeadLetter.model_json_schema(mode="serialization")
    messages["notifyDeadLetter"] = {
        "name": "notifyDeadLetter", "title": "A notification that could not be delivered",
        "contentType": "application/json", "payload": {"schemaFormat": SCHEMA_FORMAT, "schema": schema},
        "bindings": {"kafka": {"key": {"type": "string", "description": "unit id"}, "bindingVersion": BINDING}},
    }
    operations["sendNotifyDeadLetter"] = {"action": "send", "channel": {"$ref": "#/channels/notifyDeadLetter"},
                                          "messages": [{"$ref": "#/channels/notifyDeadLetter/messages/"
                                                        "notifyDeadLetter"}]}  # fmt: skip
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "corridor",
            "version": app_version,
            "description": "Live tracking of multimodal freight on Kafka: the topics corridor reads and writes. "
            "Every keyed topic has the same partition count (co-partitioned by unit or shipment). Generated from "
            "schemas/topics.py by `python -m streams.interfaces.asyncapi`; do not edit.",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {
            "host": "{bootstrap}", "protocol": "kafka",
            "description": "the Kafka cluster (CORRIDOR_BROKER)",
            "variables": {"bootstrap": {"default": "localhost:9092", "description": "a bootstrap server host:port"}},
        }},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=120)


def write(path: Path = PATH) -> bool:
    """Write the document; True if the file changed."""
    text = render()
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


if __name__ == "__main__":
    print(f"{'wrote' if write() else 'unchanged'} {PATH}")
