"""``json``: whether the answer is valid JSON (bare or inside a Markdown code fence), and conforms to a schema."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from jsonschema import SchemaError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from pydantic import Field, JsonValue, StrictBool, field_validator

from llmops_evaluation.heuristics.base import Answer, Heuristic, Params, Verdict

__all__ = ["FENCE", "Json", "extract_json"]

# A fenced block: ``` or ~~~, an optional info string (json, JSON, json5...), the body, the same fence.
FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[\w+.-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)

_VALUE_STARTS = frozenset('{["-0123456789tfnNI')
"""The first characters of a value ``json.loads`` reads (``NaN`` and ``Infinity`` included): after any other, it
fails at char 0, whitespace having been stripped."""


def extract_json(text: str, *, fences: bool = True) -> tuple[Any, str | None]:
    """The JSON value of ``text``: the whole text, else the first fenced block that parses.

    Returns ``(value, None)`` or ``(None, why)``. A block tagged with another language (```python) is skipped.
    """
    stripped = text.strip()
    if not stripped:
        return None, "the answer is empty"
    if stripped[0] in _VALUE_STARTS:
        try:
            return json.loads(stripped), None
        except (ValueError, RecursionError) as exc:
            why = f"not JSON: {type(exc).__name__} at char {getattr(exc, 'pos', '?')}"
    else:  # what json.loads says of it, without raising and formatting the error (most answers are prose)
        why = "not JSON: JSONDecodeError at char 0"
    if fences and ("```" in text or "~~~" in text):  # the fence's own opening, before the regex scans every line
        for block in FENCE.finditer(text):
            if block["info"] and block["info"].lower() not in {"json", "jsonc", "json5"}:
                continue
            try:
                return json.loads(block["body"]), None
            except (ValueError, RecursionError):
                why = "a code fence holds text that is not JSON"
    return None, why


class JsonParams(Params):
    json_schema: dict[str, JsonValue] | None = Field(
        default=None, alias="schema", description="A JSON Schema (any draft jsonschema knows) the value must meet"
    )
    fences: StrictBool = Field(default=True, description="Also accept the JSON inside a Markdown code fence")

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if schema is not None:
            try:
                validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return schema


class Json(Heuristic):
    """``json``: metric ``json_valid`` (1/0), and ``json_schema`` (1/0) when a schema is configured."""

    kind = "json"
    version = "1"
    params = JsonParams

    @classmethod
    def build(cls, params: JsonParams) -> Callable[[Answer], list[Verdict]]:
        validator: Validator | None = None
        if params.json_schema is not None:
            validator = validator_for(params.json_schema)(params.json_schema)

        def judge(answer: Answer) -> list[Verdict]:
            value, why = extract_json(answer.text, fences=params.fences)
            valid = why is None
            verdicts = [Verdict("json_valid", float(valid), valid, "valid" if valid else "invalid", why)]
            if validator is not None:
                verdicts.append(_conformance(validator, value) if valid else _no_value())
            return verdicts

        return judge


def _conformance(validator: Validator, value: Any) -> Verdict:
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return Verdict("json_schema", 1.0, True, "conforms")
    # The path and the failed keyword, never the instance: the explanation must not copy the answer.
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return Verdict("json_schema", 0.0, False, "violates", f"{where}: fails '{error.validator}'")


def _no_value() -> Verdict:
    return Verdict("json_schema", 0.0, False, "invalid", "no JSON value to check")
