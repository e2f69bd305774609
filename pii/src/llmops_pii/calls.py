"""Redacting a call record (``llmops.call.recorded.v2``'s shape) field by field, whatever class holds it.

Ingest holds a call as a msgspec struct, the gateway as a pydantic model: both have the same attribute names,
so one walk serves both, given how to copy an object with changed attributes (``msgspec.structs.replace`` or
``lambda o, **c: o.model_copy(update=c)``). The texts looked at: message contents (text parts too), message
names, tool-call arguments, choice outputs and refusals, the error message and metadata values. A choice whose
output changed loses its log probabilities (their tokens spell the output). Each is one of the policy's targets
(:data:`~llmops_pii.policy.TARGETS`): messages; the output (choices and the error); metadata. Identifiers (``user_id``,
``session_id``) are pseudonyms that erasure handles, not text, and are kept. An unchanged call is returned as
the same object: no copy on the common path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmops_pii.policy import PiiPolicy
from llmops_pii.redact import redact_text

__all__ = ["CallRedactor", "Replace"]

Replace = Callable[..., Any]
"""``replace(obj, **changes)``: a copy of ``obj`` with ``changes`` applied."""


class CallRedactor:
    """Applies a tenant's policy to every text of a call; raises ``PiiBlocked`` for a blocked type."""

    def __init__(self, replace: Replace) -> None:
        self._replace = replace

    def redact(self, call: Any, policy: PiiPolicy) -> Any:
        if not (policy.actions or policy.patterns):
            return call
        changes: dict[str, Any] = {}
        inputs, output = policy.at("messages"), policy.at("output")
        messages = [self._message(m, inputs) for m in call.messages]
        if any(new is not old for new, old in zip(messages, call.messages, strict=True)):
            changes["messages"] = messages
        choices = [self._choice(c, output) for c in call.choices]
        if any(new is not old for new, old in zip(choices, call.choices, strict=True)):
            changes["choices"] = choices
        about = policy.at("metadata")
        metadata = {key: redact_text(value, about) for key, value in call.metadata.items()}
        if metadata != call.metadata:
            changes["metadata"] = metadata
        if call.error is not None:
            message = redact_text(call.error.message, output)
            if message != call.error.message:
                changes["error"] = self._replace(call.error, message=message)
        return self._replace(call, **changes) if changes else call

    def _message(self, message: Any, policy: PiiPolicy) -> Any:
        changes: dict[str, Any] = {}
        content = message.content
        if isinstance(content, str):
            text = redact_text(content, policy)
            if text != content:
                changes["content"] = text
        elif content:
            parts = [self._part(p, policy) for p in content]
            if any(new is not old for new, old in zip(parts, content, strict=True)):
                changes["content"] = parts
        if message.name:
            name = redact_text(message.name, policy)
            if name != message.name:
                changes["name"] = name
        self._tool_calls(message.tool_calls, policy, changes)
        return self._replace(message, **changes) if changes else message

    def _part(self, part: Any, policy: PiiPolicy) -> Any:
        text = getattr(part, "text", None)
        if not text:
            return part
        redacted = redact_text(text, policy)
        return part if redacted == text else self._replace(part, text=redacted)

    def _choice(self, choice: Any, policy: PiiPolicy) -> Any:
        changes: dict[str, Any] = {}
        for name in ("output", "refusal"):
            text = getattr(choice, name)
            if text:
                redacted = redact_text(text, policy)
                if redacted != text:
                    changes[name] = redacted
        if "output" in changes and choice.logprobs is not None:
            changes["logprobs"] = None
        self._tool_calls(choice.tool_calls, policy, changes)
        return self._replace(choice, **changes) if changes else choice

    def _tool_calls(self, tool_calls: Any, policy: PiiPolicy, changes: dict[str, Any]) -> None:
        if not tool_calls:
            return
        redacted = []
        for call in tool_calls:
            arguments = redact_text(call.function.arguments, policy)
            if arguments != call.function.arguments:
                call = self._replace(call, function=self._replace(call.function, arguments=arguments))
            redacted.append(call)
        if any(new is not old for new, old in zip(redacted, tool_calls, strict=True)):
            changes["tool_calls"] = redacted
