"""The shared validation path: schema, origin and timestamp rules, redaction hook, envelope, size limit, ids."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from llmops_ingest.handlers import (
    Accepted,
    IngestContext,
    Rejected,
    content_call_id,
    prepare_batch,
    prepare_record,
)
from llmops_ingest.ports import CallStruct
from llmops_ingest.publishing import PublishOutcome, publish_accepted
from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import reads_exactly
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.registry import parse_event
from llmops_schemas.v1 import calls as v1
from llmops_schemas.v2 import CallRecorded, Choice

MakeCall = Callable[..., dict[str, Any]]


def _member(part: str | int) -> str | int:
    """A location part, with a union member's label cut to its type (``list[tagged-union[...]]`` -> ``list``)."""
    return part.split("[", 1)[0] if isinstance(part, str) else part


def tool_call(arguments: str) -> dict[str, Any]:
    return {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}


def user_parts(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": "look"}, *parts][1:]}


def accepted(outcome: Accepted | Rejected) -> Accepted:
    assert isinstance(outcome, Accepted), getattr(outcome, "errors", None)
    return outcome


def published(outcome: Accepted | Rejected) -> CloudEvent[Any]:
    """The event of an accepted record, read back from the bytes published as a consumer reads them."""
    return parse_event(accepted(outcome).value, upcast_to_latest=False)


def as_received(record: Any, context: IngestContext) -> tuple[Any, IngestContext]:
    """``record`` and ``context`` as an entrypoint hands them over: decoded from the JSON the record was sent as,
    the derived struct allowed to judge it only when those bytes let it (``reads_exactly``)."""
    raw = json.dumps(record).encode()
    return json.loads(raw), dataclasses.replace(context, derived=reads_exactly(raw))


def rejected(outcome: Accepted | Rejected) -> Rejected:
    assert isinstance(outcome, Rejected), "expected a rejection"
    return outcome


def error_types(outcome: Accepted | Rejected) -> set[str]:
    return {e["type"] for e in rejected(outcome).errors}


def test_valid_record_is_enveloped(make_call: MakeCall, context: IngestContext) -> None:
    event = published(prepare_record(make_call(), 0, context))
    assert event.type == "llmops.call.recorded.v2"
    assert event.source == "/services/ingest"
    assert event.tenant_id == "acme"
    assert event.subject == "call-0001"
    assert event.dataschema == "urn:llmops:schema:llmops.call.recorded.v2"
    assert isinstance(event.data, CallRecorded)
    assert event.data.call_id == "call-0001"


def test_client_call_id_gives_deterministic_event_id(make_call: MakeCall, context: IngestContext) -> None:
    first = accepted(prepare_record(make_call(), 0, context))
    retry = accepted(prepare_record(make_call(), 5, context))
    started_ms = int((context.now - timedelta(seconds=30)).timestamp() * 1000)
    assert first.event_id == retry.event_id == deterministic_uuid7(started_ms, "acme", "call-0001")
    other_tenant = dataclasses.replace(context, tenant_id="globex")
    assert accepted(prepare_record(make_call(), 0, other_tenant)).event_id != first.event_id


@pytest.mark.parametrize("absent", [{"drop": ("call_id",)}, {"call_id": None}])
def test_a_missing_call_id_is_derived_from_the_content_so_a_retry_gets_the_same_ids(
    make_call: MakeCall, context: IngestContext, absent: dict[str, Any]
) -> None:
    one = accepted(prepare_record(make_call(**absent), 0, context))
    retry = accepted(prepare_record(make_call(**absent), 7, context))
    assert (one.call_id, one.event_id) == (retry.call_id, retry.event_id)
    assert one.call_id == content_call_id(make_call(drop=("call_id",)), "acme")
    assert one.call_id.count("-") == 4 and one.call_id[14] == "5"  # a UUIDv5


def test_the_content_derived_call_id_ignores_key_order_but_not_content_or_tenant(make_call: MakeCall) -> None:
    record = make_call(drop=("call_id",))
    reordered = dict(reversed(list(record.items())))
    assert content_call_id(reordered, "acme") == content_call_id(record, "acme")
    assert content_call_id({**record, "output": "Other answer."}, "acme") != content_call_id(record, "acme")
    assert content_call_id(record, "globex") != content_call_id(record, "acme")


def test_the_event_carries_the_submitting_key_id(make_call: MakeCall, context: IngestContext) -> None:
    keyed = published(prepare_record(make_call(), 0, dataclasses.replace(context, key_id="writer-key")))
    assert keyed.key_id == "writer-key"
    assert b'"keyid":"writer-key"' in keyed.to_json_bytes()
    assert published(prepare_record(make_call(), 0, context)).key_id is None


def test_a_submitted_call_is_never_platform_traffic(make_call: MakeCall, context: IngestContext) -> None:
    outcome = rejected(prepare_record(make_call(origin="platform"), 3, context))
    assert (outcome.index, outcome.reason) == (3, "origin")
    assert [(e["loc"], e["type"]) for e in outcome.errors] == [(["origin"], "origin_not_allowed")]
    assert "gateway" in outcome.errors[0]["msg"]
    explicit = published(prepare_record(make_call(origin="application"), 0, context)).data
    assert isinstance(explicit, CallRecorded)
    assert explicit.origin == "application"


def test_fallback_call_id_is_stable(make_call: MakeCall, context: IngestContext) -> None:
    one = accepted(prepare_record(make_call(drop=("call_id",)), 0, context, fallback_call_id="raw-1"))
    two = accepted(prepare_record(make_call(drop=("call_id",)), 0, context, fallback_call_id="raw-1"))
    assert one.call_id == "raw-1"
    assert one.event_id == two.event_id


INVALID_RECORDS: list[tuple[dict[str, Any], list[Any], str]] = [
    ({"latency_ms": "fast"}, ["latency_ms"], "float_parsing"),
    ({"messages": "hello"}, ["messages"], "list_type"),
    ({"messages": []}, ["messages"], "too_short"),
    ({"messages": [{"role": "robot", "content": "x"}]}, ["messages", 0, "role"], "literal_error"),
    ({"drop": ("app",)}, ["app"], "missing"),
    ({"drop": ("started_at",)}, ["started_at"], "missing"),
    ({"tenant_id": "someone-else"}, ["tenant_id"], "extra_forbidden"),
    ({"unexpected": 1}, ["unexpected"], "extra_forbidden"),
    ({"call_id": "has space"}, ["call_id"], "string_pattern_mismatch"),
    ({"call_id": 42}, ["call_id"], "string_type"),
    ({"latency_ms": -1}, ["latency_ms"], "greater_than_equal"),
    ({"app": "x" * 300}, ["app"], "string_too_long"),
    ({"started_at": "2026-03-01T11:59:00"}, ["started_at"], "timezone_aware"),
    ({"output": "\ud800"}, ["output"], "string_unicode"),
    ({"finish_reason": ""}, ["finish_reason"], "string_too_short"),  # located as sent, not as choices.0
    # v2 records (no v1 output): what the new shape refuses
    (
        {"drop": ("output",), "choices": [{"tool_calls": [tool_call("x" * 262_145)]}]},
        ["choices", 0, "tool_calls", 0, "function", "arguments"],
        "string_too_long",
    ),
    (
        {
            "drop": ("output",),
            "messages": [user_parts({"type": "image", "media_type": "image/png", "size_bytes": 7})],
        },
        ["messages", 0, "content", "list", 0, "image"],
        "value_error",
    ),
    (
        {"drop": ("output",), "messages": [user_parts({"type": "image", "url": "data:image/png;base64,iVBO"})]},
        ["messages", 0, "content", "list", 0, "image", "url"],
        "string_pattern_mismatch",
    ),
    (
        {"drop": ("output",), "messages": [user_parts({"type": "input_audio", "data": "UklGRg=="})]},
        ["messages", 0, "content", "list", 0],
        "union_tag_invalid",
    ),
    ({"drop": ("output",), "choices": [{"output": "x"}] * 129}, ["choices"], "too_long"),
    (
        {
            "drop": ("output",),
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cached_prompt_tokens": 2},
        },
        ["usage"],
        "value_error",
    ),
    ({"drop": ("output",), "request": {"n": 0}}, ["request", "n"], "greater_than_equal"),
    ({"choices": [{"output": "x"}]}, ["output"], "extra_forbidden"),  # v1's output beside v2's choices
]
"""Records ``prepare_record`` refuses (overrides of ``make_call``), where and why; tests/unit/schemas reuses them."""


@pytest.mark.parametrize(("overrides", "loc", "type_"), INVALID_RECORDS)
def test_schema_errors(
    make_call: MakeCall, context: IngestContext, overrides: dict[str, Any], loc: list[Any], type_: str
) -> None:
    record, received = as_received(make_call(**overrides), context)
    outcome = rejected(prepare_record(record, 3, received))
    assert outcome.index == 3
    assert outcome.reason == "schema"
    # pydantic names a union member in the location: compared through the member's name only
    found = [{"loc": [_member(part) for part in e["loc"]], "type": e["type"]} for e in outcome.errors]
    assert {"loc": loc, "type": type_} in found
    assert all(set(e) == {"loc", "msg", "type"} for e in outcome.errors)


def test_a_lone_surrogate_in_a_json_value_is_refused_not_a_crash(make_call: MakeCall, context: IngestContext) -> None:
    # pydantic accepts it inside a JsonValue (other strings refuse it) but cannot serialise it: a 500 before.
    record, received = as_received(make_call(parameters={"extra": {"note": "a\ud800"}}), context)
    outcome = rejected(prepare_record(record, 0, received))
    assert (outcome.reason, outcome.errors[0]["type"]) == ("schema", "string_unicode")


@pytest.mark.parametrize("record", [None, 7, "a call", ["a", "list"]])
def test_non_object_record(record: Any, context: IngestContext) -> None:
    assert error_types(prepare_record(record, 0, context)) == {"model_type"}


def test_status_and_error_must_agree(make_call: MakeCall, context: IngestContext) -> None:
    no_error = rejected(prepare_record(make_call(status="error"), 0, context))
    assert "needs an 'error' object" in no_error.errors[0]["msg"]
    error = {"type": "rate_limit", "message": "429"}
    stray = rejected(prepare_record(make_call(status="ok", error=error), 0, context))
    assert "must not carry" in stray.errors[0]["msg"]
    accepted(prepare_record(make_call(status="error", error=error), 0, context))


def test_errors_do_not_echo_the_input(make_call: MakeCall, context: IngestContext) -> None:
    outcome = rejected(prepare_record(make_call(latency_ms="secret-password-123"), 0, context))
    assert "secret-password-123" not in str(outcome.errors)


def test_error_count_and_depth_are_bounded(make_call: MakeCall, context: IngestContext) -> None:
    many = rejected(prepare_record(make_call(messages=[{"role": "x"}] * 500), 0, context))
    assert len(many.errors) == 20
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(500):
        cursor["x"] = {}
        cursor = cursor["x"]
    nested = rejected(prepare_record(make_call(parameters={"extra": deep}), 0, context))
    assert all(len(e["loc"]) <= 16 for e in nested.errors)


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [
        (timedelta(minutes=5), "ok"),
        (timedelta(minutes=5, seconds=1), "timestamp_in_future"),
        (timedelta(days=365), "timestamp_in_future"),
        (-timedelta(days=90) + timedelta(seconds=1), "ok"),
        (-timedelta(days=90, seconds=1), "timestamp_too_old"),
        (-timedelta(days=3650), "timestamp_too_old"),
    ],
)
def test_timestamp_rule(make_call: MakeCall, context: IngestContext, offset: timedelta, verdict: str) -> None:
    outcome = prepare_record(make_call(started_at=(context.now + offset).isoformat()), 0, context)
    if verdict == "ok":
        accepted(outcome)
    else:
        assert rejected(outcome).reason == "timestamp"
        assert rejected(outcome).errors[0]["loc"] == ["started_at"]
        assert error_types(outcome) == {verdict}


def test_timestamp_rule_compares_instants_not_wall_clocks(make_call: MakeCall, context: IngestContext) -> None:
    # 16:00 at +04:00 is 12:00 UTC, i.e. exactly "now": fine, not four hours ahead.
    accepted(prepare_record(make_call(started_at="2026-03-01T16:00:00+04:00"), 0, context))


def test_record_over_the_size_limit(make_call: MakeCall, context: IngestContext) -> None:
    huge = make_call(output="x" * 600_000, messages=[{"role": "user", "content": "y" * 500_000}])
    outcome = rejected(prepare_record(huge, 0, context))
    assert outcome.reason == "size"
    [error] = outcome.errors
    assert error["type"] == "record_too_large"
    assert error["loc"] == []
    size = int(error["msg"].split(" bytes")[0].rsplit(" ", 1)[-1])
    assert size > MAX_RECORD_BYTES
    assert str(MAX_RECORD_BYTES) in error["msg"]


def test_string_longer_than_the_schema_allows(make_call: MakeCall, context: IngestContext) -> None:
    assert error_types(prepare_record(make_call(output="x" * 1_000_001), 0, context)) == {"string_too_long"}


def test_redaction_hook_runs_before_the_envelope(make_call: MakeCall, context: IngestContext) -> None:
    seen: list[str] = []

    class Masking:
        def redact(self, call: CallStruct, *, tenant_id: str) -> CallStruct:
            seen.append(tenant_id)
            return msgspec.structs.replace(
                call, choices=[msgspec.structs.replace(call.choices[0], output="[redacted]")]
            )

    event = published(prepare_record(make_call(), 0, dataclasses.replace(context, redactor=Masking())))
    assert seen == ["acme"]
    assert isinstance(event.data, CallRecorded)
    assert event.data.output == "[redacted]"
    assert b"forgot password" not in event.to_json_bytes()
    assert isinstance(event.data.choices[0], Choice)


async def test_batch_keeps_positions_and_publishes_only_valid(make_call: MakeCall, context: IngestContext) -> None:
    records = [make_call(call_id="a"), {"nope": True}, make_call(call_id="c")]
    outcome = prepare_batch(records, context)
    assert [a.index for a in outcome.accepted] == [0, 2]
    assert [r.index for r in outcome.rejected] == [1]
    publisher = InMemoryPublisher()
    published = await publish_accepted(publisher, outcome.accepted, timeout_s=5)
    assert (published.acknowledged, published.failure) == (outcome.accepted, None)
    assert [e.subject for e in publisher.events] == ["a", "c"]
    assert publisher.topics == ["llmops.calls.recorded"] * 2


async def test_publishing_nothing_does_not_call_the_publisher() -> None:
    publisher = InMemoryPublisher()
    publisher.failure = RuntimeError("must not be called")
    assert await publish_accepted(publisher, [], timeout_s=5) == PublishOutcome([], [])


def test_a_v2_record_is_published_as_it_was_sent(make_call: MakeCall, context: IngestContext) -> None:
    record = make_call(
        drop=("output",),
        messages=[
            {"role": "user", "content": [{"type": "image", "url": "https://x.test/label.png"}]},
            {"role": "assistant", "tool_calls": [tool_call('{"order": "A-1"}')]},
            {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
        ],
        choices=[{"output": "It shipped.", "finish_reason": "stop"}, {"output": "Shipped.", "finish_reason": "stop"}],
        usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13, "cached_prompt_tokens": 8},
        request={"n": 2, "tools": [{"name": "lookup", "parameters": '{"type": "object"}'}]},
    )
    event = published(prepare_record(record, 0, context))
    assert event.type == "llmops.call.recorded.v2"
    assert event.data == CallRecorded.model_validate(record)


def test_a_v1_record_is_upcast_and_keeps_everything(make_call: MakeCall, context: IngestContext) -> None:
    record = make_call(finish_reason="length", messages=[{"role": "tool", "content": "42", "tool_call_id": "c-1"}])
    event = published(prepare_record(record, 0, context))
    assert event.type == "llmops.call.recorded.v2"
    assert event.data == CallRecorded.from_v1(v1.CallRecorded.model_validate(record))
    assert event.data.choices[0].finish_reason == "length" and event.data.output == record["output"]
    # The same call sent in either shape is the same event: a client may switch shapes between retries.
    v2_record = {k: v for k, v in record.items() if k not in ("output", "finish_reason")}
    v2_record["choices"] = [{"output": record["output"], "finish_reason": "length"}]
    same = published(prepare_record(v2_record, 0, context))
    assert (same.id, same.data) == (event.id, event.data)
