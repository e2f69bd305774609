"""docs/asyncapi.yaml: current, valid AsyncAPI 3.0, and complete (every topic, DLQ, event type, producer, consumer).

The document is validated against the official AsyncAPI 3.0.0 JSON Schema, committed as
infra/asyncapi/asyncapi-3.0.0.schema.json (from npm ``@asyncapi/specs``, pinned by infra/asyncapi/package-lock.json;
infra/tools/refresh-asyncapi-schema.sh refreshes it), so the test needs no Node.js and is never skipped. The
schema also checks the Kafka bindings (bindingVersion 0.5.0).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from llmops_kit.kafka import asyncapi
from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.registry import EVENT_TYPES
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, EXAMPLES
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
OFFICIAL_SCHEMA = ROOT / "infra" / "asyncapi" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="session")
def official_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    return schema


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def catalog() -> TopicCatalog:
    return TopicCatalog.load()


def schema_errors(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


# ------------------------------------------------------------------------------------ current and valid


def test_the_committed_document_is_current() -> None:
    problem = asyncapi.stale(DOCUMENT)
    assert problem is None, f"docs/asyncapi.yaml is stale; run `{asyncapi.WRITE_COMMAND}`: {problem}"


def test_check_fails_on_a_stale_or_missing_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "docs" / "asyncapi.yaml"
    output.parent.mkdir()
    assert asyncapi.main(["--check", "--output", str(output)]) == 1
    assert asyncapi.main(["--write", "--output", str(output)]) == 0
    assert asyncapi.main(["--check", "--output", str(output)]) == 0
    capsys.readouterr()

    output.write_text(output.read_text().replace("llmops.feedback.received:", "llmops.feedback.given:"))
    assert asyncapi.main(["--check", "--output", str(output)]) == 1
    report = capsys.readouterr().err
    assert asyncapi.WRITE_COMMAND in report and "llmops.feedback.given" in report


def test_a_catalog_change_makes_the_document_stale(catalog: TopicCatalog) -> None:
    spec = catalog.get("llmops.calls.recorded")
    grown = catalog.model_copy(
        update={"topics": [t if t is not spec else spec.model_copy(update={"partitions": 12}) for t in catalog.topics]}
    )
    assert asyncapi.stale(DOCUMENT, grown) is not None


def test_the_document_is_valid_asyncapi_3(official_schema: dict[str, Any], document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    errors = schema_errors(official_schema, document)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(
            lambda d: d["operations"]["ingest.send.llmops.calls.recorded"].update(action="publish"), id="action"
        ),
        pytest.param(lambda d: d["channels"]["llmops.alerts"].update(topic="llmops.alerts"), id="unknown-channel-key"),
        pytest.param(
            lambda d: d["channels"]["llmops.alerts"]["bindings"]["kafka"].update(partitions="three"), id="binding-type"
        ),
        pytest.param(lambda d: d["info"].pop("version"), id="info-without-version"),
    ],
)
def test_the_official_schema_rejects_broken_documents(
    official_schema: dict[str, Any], document: dict[str, Any], mutation: Any
) -> None:
    broken = copy.deepcopy(document)
    mutation(broken)
    assert schema_errors(official_schema, broken)


# ------------------------------------------------------------------------------------------ complete


def test_every_catalog_topic_and_dlq_is_a_channel(document: dict[str, Any], catalog: TopicCatalog) -> None:
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(catalog.all_topic_names())
    for spec in catalog.topics:
        kafka = document["channels"][spec.name]["bindings"]["kafka"]
        assert (kafka["topic"], kafka["partitions"]) == (spec.name, spec.partitions)
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.cleanup_policy]


def test_every_registered_event_type_is_a_message_on_its_topic(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for event_type, cls in EVENT_TYPES.items():
        assert messages[event_type]["name"] == event_type
        assert {"$ref": f"#/components/messages/{event_type}"} in document["channels"][cls.topic]["messages"].values()


def test_producers_send_and_consumers_receive_as_the_catalog_says(
    document: dict[str, Any], catalog: TopicCatalog
) -> None:
    declared = {
        (op["x-llmops-service"], op["action"], op["channel"]["$ref"].removeprefix("#/channels/"))
        for op in document["operations"].values()
    }
    expected = set()
    for spec in catalog.topics:
        expected |= {(service, "send", spec.name) for service in spec.producers}
        expected |= {(service, "receive", spec.name) for service in spec.consumers}
        if spec.dlq_name:
            expected |= {(service, "send", spec.dlq_name) for service in spec.consumers}
    assert declared == expected


def test_dead_letter_headers_are_the_ones_the_consumer_loop_writes() -> None:
    source = (ROOT / "kit" / "src" / "llmops_kit" / "kafka" / "consumer.py").read_text(encoding="utf-8")
    for header in asyncapi.DLQ_HEADERS:
        assert f'"{header}"' in source, header


def test_generation_refuses_a_topic_without_a_contract(catalog: TopicCatalog) -> None:
    orphan = catalog.topics[1].model_copy(update={"name": "llmops.orphans.found"})
    with pytest.raises(ValueError, match=r"llmops\.orphans\.found"):
        asyncapi.generate(catalog.model_copy(update={"topics": [*catalog.topics, orphan]}), DOCUMENT)


# -------------------------------------------------------------------------------- payloads resolve


def payload_validator(document: dict[str, Any], message_id: str) -> jsonschema.Validator:
    """A validator of one message's payload, its relative ``$ref`` s resolved to the committed files."""
    resources = [
        (path.resolve().as_uri(), Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))))
        for path in (ROOT / "schemas" / "json").glob("*.json")
        if path.name != "index.json"  # the table of contents, not a schema
    ]
    payload = {"$id": DOCUMENT.resolve().as_uri(), **document["components"]["messages"][message_id]["payload"]}
    return jsonschema.Draft202012Validator(payload, registry=Registry().with_resources(resources))


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_each_message_payload_accepts_its_example_event(document: dict[str, Any], event_type: str) -> None:
    cls = EVENT_TYPES[event_type]
    event = {**ENVELOPE_EXAMPLE, "type": event_type, "dataschema": cls.dataschema(), "data": EXAMPLES[cls]}
    validator = payload_validator(document, event_type)
    validator.validate(event)
    assert not validator.is_valid({**event, "type": "llmops.other.thing.v1"})
    assert not validator.is_valid({**event, "data": {**EXAMPLES[cls], "unexpected_field": 1}})


def test_the_raw_topic_carries_a_bare_call_record(document: dict[str, Any]) -> None:
    call = EVENT_TYPES["llmops.call.recorded.v2"]
    validator = payload_validator(document, "llmops.call.recorded.v2.raw")
    validator.validate(EXAMPLES[call])
    assert not validator.is_valid({**ENVELOPE_EXAMPLE, "data": EXAMPLES[call]})
