"""Exported call records become features by the documented rule; flat records stay as they are."""

from __future__ import annotations

from llmops_drift import columns_of, flatten_call_record, is_call_record

V2_CALL = {
    "call_id": "c1",
    "app": "support",
    "model": "gpt-4o-mini",
    "provider": "openai",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "where is my parcel"},
        {"role": "assistant", "content": "which one?"},
        {"role": "user", "content": [{"type": "text", "text": "the blue one"}, {"type": "image_url", "url": "x"}]},
    ],
    "choices": [{"output": "it ships today", "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25},
    "latency_ms": 812.5,
    "status": "ok",
    "metadata": {"language": "en"},
}


def test_a_call_record_is_flattened_by_the_rule() -> None:
    assert is_call_record(V2_CALL)
    assert flatten_call_record(V2_CALL) == {
        "prompt": "where is my parcel\nthe blue one",
        "answer": "it ships today",
        "prompt_length": 31,
        "answer_length": 14,
        "model": "gpt-4o-mini",
        "latency_ms": 812.5,
        "prompt_tokens": 21,
        "completion_tokens": 4,
        "status": "ok",
        "language": "en",
    }


def test_a_v1_call_record_answers_with_its_output() -> None:
    v1 = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "output": "hello", "latency_ms": 3}

    assert flatten_call_record(v1)["answer"] == "hello"


def test_flat_records_become_columns_with_none_where_a_record_lacks_a_field() -> None:
    columns = columns_of([{"a": 1, "b": "x"}, {"a": 2}, V2_CALL])

    assert columns["a"] == [1, 2, None]
    assert columns["b"] == ["x", None, None]
    assert columns["model"] == [None, None, "gpt-4o-mini"]
