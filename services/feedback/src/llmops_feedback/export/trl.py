"""Rows in TRL's conversational formats, from stored calls (the ``data`` of the warehouse's ``calls`` read).

* **DPO** (TRL's conversational *preference* type): ``{"prompt": [messages], "chosen": [assistant message],
  "rejected": [assistant message]}``.
* **SFT** (TRL's conversational *language modeling* type): ``{"messages": [..., assistant message]}``.

Messages are ``{"role": "system" | "user" | "assistant", "content": str}``. A call whose conversation TRL's
formats cannot hold as text (a tool call or a tool result, an image or audio part) is left out, with a reason.
Every row also has ``id`` (a digest of its training content: equal rows have equal ids, which is how the
export deduplicates) and ``lineage``, whose keys are always all present (``null`` when unknown) so that a
``datasets`` loader infers one schema for the whole file. The committed JSON Schema of these rows is
``trl_rows.schema.json`` next to this module (transcribed from TRL's "Dataset formats" page).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["LINEAGE_KEYS", "Lineage", "Unusable", "dpo_row", "output_of", "prompt_of", "sft_row"]

Message = dict[str, str]
LINEAGE_KEYS = (
    "source", "app", "call_ids", "chosen_call_id", "rejected_call_id", "prompt_name", "prompt_version", "model",
    "rejected_model", "judge", "reviewer", "feedback_ids", "evaluation_ids",
)  # fmt: skip
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class Unusable(ValueError):
    """The call cannot become a row; the message is the reason counted in the export's summary."""


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a row comes from: the calls, prompt version, model, judge and reviewer behind it."""

    source: str
    """``correction``, ``pairwise``, ``rating`` (DPO); ``approved``, ``corrected`` (SFT)."""
    call: dict[str, Any]
    """The call whose prompt the row holds (its ``chosen`` side, when two calls compete)."""
    rejected_call: dict[str, Any] | None = None
    judge: str | None = None
    reviewer: str | None = None
    feedback_ids: tuple[str, ...] = ()
    evaluation_ids: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        prompt = self.call.get("prompt") or {}
        other = self.rejected_call
        call_ids = [self.call.get("call_id"), *([other.get("call_id")] if other else [])]
        return {
            "source": self.source,
            "app": self.call.get("app"),
            "call_ids": call_ids,
            "chosen_call_id": self.call.get("call_id") if other else None,
            "rejected_call_id": other.get("call_id") if other else None,
            "prompt_name": prompt.get("name"),
            "prompt_version": prompt.get("version"),
            "model": self.call.get("model"),
            "rejected_model": other.get("model") if other else None,
            "judge": self.judge,
            "reviewer": self.reviewer,
            "feedback_ids": sorted(self.feedback_ids),
            "evaluation_ids": sorted(self.evaluation_ids),
        }


def _text(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if any(part.get("type") != "text" for part in content):
        raise Unusable("media")
    return "\n".join(str(part.get("text", "")) for part in content)


def prompt_of(call: dict[str, Any]) -> list[Message]:
    """The call's conversation as TRL messages (``Unusable`` for tools, media, or no user turn)."""
    messages = []
    for message in call.get("messages") or []:
        role = _ROLES.get(message.get("role", ""))
        if role is None or message.get("tool_calls"):
            raise Unusable("tools")
        messages.append({"role": role, "content": _text(message.get("content"))})
    if not any(m["role"] == "user" for m in messages):
        raise Unusable("no_user_message")
    return messages


def output_of(call: dict[str, Any]) -> str:
    """The call's first answer (``Unusable`` for a failed call, an empty answer or one that called tools)."""
    if call.get("status", "ok") != "ok":
        raise Unusable("failed_call")
    first = (call.get("choices") or [{}])[0]
    if first.get("tool_calls"):
        raise Unusable("tools")
    output = first.get("output")
    if not isinstance(output, str) or not output.strip():
        raise Unusable("empty_output")
    return output


def _row_id(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _assistant(text: str) -> list[Message]:
    return [{"role": "assistant", "content": text}]


def dpo_row(prompt: list[Message], chosen: str, rejected: str, lineage: Lineage) -> dict[str, Any]:
    """A conversational preference row (``Unusable`` when both answers are the same text)."""
    if chosen.strip() == rejected.strip():
        raise Unusable("same_answer")
    content = {"prompt": prompt, "chosen": _assistant(chosen), "rejected": _assistant(rejected)}
    return {"id": _row_id(content), **content, "lineage": lineage.as_json()}


def sft_row(prompt: list[Message], answer: str, lineage: Lineage) -> dict[str, Any]:
    """A conversational language-modeling row: the prompt, then the approved answer."""
    content = {"messages": [*prompt, *_assistant(answer)]}
    return {"id": _row_id(content), **content, "lineage": lineage.as_json()}
