"""``llmops.call.recorded.v2``: what it accepts and refuses, and the upcaster from v1 that keeps every field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmops_schemas import CloudEvent
from llmops_schemas.registry import parse_event, upcast
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v1.examples import ENVELOPE_EXAMPLE, example_data
from llmops_schemas.v2 import CallRecorded, MediaRef, TextPart
from llmops_schemas.v2.call_parts import MAX_TOOL_ARGUMENTS
from pydantic import ValidationError

HASH = "a" * 64


def call(**changes: Any) -> dict[str, Any]:
    """The v2 example with top-level ``changes``."""
    return {**example_data(CallRecorded), **changes}


def tool_call(arguments: str = "{}", call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": arguments}}


def with_user_parts(*parts: dict[str, Any]) -> dict[str, Any]:
    return call(messages=[{"role": "user", "content": list(parts)}])


# --- what v2 refuses ----------------------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "tool arguments over the bound",
        call(choices=[{"tool_calls": [tool_call("x" * (MAX_TOOL_ARGUMENTS + 1))]}]),
        f"at most {MAX_TOOL_ARGUMENTS} characters",
    ),
    (
        "inline image without a hash",
        with_user_parts({"type": "image", "media_type": "image/png", "size_bytes": 9}),
        "needs media_type, size_bytes and sha256",
    ),
    (
        "inline image without a size",
        with_user_parts({"type": "image", "media_type": "image/png", "sha256": HASH}),
        "needs media_type, size_bytes and sha256",
    ),
    (
        "image hash not hex",
        with_user_parts({"type": "image", "url": "https://x.test/a.png", "sha256": "A" * 64}),
        "pattern",
    ),
    (
        "image bytes in a data URL",
        with_user_parts({"type": "image", "url": "data:image/png;base64,iVBORw0KGgo="}),
        "pattern",
    ),
    (
        "image URL over the bound",
        with_user_parts({"type": "image", "url": "https://x.test/" + "a" * 2048}),
        "at most 2048 characters",
    ),
    (
        "image size over the bound",
        with_user_parts({"type": "image", "media_type": "image/png", "size_bytes": 2**26 + 1, "sha256": HASH}),
        "less than or equal to 67108864",
    ),
    (
        "image bytes inline",
        with_user_parts({"type": "image", "url": "https://x.test/a", "data": "iVBORw0K"}),
        "Extra inputs",
    ),
    ("unknown part type", with_user_parts({"type": "video", "url": "https://x.test/a.mp4"}), "does not match any"),
    ("too many parts", with_user_parts(*[{"type": "text", "text": "x"}] * 257), "at most 256 items"),
    (
        "tool calls on a user message",
        call(messages=[{"role": "user", "content": "x", "tool_calls": [tool_call()]}]),
        "only an assistant message",
    ),
    ("a user message without content", call(messages=[{"role": "user"}]), "only an assistant message"),
    (
        "a tool call without an id",
        call(choices=[{"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]),
        "id",
    ),
    (
        "too many tool calls",
        call(choices=[{"tool_calls": [tool_call(call_id=f"c{i}") for i in range(129)]}]),
        "at most 128 items",
    ),
    ("too many choices", call(choices=[{"output": "x"}] * 129), "at most 128 items"),
    (
        "cache reads beyond the prompt",
        call(usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "cached_prompt_tokens": 6}),
        "cannot exceed prompt_tokens",
    ),
    (
        "reasoning beyond the completion",
        call(usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "reasoning_tokens": 2}),
        "cannot exceed completion_tokens",
    ),
    (
        "a tool schema over the bound",
        call(request={"tools": [{"name": "f", "parameters": "x" * 65_537}]}),
        "at most 65536 characters",
    ),
    ("a forced tool without its name", call(request={"tool_choice": {"mode": "function"}}), "mode is 'function'"),
    ("n above the bound", call(request={"n": 129}), "less than or equal to 128"),
    ("v1's output field", call(output="hi"), "Extra inputs"),
    ("a positive logprob", call(choices=[{"logprobs": [{"token": "a", "logprob": 0.5}]}]), "less than or equal to 0"),
    (
        "too many alternatives",
        call(
            choices=[
                {"logprobs": [{"token": "a", "logprob": -1, "top_logprobs": [{"token": "b", "logprob": -1}] * 21}]}
            ]
        ),
        "at most 20 items",
    ),
    ("too many logprob tokens", call(choices=[{"logprobs": [{"token": "a", "logprob": -1}] * 4097}]), "at most 4096"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_calls_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CallRecorded.model_validate(data)


VALID: list[tuple[str, dict[str, Any]]] = [
    ("an image by URL only", with_user_parts({"type": "image", "url": "https://x.test/a.png"})),
    ("a Gemini file URI", with_user_parts({"type": "file", "url": "gs://bucket/report.pdf"})),
    ("an error without choices", call(choices=[], status="error", error={"type": "timeout", "message": "slow"})),
    ("a choice that only calls tools", call(choices=[{"finish_reason": "tool_calls", "tool_calls": [tool_call()]}])),
    ("arguments that are not JSON, as the model wrote them", call(choices=[{"tool_calls": [tool_call("{oops")]}])),
    (
        "Anthropic's cache writes",
        call(usage={"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10, "cache_write_tokens": 8}),
    ),
    ("a forced tool", call(request={"tool_choice": {"mode": "function", "function": "lookup"}})),
    ("a refusal", call(choices=[{"refusal": "I can't help with that.", "finish_reason": "stop"}])),
    (
        "a strict JSON schema answer",
        call(request={"response_format": {"type": "json_schema", "name": "a", "strict": True, "json_schema": "{}"}}),
    ),
]


@pytest.mark.parametrize("data", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_variants_are_accepted(data: dict[str, Any]) -> None:
    assert CallRecorded.model_validate_json(json.dumps(data)) == CallRecorded.model_validate(data)


def test_content_parts_and_message_text() -> None:
    payload = CallRecorded.model_validate(example_data(CallRecorded))
    user = payload.messages[1]
    assert isinstance(user.content, list)
    text, image = user.content
    assert isinstance(text, TextPart) and isinstance(image, MediaRef)
    assert image.sha256 and image.size_bytes == 48213 and image.url is None
    assert user.text() == "Where is my parcel? Here is the label."
    assert payload.messages[2].text() == ""  # an assistant message that only calls a tool


def test_search_text_covers_tool_arguments_results_and_every_choice() -> None:
    text = CallRecorded.model_validate(example_data(CallRecorded)).searchable_text()
    for needle in ('"order_id": "A-1042"', '"status": "shipped"', "this morning", "expect it tomorrow"):
        assert needle in text


def test_consumers_ignore_unknown_fields_inside_parts_and_tool_calls() -> None:
    data = example_data(CallRecorded)
    data["messages"][1]["content"][1]["frame_count"] = 1
    data["messages"][2]["tool_calls"][0]["function"]["thought"] = "x"
    data["usage"]["audio_tokens"] = 3
    assert CallRecorded.tolerant(data) == CallRecorded.model_validate(example_data(CallRecorded))


# --- the upcaster: every v1 call becomes v2 with nothing lost --------------------------------------------

V1_CORPUS: list[dict[str, Any]] = [
    example_data(v1.CallRecorded),
    {**example_data(v1.CallRecorded), "output": None, "finish_reason": None, "usage": None},
    {**example_data(v1.CallRecorded), "output": "", "finish_reason": None},
    {**example_data(v1.CallRecorded), "output": None, "finish_reason": "length"},
    {
        **example_data(v1.CallRecorded),
        "trace_id": "t-1",
        "environment": "staging",
        "session_id": "s-1",
        "messages": [
            {"role": "developer", "content": "", "name": "ops"},
            {"role": "tool", "content": "42", "tool_call_id": "call_9"},
            {"role": "tool", "content": "no id in v1"},
        ],
        "parameters": {"temperature": 1, "stop": ["\n"], "seed": 3, "extra": {"logit_bias": {"50256": -100}}},
        "time_to_first_token_ms": 120.0,
        "status": "error",
        "error": {"type": "upstream", "message": "503", "code": "unavailable"},
        "experiment": {"experiment_id": "exp-1", "variant": "b", "shadow": True},
        "metadata": {"team": "ops"},
        "origin": "platform",
    },
]


def as_v1(new: CallRecorded) -> dict[str, Any]:
    """The v1 payload data that ``new`` holds, read back through v2's shape only."""
    data = new.model_dump(mode="json", exclude={"messages", "choices", "usage", "request"})
    first = new.choices[0] if new.choices else None
    data["output"] = first.output if first else None
    data["finish_reason"] = first.finish_reason if first else None
    data["messages"] = [m.model_dump(mode="json", exclude={"tool_calls"}) for m in new.messages]
    data["usage"] = (
        None
        if new.usage is None
        else new.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"})
    )
    return data


@pytest.mark.parametrize("data", V1_CORPUS, ids=range(len(V1_CORPUS)))
def test_upcaster_keeps_every_v1_field(data: dict[str, Any]) -> None:
    old = v1.CallRecorded.model_validate(data)
    event = CloudEvent.wrap(old, source="/services/ingest", tenant_id="acme", trace_id="tr", key_id="key-1")
    new = upcast(event)
    assert new.type == "llmops.call.recorded.v2"
    assert new.dataschema == CallRecorded.dataschema()
    assert isinstance(new.data, CallRecorded)
    assert (new.id, new.source, new.time, new.tenant_id, new.trace_id, new.key_id) == (
        event.id,
        event.source,
        event.time,
        event.tenant_id,
        event.trace_id,
        event.key_id,
    )
    assert v1.CallRecorded.model_validate(as_v1(new.data)) == old
    assert new.data.request is None and all(m.tool_calls is None for m in new.data.messages)


def test_every_v1_field_is_carried_or_reshaped() -> None:
    """A field added to v1 later must be mapped by ``from_v1`` too: this fails until it is."""
    reshaped = {"output", "finish_reason"}
    assert set(v1.CallRecorded.model_fields) - reshaped <= set(CallRecorded.model_fields)


def test_v2_keeps_the_constraints_of_every_v1_value_it_carries() -> None:
    """Every valid v1 call must upcast to a valid v2 call (and a v1 record pass ingest): v2 may not tighten them."""
    old, new = v1.CallRecorded.model_json_schema(), CallRecorded.model_json_schema()
    for name in set(v1.CallRecorded.model_fields) - {"messages", "output", "finish_reason", "usage"}:
        assert old["properties"][name] == new["properties"][name], name
    for key in ("minItems", "maxItems"):
        assert old["properties"]["messages"][key] == new["properties"]["messages"][key]
    old_message, new_message = old["$defs"]["ChatMessage"]["properties"], new["$defs"]["ChatMessage"]["properties"]
    for name in ("role", "name", "tool_call_id"):
        assert old_message[name] == new_message[name], name
    assert {k: v for k, v in old_message["content"].items() if k != "title"} in new_message["content"]["anyOf"]
    choice = new["$defs"]["Choice"]["properties"]
    for name in ("output", "finish_reason"):
        assert old["properties"][name] == choice[name], name
    for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert old["$defs"]["TokenUsage"]["properties"][name] == new["$defs"]["TokenUsage"]["properties"][name]


@pytest.mark.parametrize("data", V1_CORPUS, ids=range(len(V1_CORPUS)))
def test_the_upcast_call_is_valid_v2(data: dict[str, Any]) -> None:
    new = CallRecorded.from_v1(v1.CallRecorded.model_validate(data))
    assert CallRecorded.model_validate_json(new.model_dump_json()) == new


def test_parse_event_reads_a_v1_call_as_v2() -> None:
    v1_event = {
        **ENVELOPE_EXAMPLE,
        "type": v1.CallRecorded.event_type,
        "dataschema": v1.CallRecorded.dataschema(),
        "data": example_data(v1.CallRecorded),
    }
    event = parse_event(json.dumps(v1_event), expect=CallRecorded)
    assert event.type == "llmops.call.recorded.v2"
    assert event.id == v1_event["id"]
    assert event.data.choices[0].output == v1_event["data"]["output"]
    assert parse_event(json.dumps(v1_event), upcast_to_latest=False).type == "llmops.call.recorded.v1"


def test_a_v2_event_round_trips_through_the_wire() -> None:
    payload = CallRecorded.model_validate(example_data(CallRecorded))
    event = CloudEvent.wrap(payload, source="/services/inference", tenant_id="acme")
    assert parse_event(event.to_json_bytes(), expect=CallRecorded) == event
    assert parse_event(event.to_json_bytes()) == event
