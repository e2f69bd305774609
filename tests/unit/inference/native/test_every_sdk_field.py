"""No field is dropped by a native dialect: every field of the pinned ``openai`` SDK's Chat Completions
parameters is translated by the dialect, honoured by the gateway itself (recorded), or refused naming it."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import pytest
from llmops_inference.adapters.native import anthropic, gemini
from llmops_inference.adapters.native.common import GATEWAY_FIELDS, Unsupported
from openai.types.chat import completion_create_params as chat_params

SDK_FIELDS = frozenset(typing.get_type_hints(chat_params.CompletionCreateParamsBase)) | {"stream"}
SENTINEL = {"asks": "for something"}
DIALECTS: list[tuple[Callable[[dict[str, Any]], dict[str, Any]], frozenset[str]]] = [
    (anthropic.to_anthropic, anthropic.HANDLED),
    (gemini.to_gemini, gemini.HANDLED),
]


@pytest.mark.parametrize(("translate", "handled"), DIALECTS)
def test_every_field_a_dialect_does_not_translate_is_refused_by_name(
    translate: Callable[[dict[str, Any]], dict[str, Any]], handled: frozenset[str]
) -> None:
    assert handled <= SDK_FIELDS, handled - SDK_FIELDS  # no translation of a field OpenAI does not have
    for field in sorted(SDK_FIELDS - handled - GATEWAY_FIELDS):
        body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], field: SENTINEL}
        with pytest.raises(Unsupported) as refused:
            translate(body)
        assert refused.value.field == field
