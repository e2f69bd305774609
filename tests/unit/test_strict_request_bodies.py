"""JSON numbers are not booleans and JSON strings are not numbers: every boolean, integer and float a request body
holds refuses what its OpenAPI document calls invalid (``0`` or ``"true"`` for a boolean, ``true`` or ``"3"`` for an
integer, ``"0.5"`` for a float).

Pydantic's lax mode converts them, so a body the document calls invalid was accepted (schemathesis found
``stream_options.include_usage: 0`` answered 200; ``"version": true`` moved a prompt label to version 1). The models
are found, not listed: every route of every service's app that declares a body (the apps and routes of
``test_route_matrix``), and the bodies a route reads by hand (the gateway's OpenAI and Claude bodies, the
evaluators' ``params``). Each model's validation schema is walked, nested models included, so a lax field added
later fails here. Ingest's records, feedback items and dataset examples are event contracts read through their own
decoders (``llmops_schemas.fastcodec``) and are not walked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llmops_evaluation.heuristics.base import Params
from llmops_evaluation.registry import EvaluatorSpec
from llmops_evaluation.replay.spec import ReplaySpec
from llmops_feedback.entrypoints.review_http import QueueIn
from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.api_models import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from llmops_inference.prompts.router import LabelMove
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.unit.test_route_matrix import APPS, routes

READ_BY_HAND: list[type[BaseModel]] = [ChatCompletionRequest, CompletionRequest, EmbeddingRequest, MessagesRequest]


def _declared_bodies() -> dict[str, Any]:
    """The body type of every API route of every service (the route matrix's apps and routes)."""
    return {
        f"{service} {method} {path}": route.body_field.field_info.annotation
        for service, factory in APPS.items()
        for method, path, route in routes(factory(Path("/nonexistent"), None))
        if route.body_field is not None
    }


def _params() -> list[type[BaseModel]]:
    found, stack = [], [Params]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


BODIES = {**_declared_bodies(), **{m.__qualname__: m for m in [*READ_BY_HAND, *_params()]}}


def _lax_scalars(schema: Any, strict: bool = False, where: str = "") -> Iterator[str]:
    """``Model.field`` of each boolean, integer or float that is not strict (by the field or its model).

    Only fields are judged: a ``JsonValue`` (any JSON by design) sits in the schema's top-level definitions.
    """
    if isinstance(schema, list):
        for item in schema:
            yield from _lax_scalars(item, strict, where)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "model":
        strict, where = bool(schema.get("config", {}).get("strict", strict)), schema["cls"].__name__
    if kind in ("bool", "int", "float") and "." in where and not schema.get("strict", strict):
        yield where
    if kind == "model-fields":
        for name, field in schema["fields"].items():
            yield from _lax_scalars(field, strict, f"{where}.{name}")
        return
    for key, value in schema.items():
        if key not in ("config", "metadata", "serialization"):
            yield from _lax_scalars(value, strict, where)


def test_the_walk_finds_the_bodies_and_a_lax_field() -> None:
    assert len(BODIES) > 40 and "inference PUT /v1/prompts/{name}/labels/{label}" in BODIES

    class Planted(BaseModel):
        flag: bool = False
        count: int | None = None
        share: list[float] = []

    assert sorted(_lax_scalars(TypeAdapter(Planted).core_schema)) == ["Planted.count", "Planted.flag", "Planted.share"]


@pytest.mark.parametrize("body", list(BODIES))
def test_no_scalar_of_a_request_body_is_lax(body: str) -> None:
    lax = sorted(set(_lax_scalars(TypeAdapter(BODIES[body]).core_schema)))
    assert lax == [], f"{body}: fields that take a number for a boolean or a string or boolean for a number: {lax}"


BOOLEANS = [
    (MessagesRequest, {"model": "m", "max_tokens": 1}, "stream"),
    (EvaluatorSpec, {"kind": "exact_match", "app": "a"}, "enabled"),
    (EvaluatorSpec, {"kind": "exact_match", "app": "a"}, "include_platform"),
    (ReplaySpec, {"evaluators": [{"name": "e"}]}, "include_platform"),
]
NUMBERS = [
    (LabelMove, {"version": 3}, "version"),
    (QueueIn, {"name": "q", "source": "sample", "max_items": 5}, "max_items"),
    (EvaluatorSpec, {"kind": "exact_match", "app": "a", "sampling_rate": 0.5}, "sampling_rate"),
]


@pytest.mark.parametrize(("model", "body", "field"), BOOLEANS)
@pytest.mark.parametrize("value", [0, 1, "true"])
def test_a_number_or_a_string_for_a_boolean_is_refused(
    model: type[BaseModel], body: dict[str, Any], field: str, value: Any
) -> None:
    model.model_validate({**body, field: True})  # the body is valid with a boolean
    with pytest.raises(ValidationError, match=field):
        model.model_validate({**body, field: value})


@pytest.mark.parametrize(("model", "body", "field"), NUMBERS)
@pytest.mark.parametrize("value", [True, "1"])
def test_a_boolean_or_a_string_for_a_number_is_refused(
    model: type[BaseModel], body: dict[str, Any], field: str, value: Any
) -> None:
    model.model_validate(body)  # valid with the number
    with pytest.raises(ValidationError, match=field):
        model.model_validate({**body, field: value})
