"""Records as features: flat records as they are, exported call records flattened by one documented rule.

A record is a call record when it has a ``messages`` list and a ``model`` (the ``POST /v1/calls`` shape, v1 or
v2, and what ``llmops calls --json`` exports). It becomes these features (absent ones are left out):
``prompt`` (the user messages' text joined by newlines), ``answer`` (the first choice's output, v1's ``output``),
``prompt_length`` and ``answer_length`` (their lengths in characters), ``model``, ``latency_ms``,
``time_to_first_token_ms``, ``prompt_tokens`` and ``completion_tokens`` (from ``usage``), ``status`` and
``language`` (the record's or its ``metadata``'s).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["columns_of", "flatten_call_record", "is_call_record"]


def is_call_record(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` is an exported call record (flattened by ``flatten_call_record``)."""
    return isinstance(record.get("messages"), list) and isinstance(record.get("model"), str)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: the text ones, one per line
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _answer(record: Mapping[str, Any]) -> object:
    choices = record.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0].get("output")
    return record.get("output")


def flatten_call_record(record: Mapping[str, Any]) -> dict[str, object]:
    """The features of one call record (see the module's rule)."""
    messages = [m for m in record["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    usage = record.get("usage") if isinstance(record.get("usage"), dict) else {}
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    prompt, answer = "\n".join(_text(m.get("content")) for m in messages), _answer(record)
    features: dict[str, object] = {
        "prompt": prompt,
        "answer": answer,
        "prompt_length": len(prompt),
        "answer_length": len(answer) if isinstance(answer, str) else None,
        "model": record.get("model"),
        "latency_ms": record.get("latency_ms"),
        "time_to_first_token_ms": record.get("time_to_first_token_ms"),
        "prompt_tokens": usage.get("prompt_tokens"),  # type: ignore[union-attr]
        "completion_tokens": usage.get("completion_tokens"),  # type: ignore[union-attr]
        "status": record.get("status", "ok"),
        "language": record.get("language") or metadata.get("language"),  # type: ignore[union-attr]
    }
    return {name: value for name, value in features.items() if value is not None}


def columns_of(records: Iterable[Mapping[str, Any]]) -> dict[str, list[object]]:
    """Records as columns (call records flattened first); a record without a feature has None there."""
    rows = [flatten_call_record(r) if is_call_record(r) else dict(r) for r in records]
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: [row.get(name) for row in rows] for name in names}
