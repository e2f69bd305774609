"""The committed JSON Schemas (schemas/json) are exactly what the models generate, and they are true."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from llmops_schemas import jsonschema as generator
from llmops_schemas.envelope import EventPayload
from llmops_schemas.registry import EVENT_TYPES, parse_event
from llmops_schemas.v1.common import CompactedPayload
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas" / "json"


def committed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return document


def test_generator_writes_to_the_committed_directory() -> None:
    assert generator.DEFAULT_DIR.resolve() == SCHEMA_DIR.resolve()


def test_committed_schemas_are_up_to_date() -> None:
    problems = generator.stale_files(SCHEMA_DIR)
    details = "\n".join(f"- {name}: {problem}" for name, problem in problems.items())
    assert not problems, f"the committed JSON Schemas are stale; run `{generator.WRITE_COMMAND}`:\n{details}"


def test_check_and_write_detect_and_fix_every_kind_of_staleness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generator.main(["--check", "--dir", str(tmp_path)]) == 1
    assert generator.main(["--write", "--dir", str(tmp_path)]) == 0
    assert generator.main(["--check", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()

    changed = tmp_path / "llmops.call.recorded.v1.json"
    changed.write_text(changed.read_text().replace('"call_id"', '"call_identifier"'))
    (tmp_path / "llmops.feedback.received.v1.json").unlink()
    (tmp_path / "llmops.call.deleted.v1.json").write_text("{}\n")
    assert generator.main(["--check", "--dir", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    assert generator.WRITE_COMMAND in report
    assert "llmops.call.recorded.v1.json: differs" in report and "call_identifier" in report
    assert "llmops.feedback.received.v1.json: missing" in report
    assert "llmops.call.deleted.v1.json: not generated" in report

    assert generator.main(["--write", "--dir", str(tmp_path)]) == 0
    assert generator.main(["--check", "--dir", str(tmp_path)]) == 0
    assert not (tmp_path / "llmops.call.deleted.v1.json").exists()


def test_output_is_stable_text() -> None:
    for name, document in generator.generate().items():
        text = generator.render(document)
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        assert json.loads(text) == document
        assert generator.render(json.loads(text)) == text, f"{name} does not render stably"
    assert generator.generate() == generator.generate()


def test_index_lists_every_event_type() -> None:
    index = committed(generator.INDEX_FILE)
    assert set(index["events"]) == set(EVENT_TYPES)
    for event_type, entry in index["events"].items():
        cls = EVENT_TYPES[event_type]
        assert entry["topic"] == cls.topic
        assert (SCHEMA_DIR / entry["schema"]).is_file()
        assert committed(entry["schema"])["$id"] == cls.dataschema()
    assert (SCHEMA_DIR / index["envelope"]).is_file()


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=[c.__name__ for c in EXAMPLES])
def test_examples_validate_against_the_committed_schema(cls: type[EventPayload]) -> None:
    validator = Draft202012Validator(committed(f"{cls.event_type}.json"), format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(EXAMPLES[cls])]
    assert not errors
    # What a Python producer actually emits is valid too.
    emitted = json.loads(cls.model_validate(EXAMPLES[cls]).model_dump_json(exclude_none=True))
    assert not list(validator.iter_errors(emitted))


def test_schemas_refuse_what_the_models_refuse() -> None:
    cost = Draft202012Validator(committed("llmops.cost.recorded.v1.json"))
    example = EXAMPLES[next(c for c in EXAMPLES if c.event_type == "llmops.cost.recorded.v1")]
    assert not cost.is_valid({**example, "cost": 0.000009}), "amounts are strings, never JSON numbers"
    assert not cost.is_valid({**example, "cost": "9e-6"})
    assert not cost.is_valid({**example, "surprise": True}), "producers may not add fields"
    assert not cost.is_valid({k: v for k, v in example.items() if k != "call_id"})


def test_envelope_schema_describes_the_wire() -> None:
    envelope = committed(generator.ENVELOPE_FILE)
    validator = Draft202012Validator(envelope, format_checker=FormatChecker())
    assert not list(validator.iter_errors(ENVELOPE_EXAMPLE))
    assert {"id", "specversion", "source", "type", "tenantid", "data"} <= set(envelope["required"])
    assert "tenantid" in envelope["properties"] and "tenant_id" not in envelope["properties"]
    assert not validator.is_valid({k: v for k, v in ENVELOPE_EXAMPLE.items() if k != "id"})


def test_docs_list_every_event_type_and_topic() -> None:
    docs = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    for event_type, cls in EVENT_TYPES.items():
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{event_type}`")), None)
        assert row is not None, f"docs/events.md has no table row for {event_type}"
        assert f"`{cls.topic}`" in row, f"docs/events.md gives {event_type} another topic than {cls.topic}"


def test_topics_exist_in_the_topic_catalog() -> None:
    catalog = ROOT / "infra" / "kafka" / "topics.yaml"
    if not catalog.exists():
        pytest.skip("infra/kafka/topics.yaml is not there yet")
    topics = {t["name"]: t for t in yaml.safe_load(catalog.read_text(encoding="utf-8"))["topics"]}
    missing = sorted({cls.topic for cls in EVENT_TYPES.values()} - topics.keys())
    assert not missing, f"topics used by payloads but missing from topics.yaml: {missing}"
    for event_type, cls in EVENT_TYPES.items():
        policy = topics[cls.topic].get("cleanup_policy")
        expected = "compact" if issubclass(cls, CompactedPayload) else "delete"
        assert policy == expected, f"{event_type} is a {expected} payload on a {policy} topic"


def test_the_documented_envelope_example_is_a_valid_event() -> None:
    docs = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    block = re.search(r"## The envelope on the wire\s+```json\n(.*?)```", docs, re.DOTALL)
    assert block, "docs/events.md lost its envelope example"
    event = parse_event(block.group(1).encode())
    assert event.type == "llmops.call.recorded.v2"
    assert json.loads(block.group(1))["data"] == ENVELOPE_EXAMPLE["data"]
