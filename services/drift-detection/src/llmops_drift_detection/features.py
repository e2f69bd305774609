"""Per-call features and the scope a call's window belongs to.

A call becomes one flat row of numbers and categories (never its text: window state lives in a changelog topic,
and prompts stay out of it): prompt and answer length in characters, token counts, latency, time to first token,
``error`` (the status), ``refusal`` (the model refused), language and model. The scope is tenant, app, environment,
model and prompt version: each has its own windows. Each function reads a call as pydantic's model or as the
struct derived from it (:func:`llmops_drift_detection.decode.read_call`): plain fields only, no model properties.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llmops_schemas.v2 import CallRecorded

__all__ = ["NUMERIC", "Row", "Scope", "features", "prompt_text", "scope_of"]

Row = dict[str, Any]
NUMERIC = ("prompt_length", "answer_length", "prompt_tokens", "completion_tokens", "latency_ms",
           "time_to_first_token_ms")  # fmt: skip
"""Numeric features; every other one is categorical (booleans as the strings 'true'/'false')."""


@dataclass(frozen=True, order=True)
class Scope:
    """Whose traffic a window holds: one tenant's app in one environment, one model, one prompt version."""

    tenant: str
    app: str
    environment: str
    model: str
    prompt_name: str | None = None
    prompt_version: int | None = None

    def encode(self) -> str:
        """A stable text form (a table key part; JSON, so no separator can collide with a name)."""
        return json.dumps([self.tenant, self.app, self.environment, self.model, self.prompt_name, self.prompt_version])

    @classmethod
    def decode(cls, text: str) -> Scope:
        """The scope :meth:`encode` wrote."""
        tenant, app, environment, model, prompt_name, prompt_version = json.loads(text)
        return cls(tenant, app, environment, model, prompt_name, prompt_version)


def scope_of(tenant: str, call: CallRecorded) -> Scope:
    """The scope of ``call`` made for ``tenant``."""
    prompt = call.prompt
    if prompt is None:
        return Scope(tenant, call.app, call.environment, call.model)
    return Scope(tenant, call.app, call.environment, call.model, prompt.name, prompt.version)


def prompt_text(call: CallRecorded) -> str:
    """The user messages' text, joined (its length is a feature; sampled calls embed it)."""
    parts: list[str] = []
    for message in call.messages:
        if message.role != "user":
            continue
        content: Any = message.content
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(getattr(p, "text", "") or "") for p in content if getattr(p, "type", None) == "text")
    return "\n".join(parts)


def _refused(call: CallRecorded) -> bool:
    choices = call.choices
    return any(c.refusal for c in choices) or (bool(choices) and choices[0].finish_reason == "content_filter")


def features(call: CallRecorded) -> Row:
    """The feature row of ``call`` (absent measurements are left out, as the engine expects)."""
    answer = call.choices[0].output if call.choices else None  # the first choice's text, as ``call.output``
    usage = call.usage
    language = call.metadata.get("language") if isinstance(call.metadata, dict) else None
    row: Row = {
        "prompt_length": len(prompt_text(call)),
        "answer_length": len(answer) if answer is not None else None,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "latency_ms": call.latency_ms,
        "time_to_first_token_ms": call.time_to_first_token_ms,
        "error": "true" if call.status == "error" else "false",
        "refusal": "true" if _refused(call) else "false",
        "language": language or "unknown",
        "model": call.model,
    }
    return {name: value for name, value in row.items() if value is not None}
