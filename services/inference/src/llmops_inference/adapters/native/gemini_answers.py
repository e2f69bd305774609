"""Gemini's ``GenerateContentResponse`` as OpenAI's answer, whole or streamed.

Each candidate is a choice (``n`` asks for ``candidateCount``). Thought parts are not part of the answer (their
tokens count as reasoning tokens). A function call arrives whole, in one chunk, so a stream relays it as one
tool-call delta. Tool calls get Gemini's id when it sends one, else a generated ``call_…`` id.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from llmops_inference.adapters.native.common import chunk, completion, error_body, openai_usage, usage_chunk

__all__ = ["GeminiStream", "finish_reason", "from_gemini", "openai_logprobs", "usage_of"]

FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
     "IMAGE_RECITATION", "MODEL_ARMOR"}
)  # fmt: skip


def finish_reason(reason: str | None, called: bool) -> str | None:
    """Gemini's ``finishReason`` as OpenAI's; a turn that called tools finished with ``tool_calls``."""
    if reason is None:
        return None
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def usage_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """Gemini's ``usageMetadata`` as OpenAI's usage: ``candidatesTokenCount`` leaves out thoughts, OpenAI's
    ``completion_tokens`` includes reasoning; ``promptTokenCount`` includes cached content, as OpenAI's does.
    """
    thoughts = int(metadata.get("thoughtsTokenCount") or 0)
    prompt = int(metadata.get("promptTokenCount") or 0) + int(metadata.get("toolUsePromptTokenCount") or 0)
    output = int(metadata.get("candidatesTokenCount") or 0) + thoughts
    return openai_usage(prompt, output, cached=int(metadata.get("cachedContentTokenCount") or 0), reasoning=thoughts)


def from_gemini(data: dict[str, Any], model: str) -> dict[str, Any]:
    """A whole ``GenerateContentResponse`` as OpenAI's ``chat.completion``."""
    choices = []
    candidates = data.get("candidates") or []
    for position, candidate in enumerate(candidates):
        texts, calls = _parts(candidate)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
        if calls:
            message["tool_calls"] = calls
        reason = finish_reason(candidate.get("finishReason") or "STOP", bool(calls))
        index = candidate.get("index", position)
        logprobs = openai_logprobs(candidate.get("logprobsResult"))
        choices.append({"index": index, "message": message, "finish_reason": reason, "logprobs": logprobs})
    if not candidates:  # the prompt was blocked (promptFeedback.blockReason)
        message = {"role": "assistant", "content": ""}
        choices.append({"index": 0, "message": message, "finish_reason": "content_filter", "logprobs": None})
    return completion(_answer_id(data), model, choices, usage_of(data.get("usageMetadata") or {}))


def openai_logprobs(result: Any) -> dict[str, Any] | None:
    """Gemini's ``logprobsResult`` (chosen tokens, and the top candidates at each step) as OpenAI's ``logprobs``."""
    if not isinstance(result, dict):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for step, chosen in enumerate(result.get("chosenCandidates") or []):
        alternatives = (tops[step].get("candidates") or []) if step < len(tops) else []
        content.append({**_token(chosen), "top_logprobs": [_token(alt) for alt in alternatives]})
    return {"content": content, "refusal": None}


def _token(candidate: dict[str, Any]) -> dict[str, Any]:
    token = str(candidate.get("token") or "")
    return {"token": token, "logprob": float(candidate.get("logProbability") or 0.0), "bytes": list(token.encode())}


def _parts(candidate: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if part.get("thought"):
            continue
        if "text" in part:
            texts.append(part.get("text") or "")
        elif "functionCall" in part:
            call = part["functionCall"] or {}
            arguments = json.dumps(call.get("args") or {}, ensure_ascii=False)
            call_id = call.get("id") or f"call_{uuid.uuid4().hex[:24]}"
            calls.append(
                {"id": call_id, "type": "function", "function": {"name": call.get("name"), "arguments": arguments}}
            )
    return texts, calls


def _answer_id(data: dict[str, Any]) -> str:
    return str(data.get("responseId") or f"gemini-{uuid.uuid4().hex}")


class GeminiStream:
    """One call's translation of ``streamGenerateContent?alt=sse`` (``data: <GenerateContentResponse>`` lines)."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = ""
        self._usage: dict[str, Any] = {}
        self._calls: dict[int, int] = {}
        """Tool calls relayed so far, per choice (the next tool-call index)."""

    def feed(self, line: str) -> list[dict[str, Any]]:
        if not line.startswith("data:"):
            return []
        try:
            data = json.loads(line[5:])
        except ValueError:
            return [error_body("the upstream streamed something that is not JSON", "server_error")]
        if not isinstance(data, dict) or data.get("error"):
            error = (data.get("error") if isinstance(data, dict) else None) or {}
            return [
                error_body(f"{error.get('status') or 'error'}: {error.get('message') or 'no details'}", "server_error")
            ]
        chunks = []
        if not self._id:
            self._id = _answer_id(data)
            chunks.append(chunk(self._id, self._model, {"role": "assistant", "content": ""}))
        self._usage = data.get("usageMetadata") or self._usage  # cumulative: the last one is the call's
        for position, candidate in enumerate(data.get("candidates") or []):
            chunks.extend(self._candidate(candidate, int(candidate.get("index", position))))
        if (data.get("promptFeedback") or {}).get("blockReason") and not data.get("candidates"):
            chunks.append(chunk(self._id, self._model, {}, "content_filter"))  # the prompt was blocked
        return chunks

    def close(self) -> list[dict[str, Any]]:
        if not self._include_usage or not self._usage:
            return []
        return [usage_chunk(self._id, self._model, usage_of(self._usage))]

    def _candidate(self, candidate: dict[str, Any], index: int) -> list[dict[str, Any]]:
        texts, calls = _parts(candidate)
        chunks = []
        if texts:
            logprobs = openai_logprobs(candidate.get("logprobsResult"))
            chunks.append(chunk(self._id, self._model, {"content": "".join(texts)}, index=index, logprobs=logprobs))
        if calls:
            first = self._calls.get(index, 0)
            deltas = [{"index": first + k, **call} for k, call in enumerate(calls)]
            self._calls[index] = first + len(calls)
            chunks.append(chunk(self._id, self._model, {"tool_calls": deltas}, index=index))
        reason = finish_reason(candidate.get("finishReason"), self._calls.get(index, 0) > 0)
        if reason:
            chunks.append(chunk(self._id, self._model, {}, reason, index=index))
        return chunks
