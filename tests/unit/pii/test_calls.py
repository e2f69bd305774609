"""A call's texts redacted field by field, for the struct ingest holds and the model the gateway holds."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from llmops_pii.calls import CallRedactor
from llmops_pii.policy import PolicyBook
from llmops_pii.redact import PiiBlocked
from llmops_schemas.fastcodec import producer_struct
from llmops_schemas.v2 import CallRecorded

CALL: dict[str, Any] = {
    "call_id": "c-1",
    "app": "support",
    "model": "m",
    "provider": "p",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "I am Priya Sharma, mail priya@example.com"}]},
        {
            "role": "assistant",
            "tool_calls": [{"id": "t1", "function": {"name": "lookup", "arguments": '{"email": "priya@example.com"}'}}],
        },
    ],
    "choices": [
        {"output": "Noted, priya@example.com.", "logprobs": [{"token": "priya", "logprob": -0.1}]},
        {"output": "Fine."},
    ],
    "metadata": {"ip": "203.0.113.9", "region": "eu"},
    "started_at": "2026-01-01T00:00:00Z",
    "latency_ms": 5,
    "status": "error",
    "error": {"type": "x", "message": "upstream refused key sk-ant-api03-aaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
}
STRUCT = producer_struct(CallRecorded)


def as_struct(data: dict[str, Any]) -> Any:
    return msgspec.convert(data, STRUCT)


def as_model(data: dict[str, Any]) -> Any:
    return CallRecorded.model_validate(data)


def _model_copy(model: Any, **changes: Any) -> Any:
    return model.model_copy(update=changes)


CASES = [(as_struct, msgspec.structs.replace), (as_model, _model_copy)]


@pytest.mark.parametrize(("build", "replace"), CASES, ids=["struct", "pydantic"])
def test_every_text_of_a_call_is_redacted(build: Any, replace: Any) -> None:
    call = build(CALL)
    redacted = CallRedactor(replace).redact(call, PolicyBook().for_tenant("t"))
    data = msgspec.to_builtins(redacted) if build is as_struct else redacted.model_dump(mode="json")
    assert data["messages"][0]["content"] == "Be brief."
    assert data["messages"][1]["content"][0]["text"] == "I am [PERSON], mail [EMAIL]"
    assert data["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"email": "[EMAIL]"}'
    assert data["choices"][0]["output"] == "Noted, [EMAIL]."
    assert data["choices"][0].get("logprobs") is None  # its tokens spelled the output
    assert data["choices"][1]["output"] == "Fine."
    assert data["metadata"] == {"ip": "[IP_ADDRESS]", "region": "eu"}
    assert data["error"]["message"] == "upstream refused key [API_KEY]"
    assert call.messages[1].content[0].text.startswith("I am Priya")  # the input is not modified


@pytest.mark.parametrize(("build", "replace"), CASES, ids=["struct", "pydantic"])
def test_a_call_without_personal_data_is_the_same_object(build: Any, replace: Any) -> None:
    clean = {**CALL, "messages": [CALL["messages"][0]], "choices": [], "metadata": {}, "status": "ok", "error": None}
    call = build({k: v for k, v in clean.items() if v is not None})
    assert CallRedactor(replace).redact(call, PolicyBook().for_tenant("t")) is call


def test_a_blocked_type_anywhere_blocks_the_call() -> None:
    with pytest.raises(PiiBlocked, match="api_key"):
        CallRedactor(msgspec.structs.replace).redact(as_struct(CALL), PolicyBook({"api_key": "block"}).for_tenant("t"))
