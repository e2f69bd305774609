"""The v2 event's parts built from what the gateway saw: streamed pieces re-assembled, and whatever an upstream
or a client sent brought within the contract's bounds, so a call is never lost over it."""

from __future__ import annotations

from datetime import UTC, datetime

from llmops_inference.choices import StreamedChoices, answered_choices, logprob_entries
from llmops_inference.domain import Usage
from llmops_inference.ports import CallContext
from llmops_inference.recording.call_parts import identifier, recorded_choices, recorded_usage
from llmops_inference.recording.records import CallDraft
from llmops_kit.kafka.producer import MAX_RECORD_BYTES
from llmops_schemas.v2 import ChatMessage


def test_streamed_tool_call_pieces_are_merged_per_choice_and_call() -> None:
    streamed = StreamedChoices()
    pieces = [
        [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ]
                },
            }
        ],
        [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"x"'}}
                    ]
                },
            }
        ],
        [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}}],
        [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}],
        [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}}],
        [{"index": 1, "delta": {"function_call": {"name": "h", "arguments": "{}"}}}],
        [
            {"index": 0, "delta": {}, "finish_reason": "tool_calls"},
            {"index": 1, "delta": {}, "finish_reason": "function_call"},
        ],
    ]
    assert all(streamed.add(piece) for piece in pieces[:-1]) and not streamed.add(pieces[-1])
    first, second = streamed.choices()
    assert [(c["id"], c["function"]) for c in first.tool_calls] == [
        ("call_a", {"name": "f", "arguments": '{"a": 1}'}),
        ("call_b", {"name": "g", "arguments": '{"x": 2}'}),
    ]
    assert second.tool_calls == [{"type": "function", "function": {"name": "h", "arguments": "{}"}}]
    assert (first.finish_reason, second.finish_reason, streamed.finished(0)) == ("tool_calls", "function_call", True)
    (recorded,) = recorded_choices([second])[0].tool_calls or []
    assert (recorded.id, recorded.function.name) == ("call_0", "h")


def test_a_text_completions_logprobs_become_token_entries() -> None:
    raw = {"tokens": ["Hi", "!"], "token_logprobs": [-0.5, -1.5], "top_logprobs": [{"Hi": -0.5, "Hey": -2.0}, None]}
    assert logprob_entries(raw, "completion") == [
        {
            "token": "Hi",
            "logprob": -0.5,
            "top_logprobs": [{"token": "Hi", "logprob": -0.5}, {"token": "Hey", "logprob": -2.0}],
        },
        {"token": "!", "logprob": -1.5, "top_logprobs": []},
    ]
    (choice,) = answered_choices(
        [{"index": 0, "text": "Hi!", "logprobs": raw, "finish_reason": "stop"}], kind="completion"
    )
    assert choice.text == "Hi!" and [t.token for t in recorded_choices([choice])[0].logprobs or []] == ["Hi", "!"]


def test_what_an_upstream_sends_is_brought_within_the_contract() -> None:
    assert identifier("call abc!") == "call_abc_" and identifier("_x") == "x_x" and len(identifier("a" * 300)) == 128
    nonsense = Usage(
        10,
        4,
        details={"prompt_tokens_details": {"cached_tokens": 11}, "completion_tokens_details": {"reasoning_tokens": 3}},
    )
    usage = recorded_usage(nonsense)
    assert (usage.cached_prompt_tokens, usage.reasoning_tokens) == (None, 3)
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "bad id!", "type": {"x": 1}, "function": "?"}],
    }
    weird = answered_choices(
        [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls",
                "logprobs": {"content": [{"token": "a", "logprob": float("nan")}, {"token": "b", "logprob": -1e12}]},
            }
        ]
    )
    (choice,) = recorded_choices(weird)
    assert choice.tool_calls[0].id == "bad_id_" and choice.tool_calls[0].function.name == "unknown"  # type: ignore[index]
    assert [(t.token, t.logprob) for t in choice.logprobs or []] == [("b", -1e9)]


def test_an_event_with_huge_tool_arguments_is_cut_to_fit_the_record() -> None:
    context = CallContext(tenant_id="acme", key_id="k", app="a", endpoint="chat", call_id="chatcmpl-1")
    huge = [
        {"id": f"call_{i}", "type": "function", "function": {"name": "f", "arguments": "x" * 200_000}} for i in range(8)
    ]
    draft = CallDraft(
        context=context,
        model="m",
        messages=[ChatMessage(role="user", content="hi")],
        started_at=datetime.now(UTC),
        source="/s",
        environment="test",
    )
    draft.choices = answered_choices(
        [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": huge}}]
    )
    event = draft.event()
    assert len(event.to_json_bytes()) < MAX_RECORD_BYTES and event.data.metadata["truncated"] == "true"
    assert len(event.data.choices[0].tool_calls or []) == 8
