"""JSON numbers are not booleans: every boolean of a request body refuses ``0``, ``1`` and ``"true"``.

Pydantic's lax mode turns them into booleans, so a body the OpenAPI document calls invalid (``"stream": 0``) was
accepted (schemathesis found ``stream_options.include_usage: 0`` answered 200). The walk below reads each request
model's validation schema, nested models included, so a boolean added later without ``strict`` fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llmops_cost.budgets import BudgetIn
from llmops_evaluation.abtest.policies import PolicySpec as VerdictPolicySpec
from llmops_evaluation.heuristics.base import Params
from llmops_evaluation.registry import EvaluatorSpec
from llmops_evaluation.replay.spec import ReplaySpec
from llmops_governance_audit.policies.model import PolicySpec
from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.api_models import ChatCompletionRequest, CompletionRequest
from pydantic import BaseModel, ValidationError

REQUEST_MODELS: list[type[BaseModel]] = [
    ChatCompletionRequest,
    CompletionRequest,
    MessagesRequest,
    EvaluatorSpec,
    ReplaySpec,
    VerdictPolicySpec,
    BudgetIn,
    PolicySpec,
]


def _all_params() -> list[type[BaseModel]]:
    found, stack = [], [Params]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def _lax_booleans(schema: Any, strict: bool = False) -> Iterator[str]:
    """The fields, nested models' included, whose boolean validator is not strict (by the field or its model)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _lax_booleans(item, strict)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "model":
        strict = bool(schema.get("config", {}).get("strict", strict))
    if schema.get("type") == "model-fields":
        yield from (name for name, field in schema["fields"].items() if _is_lax_bool(field.get("schema"), strict))
    for key, value in schema.items():
        if key not in ("config", "metadata", "serialization"):
            yield from _lax_booleans(value, strict)


def _is_lax_bool(schema: Any, strict: bool) -> bool:
    while isinstance(schema, dict) and schema.get("type") in ("default", "nullable", "function-after"):
        schema = schema.get("schema")
    return isinstance(schema, dict) and schema.get("type") == "bool" and not schema.get("strict", strict)


@pytest.mark.parametrize("model", [*REQUEST_MODELS, *_all_params()], ids=lambda m: m.__qualname__)
def test_no_boolean_of_a_request_body_is_lax(model: type[BaseModel]) -> None:
    lax = sorted(set(_lax_booleans(model.__pydantic_core_schema__)))
    assert lax == [], f"{model.__name__}: booleans that take 0, 1 or 'true': {lax}"


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (MessagesRequest, {"model": "m", "max_tokens": 1}, "stream"),
        (EvaluatorSpec, {"kind": "exact_match", "app": "a"}, "enabled"),
        (EvaluatorSpec, {"kind": "exact_match", "app": "a"}, "include_platform"),
        (ReplaySpec, {"evaluators": [{"name": "e"}]}, "include_platform"),
    ],
)
@pytest.mark.parametrize("value", [0, 1, "true"])
def test_a_number_or_a_string_for_a_boolean_is_refused(
    model: type[BaseModel], body: dict[str, Any], field: str, value: Any
) -> None:
    model.model_validate({**body, field: True})  # the body is valid with a boolean
    with pytest.raises(ValidationError, match=field):
        model.model_validate({**body, field: value})
