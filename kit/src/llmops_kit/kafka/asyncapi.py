"""The AsyncAPI 3.0 document of every topic (``docs/asyncapi.yaml``), generated from the catalog and the contracts.

    uv run python -m llmops_kit.kafka.asyncapi --write    # regenerate docs/asyncapi.yaml
    uv run python -m llmops_kit.kafka.asyncapi --check    # exit 1 (with a diff) when it is stale

Channels are the topics of ``infra/kafka/topics.yaml`` and their DLQs; messages are the registered event
types (:data:`llmops_schemas.registry.EVENT_TYPES`), each a CloudEvents envelope whose ``data`` is the payload,
both by ``$ref`` to the committed JSON Schemas in ``schemas/json`` (so the document never restates a contract);
operations say which service sends to and which receives from each channel (the catalog's ``producers`` and
``consumers``; every consumer of a topic with ``dlq: true`` sends to its DLQ). It lives in the kit, not in
``llmops_schemas``, because it reads the catalog and the contracts must not import the kit (ADR 0011).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from llmops_schemas import jsonschema as contracts
from llmops_schemas.envelope import EventPayload
from llmops_schemas.registry import EVENT_TYPES

from llmops_kit.infra.paths import repo_root
from llmops_kit.kafka.topics import TopicCatalog, TopicSpec, dlq_topic

__all__ = [
    "ASYNCAPI_VERSION",
    "DLQ_HEADERS",
    "RAW_TOPICS",
    "STATE_TOPICS",
    "WRITE_COMMAND",
    "default_output",
    "generate",
    "main",
    "render",
    "stale",
]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
WRITE_COMMAND = "uv run python -m llmops_kit.kafka.asyncapi --write"
CLOUDEVENTS_JSON = "application/cloudevents+json"

RAW_TOPICS: dict[str, str] = {"llmops.calls.raw": "llmops.call.recorded.v2"}
"""Topics whose records are a bare payload, not a CloudEvent: topic -> the event type of that payload.

``llmops.calls.raw`` carries one CallRecorded JSON object per record from producers that speak Kafka directly
(the ingest service's raw consumer validates and wraps it; it also takes the v1 shape, which it upcasts). Every
other catalog topic must carry a registered event type, or :func:`generate` refuses to describe it.
"""

DLQ_HEADERS: dict[str, str] = {
    "dlq.error": "Why the record could not be processed",
    "dlq.error_type": "The exception class",
    "dlq.source_topic": "The topic the record was read from",
    "dlq.source_partition": "Its partition",
    "dlq.source_offset": "Its offset",
    "dlq.consumer_group": "The consumer group that gave up on it",
    "dlq.failed_at": "When (ISO 8601, UTC)",
}
"""The headers the kit's consumer loop adds to a dead-lettered record (llmops_kit.kafka.consumer)."""


def default_output() -> Path:
    """``<repo>/docs/asyncapi.yaml``."""
    return repo_root() / "docs" / "asyncapi.yaml"


def _kafka(**fields: Any) -> dict[str, Any]:
    return {"kafka": {**fields, "bindingVersion": KAFKA_BINDING_VERSION}}


def _event_message(cls: type[EventPayload], spec: TopicSpec, refs: str) -> dict[str, Any]:
    envelope = {
        "type": "object",
        "properties": {
            "type": {"const": cls.event_type},
            "dataschema": {"const": cls.dataschema()},
            "data": {"$ref": f"{refs}/{contracts.schema_file(cls.event_type)}"},
        },
    }
    return {
        "name": cls.event_type,
        "title": cls.__name__,
        "summary": (cls.__doc__ or cls.event_type).strip().splitlines()[0],
        "contentType": CLOUDEVENTS_JSON,
        "payload": {"allOf": [{"$ref": f"{refs}/{contracts.ENVELOPE_FILE}"}, envelope]},
        "bindings": _kafka(key={"type": "string", "description": spec.key}),
    }


STATE_TOPICS: dict[str, str] = {
    "llmops.drift.windows": "drift-detection's windows table (faust): one call's features in one open window",
    "llmops.drift.references": "drift-detection's references table (faust): one scope's reference window",
}
"""Changelog topics of a stream processor's tables: internal state, read and written by their service only, in the
processor's own JSON (not a contract; docs/adr/0046)."""


def _state_message(spec: TopicSpec) -> dict[str, Any]:
    return {
        "name": "table-changelog",
        "title": "Table changelog record",
        "summary": STATE_TOPICS[spec.name],
        "contentType": "application/json",
        "payload": {"description": "The table entry as the service's faust worker wrote it; null deletes it"},
        "bindings": _kafka(key={"type": "string", "description": spec.key}),
    }


def _raw_message(event_type: str, spec: TopicSpec, refs: str) -> dict[str, Any]:
    tenant = {"type": "string", "description": "The tenant (else the record key names it; both must agree)"}
    return {
        "name": f"{event_type}.raw",
        "title": f"{EVENT_TYPES[event_type].__name__} (raw)",
        "summary": f"A bare {event_type} payload, not yet validated nor wrapped in a CloudEvent",
        "contentType": "application/json",
        "headers": {"type": "object", "properties": {"tenant_id": tenant}},
        "payload": {"$ref": f"{refs}/{contracts.schema_file(event_type)}"},
        "bindings": _kafka(key={"type": "string", "description": spec.key}),
    }


def _dead_letter_message() -> dict[str, Any]:
    headers = {name: {"type": "string", "description": text} for name, text in DLQ_HEADERS.items()}
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record a consumer could not process: the original key and value, byte for byte, and why",
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "required": sorted(headers), "properties": headers},
        "payload": {"description": "The original record value (it may not be JSON)"},
    }


def _messages(catalog: TopicCatalog, refs: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Topic name -> message id -> message; raises ``ValueError`` for a topic no contract describes."""
    by_topic: dict[str, dict[str, dict[str, Any]]] = {}
    for spec in catalog.topics:
        if spec.name in RAW_TOPICS:
            by_topic[spec.name] = {f"{RAW_TOPICS[spec.name]}.raw": _raw_message(RAW_TOPICS[spec.name], spec, refs)}
            continue
        if spec.name in STATE_TOPICS:
            by_topic[spec.name] = {"table-changelog": _state_message(spec)}
            continue
        types = {t: _event_message(cls, spec, refs) for t, cls in EVENT_TYPES.items() if cls.topic == spec.name}
        if not types:
            raise ValueError(f"topic {spec.name!r} carries no registered event type: add its payload class")
        by_topic[spec.name] = types
    unknown = sorted({cls.topic for cls in EVENT_TYPES.values()} - set(catalog.names()))
    if unknown:
        raise ValueError(f"event types are published to topics missing from the catalog: {unknown}")
    return by_topic


def _channel(spec: TopicSpec, messages: dict[str, dict[str, Any]], catalog: TopicCatalog) -> dict[str, Any]:
    config: dict[str, Any] = {"cleanup.policy": [spec.cleanup_policy]}
    if spec.retention is not None:
        config["retention.ms"] = spec.retention
    description = " ".join(spec.description.split())
    if spec.cleanup_policy == "compact":
        description += " Compacted: the latest record per key wins; a record with a null value deletes the key."
    return {
        "address": spec.name,
        "description": description,
        "messages": {mid: {"$ref": f"#/components/messages/{mid}"} for mid in messages},
        "bindings": _kafka(
            topic=spec.name,
            partitions=spec.partitions,
            replicas=catalog.defaults.replication_factor,
            topicConfiguration=config,
        ),
    }


def _dlq_channel(spec: TopicSpec, catalog: TopicCatalog) -> dict[str, Any]:
    configs = catalog.dlq_configs(spec)
    return {
        "address": dlq_topic(spec.name),
        "description": f"Records of {spec.name} that its consumers could not process (nothing is dropped silently).",
        "messages": {"dead-letter": {"$ref": "#/components/messages/dead-letter"}},
        "bindings": _kafka(
            topic=dlq_topic(spec.name),
            partitions=catalog.defaults.dlq_partitions,
            replicas=catalog.defaults.replication_factor,
            topicConfiguration={"cleanup.policy": ["delete"], "retention.ms": int(configs["retention.ms"])},
        ),
    }


def _operation(service: str, action: str, channel: str, message_ids: Sequence[str]) -> dict[str, Any]:
    verb = "publishes to" if action == "send" else "consumes"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{service} {verb} {channel}",
        "tags": [{"name": service}],
        "messages": [{"$ref": f"#/channels/{channel}/messages/{mid}"} for mid in message_ids],
        "x-llmops-service": service,
    }


def _operations(catalog: TopicCatalog, messages: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for spec in catalog.topics:
        ids = list(messages[spec.name])
        for service in spec.producers:
            operations[f"{service}.send.{spec.name}"] = _operation(service, "send", spec.name, ids)
        for service in spec.consumers:
            operations[f"{service}.receive.{spec.name}"] = _operation(service, "receive", spec.name, ids)
            if spec.dlq_name:
                operations[f"{service}.send.{spec.dlq_name}"] = _operation(
                    service, "send", spec.dlq_name, ["dead-letter"]
                )
    return operations


def generate(catalog: TopicCatalog, output: Path, schema_dir: Path = contracts.DEFAULT_DIR) -> dict[str, Any]:
    """The document for ``catalog``; payload ``$ref`` s are relative to ``output``'s directory."""
    refs = Path(os.path.relpath(schema_dir.resolve(), output.resolve().parent)).as_posix()
    messages = _messages(catalog, refs)
    channels: dict[str, Any] = {}
    for spec in catalog.topics:
        channels[spec.name] = _channel(spec, messages[spec.name], catalog)
        if spec.dlq_name:
            channels[spec.dlq_name] = _dlq_channel(spec, catalog)
    components = {mid: message for by_id in messages.values() for mid, message in by_id.items()}
    components["dead-letter"] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "LLMOps platform events",
            "version": str(catalog.version),
            "description": (
                "Every Kafka topic of the platform (infra/kafka/topics.yaml), the events on it and the services "
                f"that publish and consume them. Generated by `{WRITE_COMMAND}`; do not edit. See docs/events.md."
            ),
        },
        "defaultContentType": CLOUDEVENTS_JSON,
        "servers": {
            "local": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "`make run` and docker compose; elsewhere KAFKA_BOOTSTRAP_SERVERS",
            }
        },
        "channels": channels,
        "operations": _operations(catalog, messages),
        "components": {"messages": dict(sorted(components.items()))},
    }


def render(document: dict[str, Any]) -> str:
    """The committed text: a do-not-edit header, then YAML in the document's own key order."""
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    return f"# Generated from infra/kafka/topics.yaml and schemas/ by `{WRITE_COMMAND}`; do not edit.\n{body}"


def stale(output: Path, catalog: TopicCatalog | None = None) -> str | None:
    """What is wrong with the committed document at ``output`` (None when it is current)."""
    expected = render(generate(catalog or TopicCatalog.load(), output))
    if not output.is_file():
        return "missing"
    return contracts.describe_difference(output.read_text(encoding="utf-8"), expected, output.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmops_kit.kafka.asyncapi", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the document")
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    parser.add_argument("--output", type=Path, default=None, help="document path (default docs/asyncapi.yaml)")
    args = parser.parse_args(argv)
    output: Path = args.output or default_output()
    if args.write:
        output.write_text(render(generate(TopicCatalog.load(), output)), encoding="utf-8")
        print(f"wrote {output}")
        return 0
    problem = stale(output)
    if problem is None:
        print(f"{output} is up to date")
        return 0
    print(f"{output} is stale; run `{WRITE_COMMAND}`: {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
