"""The registry: type lookup, parse_event (tolerant, one error type), record keys and the upcaster hook."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.registry import (
    EVENT_TYPES,
    UPCASTERS,
    EventValidationError,
    UnknownEventTypeError,
    UpcasterRegistry,
    parse_event,
    payload_class,
    record_key,
    tolerant_validate,
    with_payload,
)
from llmops_schemas.v1 import PAYLOADS as V1_PAYLOADS
from llmops_schemas.v1 import CompactedPayload, PolicyPublished, PromptVersionPublished
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, example, example_data
from llmops_schemas.v2 import PAYLOADS as V2_PAYLOADS
from llmops_schemas.v2 import CallRecorded

PAYLOADS = tuple(cls for cls in EVENT_TYPES.values() if cls.event_type not in UPCASTERS.types())
"""The newest version of every fact: what parse_event returns (older versions are upcast to these)."""


def wire(cls: type[EventPayload], **envelope: Any) -> dict[str, Any]:
    """The JSON document of an event carrying the example of ``cls``."""
    event = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t-1")
    return {**json.loads(event.to_json_bytes()), **envelope}


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


# --- lookup -----------------------------------------------------------------------------------------


def test_every_payload_is_registered_under_its_type() -> None:
    assert dict(EVENT_TYPES) == {cls.event_type: cls for cls in (*V1_PAYLOADS, *V2_PAYLOADS)}
    assert list(EVENT_TYPES) == sorted(EVENT_TYPES)
    for event_type, cls in EVENT_TYPES.items():
        assert payload_class(event_type) is cls


def test_unknown_type_is_a_key_error_naming_the_known_types() -> None:
    with pytest.raises(KeyError) as caught:
        payload_class("llmops.call.recorded.v9")
    assert isinstance(caught.value, UnknownEventTypeError)
    message = str(caught.value)
    assert "unknown event type 'llmops.call.recorded.v9'" in message
    assert "llmops.call.recorded.v2" in message


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        EVENT_TYPES["llmops.x.y.v1"] = CallRecorded  # type: ignore[index]


# --- parse_event ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", PAYLOADS, ids=[c.__name__ for c in PAYLOADS])
def test_parse_event_round_trips_every_type(cls: type[EventPayload]) -> None:
    original = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t-1")
    parsed = parse_event(original.to_json_bytes())
    assert type(parsed.data) is cls
    assert parsed.data == original.data
    assert (parsed.id, parsed.type, parsed.tenant_id, parsed.trace_id, parsed.time) == (
        original.id,
        original.type,
        original.tenant_id,
        original.trace_id,
        original.time,
    )
    assert parsed.to_json_bytes() == original.to_json_bytes()


@pytest.mark.parametrize("cls", PAYLOADS, ids=[c.__name__ for c in PAYLOADS])
@pytest.mark.parametrize("expect", [CallRecorded, PolicyPublished], ids=["expect-calls", "expect-policies"])
def test_expecting_a_type_never_changes_the_result(cls: type[EventPayload], expect: type[EventPayload]) -> None:
    """The ``expect`` fast path (validate straight from bytes) and the general path agree on every type."""
    raw = CloudEvent.wrap(example(cls), source="/tests", tenant_id="acme", trace_id="t-1").to_json_bytes()
    fast, general = parse_event(raw, expect=expect), parse_event(raw)
    assert type(fast.data) is cls
    assert fast == general
    assert fast.to_json_bytes() == general.to_json_bytes()


def test_an_expected_event_is_validated_straight_from_the_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path really runs: with ``json.loads`` unusable, only the general path would fail."""
    import llmops_schemas.registry as registry

    def unusable(*_: object, **__: object) -> None:
        raise AssertionError("the general path ran")

    monkeypatch.setattr(registry.json, "loads", unusable)
    raw = CloudEvent.wrap(example(CallRecorded), source="/tests", tenant_id="acme").to_json_bytes()
    assert parse_event(raw, expect=CallRecorded).data == example(CallRecorded)
    other = CloudEvent.wrap(example(PolicyPublished), source="/tests", tenant_id="acme").to_json_bytes()
    with pytest.raises(AssertionError, match="general path"):
        parse_event(other, expect=CallRecorded)


def test_expecting_a_type_still_reads_tolerantly() -> None:
    document = wire(CallRecorded, partitionkey="p-1")
    document["data"]["sentiment"] = "positive"
    assert parse_event(encode(document), expect=CallRecorded).data == example(CallRecorded)


def test_parse_event_accepts_the_documented_example_and_text() -> None:
    event = parse_event(json.dumps(ENVELOPE_EXAMPLE))
    assert isinstance(event.data, CallRecorded)
    assert event.tenant_id == "acme"
    assert event.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_consumer_ignores_unknown_envelope_extensions_and_payload_fields() -> None:
    document = wire(CallRecorded, partitionkey="p-1")
    document["data"]["sentiment"] = "positive"
    document["data"]["usage"]["audio_tokens"] = 3
    document["data"]["messages"][0]["cache_control"] = {"type": "ephemeral"}
    document["data"]["prompt"]["hash"] = "abc"
    event = parse_event(encode(document))
    assert event.data == example(CallRecorded)


def test_unknown_fields_inside_a_discriminated_union_are_ignored() -> None:
    data = example_data(PolicyPublished)
    data["settings"]["locale"] = "de"
    assert tolerant_validate(PolicyPublished, data) == example(PolicyPublished)
    with pytest.raises(ValueError, match="locale"):
        PolicyPublished.model_validate(data)


def test_tolerant_reading_still_validates_known_fields() -> None:
    data = example_data(PromptVersionPublished)
    data["template"][0]["extra"] = 1
    data["version"] = 0
    with pytest.raises(ValueError, match="version"):
        tolerant_validate(PromptVersionPublished, data)


BROKEN: list[tuple[bytes, str]] = [
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"specversion": "1.0",', "not valid JSON"),
    (b"[1, 2]", "must be a JSON object, got list"),
    (b"null", "must be a JSON object, got NoneType"),
    (encode({k: v for k, v in wire(CallRecorded).items() if k != "id"}), "lacks required attributes: id"),
    (encode({k: v for k, v in wire(CallRecorded).items() if k != "data"}), "lacks required attributes: data"),
    (encode({k: v for k, v in wire(CallRecorded).items() if k != "tenantid"}), "lacks required attributes: tenantid"),
    (
        encode({**{k: v for k, v in wire(CallRecorded).items() if k != "tenantid"}, "tenant_id": "acme"}),
        "lacks required attributes: tenantid",
    ),
    (encode(wire(CallRecorded, type=42)), "'type' must be a string"),
    (encode(wire(CallRecorded, type="llmops.call.deleted.v1")), "unknown event type 'llmops.call.deleted.v1'"),
    (encode(wire(CallRecorded, specversion="0.3")), "envelope: specversion"),
    (encode(wire(CallRecorded, tenantid="ACME")), "envelope: tenantid"),
    (encode(wire(CallRecorded, datacontenttype="application/xml")), "envelope: datacontenttype"),
    (encode(wire(CallRecorded, time="yesterday")), "envelope: time"),
    (encode(wire(CallRecorded, data=[])), "invalid llmops.call.recorded.v2 data"),
    (encode(wire(CallRecorded, data={"call_id": "x"})), "data.app: Field required"),
]


@pytest.mark.parametrize("expect", [None, CallRecorded], ids=["general", "expecting-calls"])
@pytest.mark.parametrize(("raw", "message"), BROKEN, ids=[m for _, m in BROKEN])
def test_anything_wrong_is_an_event_validation_error(
    raw: bytes, message: str, expect: type[EventPayload] | None
) -> None:
    with pytest.raises(EventValidationError, match=message) as caught:
        parse_event(raw, expect=expect)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value), "the message is one line, for logs and dead-letter headers"


def test_validation_error_names_the_field_and_keeps_type_and_id() -> None:
    document = wire(CallRecorded)
    document["data"]["usage"]["prompt_tokens"] = -1
    with pytest.raises(EventValidationError, match=r"data\.usage\.prompt_tokens: Input should be greater") as caught:
        parse_event(encode(document))
    assert caught.value.event_type == "llmops.call.recorded.v2"
    assert caught.value.event_id == document["id"]


def test_many_errors_are_summarised() -> None:
    document = wire(CallRecorded)
    document["data"]["messages"] = [{"role": "robot", "content": 1}] * 20
    with pytest.raises(EventValidationError, match=r"\.\.\. and \d+ more"):
        parse_event(encode(document))


# --- record keys ------------------------------------------------------------------------------------


def test_record_keys() -> None:
    stream = CloudEvent.wrap(example(CallRecorded), source="/tests", tenant_id="acme")
    assert record_key(stream) == b"acme"
    prompt = CloudEvent.wrap(example(PromptVersionPublished), source="/tests", tenant_id="acme")
    assert record_key(prompt) == b"acme:support-answer:3"
    for cls in PAYLOADS:
        key = record_key(CloudEvent.wrap(example(cls), source="/tests", tenant_id="t-9"))
        assert key.startswith(b"t-9")
        assert (b":" in key) == issubclass(cls, CompactedPayload)


# --- upcasting --------------------------------------------------------------------------------------


class GreetingV1(EventPayload):
    """A test fact, first version."""

    event_type: ClassVar[str] = "llmops.test.greeted.v1"
    topic: ClassVar[str] = "llmops.test"

    name: str


class GreetingV2(EventPayload):
    """The same fact, second version: the name was split."""

    event_type: ClassVar[str] = "llmops.test.greeted.v2"
    topic: ClassVar[str] = "llmops.test"

    first_name: str
    last_name: str = ""


class GreetingV3(EventPayload):
    """Third version: a greeting got a language."""

    event_type: ClassVar[str] = "llmops.test.greeted.v3"
    topic: ClassVar[str] = "llmops.test"

    first_name: str
    last_name: str
    language: str = "en"


def greeting_upcasters() -> UpcasterRegistry:
    upcasters = UpcasterRegistry()

    @upcasters.register(GreetingV1.event_type)
    def v1_to_v2(event: CloudEvent[Any]) -> CloudEvent[Any]:
        first, _, last = event.data.name.partition(" ")
        return with_payload(event, GreetingV2(first_name=first, last_name=last))

    @upcasters.register(GreetingV2.event_type)
    def v2_to_v3(event: CloudEvent[Any]) -> CloudEvent[Any]:
        return with_payload(event, GreetingV3(first_name=event.data.first_name, last_name=event.data.last_name))

    return upcasters


def test_upcasters_chain_to_the_newest_version_keeping_the_envelope() -> None:
    old = CloudEvent.wrap(GreetingV1(name="Ada Lovelace"), source="/tests", tenant_id="acme", trace_id="t")
    new = greeting_upcasters().upcast(old)
    assert new.type == "llmops.test.greeted.v3"
    assert new.dataschema == "urn:llmops:schema:llmops.test.greeted.v3"
    assert new.data == GreetingV3(first_name="Ada", last_name="Lovelace")
    assert (new.id, new.source, new.time, new.tenant_id, new.trace_id) == (
        old.id,
        old.source,
        old.time,
        old.tenant_id,
        old.trace_id,
    )
    latest = CloudEvent.wrap(GreetingV3(first_name="A", last_name="B"), source="/tests", tenant_id="acme")
    assert greeting_upcasters().upcast(latest) is latest


def test_upcaster_registry_refuses_mistakes() -> None:
    upcasters = greeting_upcasters()
    with pytest.raises(ValueError, match="already registered"):
        upcasters.register(GreetingV1.event_type)(lambda event: event)
    with pytest.raises(ValueError, match="not an event type"):
        upcasters.register("greeted")

    same = UpcasterRegistry()
    same.register(GreetingV1.event_type)(lambda event: event)
    event = CloudEvent.wrap(GreetingV1(name="x"), source="/tests", tenant_id="acme")
    with pytest.raises(RuntimeError, match="returned the same type"):
        same.upcast(event)

    looping = UpcasterRegistry()
    looping.register(GreetingV1.event_type)(lambda e: with_payload(e, GreetingV2(first_name="x")))
    looping.register(GreetingV2.event_type)(lambda e: with_payload(e, GreetingV1(name="x")))
    with pytest.raises(RuntimeError, match="loop"):
        looping.upcast(event)


def test_the_platform_upcasts_exactly_the_superseded_types() -> None:
    assert UPCASTERS.types() == [
        "llmops.alert.state_changed.v1",
        "llmops.alerting.rule_configured.v1",
        "llmops.audit.recorded.v1",
        "llmops.call.recorded.v1",
        "llmops.cost.recorded.v1",
        "llmops.drift.reported.v1",
        "llmops.erasure.processed.v1",
        "llmops.erasure.requested.v1",
        "llmops.evaluation.scored.v1",
        "llmops.feedback.received.v1",
        "llmops.policy.published.v1",
    ]
    superseded = {t.rsplit(".", 1)[0] for t in EVENT_TYPES if t.endswith(".v2")}
    assert {t for t in EVENT_TYPES if t.endswith(".v1") and t.rsplit(".", 1)[0] in superseded} == set(UPCASTERS.types())
