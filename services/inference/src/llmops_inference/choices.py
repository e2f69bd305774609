"""An answer's choices as the recorded event needs them: per choice its text, refusal, tool calls (arguments
whole), finish reason and whether logprobs came, from a whole answer or re-assembled from streamed pieces.

Streamed tool calls arrive as pieces keyed by their ``index`` (the id, type and name first, then the arguments a
few characters at a time); they are merged the way the ``openai`` SDK merges them, so what is recorded is what
the client re-assembled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from llmops_schemas.v2.call_parts import MAX_LOGPROB_TOKENS

__all__ = ["AnsweredChoice", "StreamedChoices", "answered_choices", "beyond_text", "logprob_entries"]


@dataclass
class AnsweredChoice:
    """One choice of an answer."""

    index: int
    text: str = ""
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """``{id, type, function: {name, arguments}}`` (or a custom tool's ``custom: {name, input}``), whole."""
    finish_reason: str | None = None
    logprobs: list[dict[str, Any]] | None = None
    """Per token ``{token, logprob, top_logprobs: [{token, logprob}]}`` (chat's shape, a text completion's
    converted), the first :data:`MAX_LOGPROB_TOKENS`; None when the upstream returned none."""


def answered_choices(choices: Iterable[Any], *, kind: str = "chat") -> list[AnsweredChoice]:
    """The choices of a whole (non-streamed) answer in OpenAI's shape."""
    answered = []
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        message = choice.get("message") if kind == "chat" else None
        message = message if isinstance(message, dict) else {}
        text = choice.get("text") if kind == "completion" else message.get("content")
        calls = message.get("tool_calls")
        if message.get("function_call"):  # the deprecated single function call is a tool call too
            calls = [{"type": "function", "function": message["function_call"]}]
        answered.append(
            AnsweredChoice(
                index=_index(choice, position),
                text=text if isinstance(text, str) else "",
                refusal=message.get("refusal") if isinstance(message.get("refusal"), str) else None,
                tool_calls=[c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else [],
                finish_reason=choice.get("finish_reason"),
                logprobs=logprob_entries(choice.get("logprobs"), kind),
            )
        )
    return answered


def beyond_text(choices: list[dict[str, Any]], kind: str) -> bool:
    """Whether a whole answer holds more than one choice's text (so its choices are worth recording)."""
    if len(choices) != 1 or choices[0].get("logprobs") is not None:
        return True
    message = choices[0].get("message") if kind == "chat" else None
    return isinstance(message, dict) and bool(
        message.get("tool_calls") or message.get("refusal") or message.get("function_call")
    )


def logprob_entries(raw: Any, kind: str) -> list[dict[str, Any]] | None:
    """A choice's ``logprobs`` as per-token entries in chat's shape (at most :data:`MAX_LOGPROB_TOKENS`)."""
    if not isinstance(raw, dict):
        return None
    if kind == "chat":
        content = raw.get("content")
        return [e for e in content[:MAX_LOGPROB_TOKENS] if isinstance(e, dict)] if isinstance(content, list) else []
    tokens, values, tops = raw.get("tokens"), raw.get("token_logprobs"), raw.get("top_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list):
        return []
    tops = tops if isinstance(tops, list) else []
    entries = []
    for position, (token, value) in enumerate(zip(tokens[:MAX_LOGPROB_TOKENS], values, strict=False)):
        top = tops[position] if position < len(tops) and isinstance(tops[position], dict) else {}
        alternatives = [{"token": t, "logprob": v} for t, v in top.items()]
        entries.append({"token": token, "logprob": value, "top_logprobs": alternatives})
    return entries


class StreamedChoices:
    """Re-assembles the choices of a stream, piece by piece."""

    def __init__(self, kind: str = "chat") -> None:
        self._kind = kind
        self._texts: dict[int, list[str]] = {}
        self._refusals: dict[int, list[str]] = {}
        self._calls: dict[int, dict[int, dict[str, Any]]] = {}
        self._finish: dict[int, str] = {}
        self._logprobs: dict[int, list[dict[str, Any]]] = {}

    def add(self, choices: list[dict[str, Any]]) -> bool:
        """Take one chunk's choices; True when it carried content (text, a refusal or a tool call piece)."""
        if len(choices) == 1:  # the common piece, one choice's text only: no more work than joining texts
            only = choices[0]
            first = only.get("delta")
            if type(first) is dict and len(first) == 1 and only.get("index", 0) == 0:
                piece = first.get("content")
                if type(piece) is str and only.get("finish_reason") is None and only.get("logprobs") is None:
                    self._texts.setdefault(0, []).append(piece)
                    return bool(piece)
        produced = False
        for choice in choices:
            index = _index(choice, 0)
            if self._kind == "completion":
                piece = choice.get("text")
                delta: dict[str, Any] = {}
            else:
                given = choice.get("delta")
                delta = given if isinstance(given, dict) else {}
                piece = delta.get("content")
            if isinstance(piece, str) and piece:
                self._texts.setdefault(index, []).append(piece)
                produced = True
            produced = self._add_extras(index, delta) or produced
            if choice.get("finish_reason"):
                self._finish[index] = str(choice["finish_reason"])
            entries = logprob_entries(choice.get("logprobs"), self._kind)
            if entries is not None:
                kept = self._logprobs.setdefault(index, [])
                kept.extend(entries[: MAX_LOGPROB_TOKENS - len(kept)])
        return produced

    def _add_extras(self, index: int, delta: dict[str, Any]) -> bool:
        refusal, calls = delta.get("refusal"), delta.get("tool_calls") or delta.get("function_call")
        if isinstance(refusal, str) and refusal:
            self._refusals.setdefault(index, []).append(refusal)
        if isinstance(calls, dict):  # the deprecated function_call streams as one call's pieces
            calls = [{"index": 0, "type": "function", "function": calls}]
        if not isinstance(calls, list):
            return bool(refusal)
        merged = self._calls.setdefault(index, {})
        for call in calls:
            if isinstance(call, dict):
                _merge(merged.setdefault(_index(call, len(merged)), {}), call)
        return True

    @property
    def used(self) -> bool:
        """Whether any piece with the upstream's own choices was taken."""
        return bool(self._texts or self._refusals or self._calls or self._finish or self._logprobs)

    def text(self, index: int = 0) -> str:
        return "".join(self._texts.get(index, ()))

    def finished(self, index: int = 0) -> bool:
        return index in self._finish

    def choices(self) -> list[AnsweredChoice]:
        indexes = sorted({*self._texts, *self._refusals, *self._calls, *self._finish, *self._logprobs} or {0})
        return [
            AnsweredChoice(
                index=index,
                text=self.text(index),
                refusal="".join(self._refusals[index]) if index in self._refusals else None,
                tool_calls=[_without_index(c) for _, c in sorted(self._calls.get(index, {}).items())],
                finish_reason=self._finish.get(index),
                logprobs=self._logprobs.get(index),
            )
            for index in indexes
        ]


def _index(item: dict[str, Any], default: int) -> int:
    index = item.get("index", default)
    return index if isinstance(index, int) and not isinstance(index, bool) else default


def _merge(into: dict[str, Any], piece: dict[str, Any]) -> None:
    """Strings are continued, objects merged, ``index`` and ``type`` replaced (as the SDK does)."""
    for key, value in piece.items():
        current = into.get(key)
        if key in ("index", "type") or current is None:
            into[key] = dict(value) if isinstance(value, dict) else value
        elif isinstance(current, str) and isinstance(value, str):
            into[key] = current + value
        elif isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        elif value is not None:
            into[key] = value


def _without_index(call: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in call.items() if key != "index"}
