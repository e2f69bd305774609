"""Checks of the features a request uses, before any work is done for it (ADR 0016).

* :func:`check_chat` / :func:`check_completion`: bounds and well-formedness the request models cannot judge
  alone (configured limits, tool results matching earlier tool calls): ``n`` over ``INFERENCE_MAX_N``, tool and
  response schemas that are not JSON Schema or are over ``INFERENCE_MAX_SCHEMA_BYTES``, images over
  ``INFERENCE_MAX_IMAGE_BYTES`` or not an http(s)/base64 URL. A plain text chat pays for a few attribute reads.
* :func:`text_only_refusal`: what a backend that only generates text (Triton's ``llm``) cannot do, so it
  refuses the call naming the field instead of dropping it.

Checked schemas are remembered by their JSON (an agent sends the same tools on every call).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, SchemaError, validators
from llmops_schemas.v2.call_parts import MAX_URL
from pydantic_core import to_json

from llmops_inference.api_messages import ChatMessageIn, ImagePart, OtherPart
from llmops_inference.api_models import ChatCompletionRequest, CompletionRequest
from llmops_inference.domain import GenerationRequest
from llmops_inference.errors import GatewayError

__all__ = ["FeatureBounds", "check_chat", "check_completion", "text_only_refusal"]

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TOOL_TYPES = ("function", "custom")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
CHECKED_CACHE = 512
UNSUPPORTED_PARTS = {"input_audio": "audio input", "file": "file input"}
"""Content part types OpenAI defines that the gateway refuses (it could neither bound nor record them)."""
MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
STEERING = frozenset(
    {
        "base_url",
        "api_base",
        "api_key",
        "api_version",
        "upstream",
        "organization",
        "extra_headers",
        "extra_query",
        "headers",
        "custom_llm_provider",
    }
)


@dataclass(frozen=True, slots=True)
class FeatureBounds:
    max_n: int = 8
    max_image_bytes: int = 3 * 1024 * 1024
    max_schema_bytes: int = 64 * 1024


def check_chat(request: ChatCompletionRequest, bounds: FeatureBounds) -> None:
    """400/413 for the first problem of a chat request's features; nothing for a plain text chat."""
    _check_n(request.n, bounds)
    _refuse_steering(request.model_extra)
    if request.tools is not None:
        _checked_tools(to_json(request.tools), bounds.max_schema_bytes, "tools")
    if request.functions is not None:
        _checked_tools(to_json(request.functions), bounds.max_schema_bytes, "functions")
    if request.response_format is not None:
        _checked_response_format(to_json(request.response_format), bounds.max_schema_bytes)
    _check_messages(request.messages, bounds.max_image_bytes)


def check_completion(request: CompletionRequest, bounds: FeatureBounds) -> None:
    _check_n(request.n, bounds)
    _refuse_steering(request.model_extra)


def _refuse_steering(extra: dict[str, Any] | None) -> None:
    """Fields other gateways and SDKs read as where or how to connect: never forwarded (an upstream that is
    itself a proxy might honour them), never silently dropped either."""
    for name in STEERING.intersection(extra) if extra else ():
        raise GatewayError(
            400,
            f"{name!r} cannot be set in a request: upstreams, their addresses and keys come from the routes file",
            param=name,
            code="unsupported_parameter",
        )


def _check_n(n: int | None, bounds: FeatureBounds) -> None:
    if n is not None and n > bounds.max_n:
        raise _invalid("n", f"{n} choices asked for; at most {bounds.max_n} are allowed", "n_too_large")


def _invalid(param: str, message: str, code: str = "invalid_value", status: int = 400) -> GatewayError:
    return GatewayError(status, f"{param}: {message}", param=param, code=code)


# -- tools and response formats -----------------------------------------------------------------------


@functools.lru_cache(maxsize=CHECKED_CACHE)
def _checked_tools(encoded: bytes, max_schema_bytes: int, field: str) -> None:
    """Raises for the first malformed tool (an ``lru_cache`` keeps only the ones that passed)."""
    for index, tool in enumerate(json.loads(encoded)):
        param = f"{field}.{index}"
        if field == "functions":
            _check_function(tool, param, max_schema_bytes)
        elif not isinstance(tool, dict) or tool.get("type") not in TOOL_TYPES:
            raise _invalid(f"{param}.type", f"a tool's type must be one of {', '.join(TOOL_TYPES)}", "invalid_tool")
        else:
            _check_function(tool.get(tool["type"]), f"{param}.{tool['type']}", max_schema_bytes)


def _check_function(function: Any, param: str, max_schema_bytes: int) -> None:
    if not isinstance(function, dict):
        raise _invalid(param, "must be an object with a name", "invalid_tool")
    name = function.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _invalid(f"{param}.name", "must be 1 to 64 letters, digits, '_' or '-'", "invalid_tool")
    if function.get("description") is not None and not isinstance(function["description"], str):
        raise _invalid(f"{param}.description", "must be a string", "invalid_tool")
    if function.get("parameters") is not None:
        _check_schema(function["parameters"], f"{param}.parameters", max_schema_bytes, "invalid_tool_schema")


@functools.lru_cache(maxsize=CHECKED_CACHE)
def _checked_response_format(encoded: bytes, max_schema_bytes: int) -> None:
    response_format = json.loads(encoded)
    kind = response_format.get("type")
    if kind not in RESPONSE_FORMATS:
        raise _invalid("response_format.type", f"must be one of {', '.join(RESPONSE_FORMATS)}")
    if kind != "json_schema":
        return
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not NAME.match(spec["name"]):
        raise _invalid("response_format.json_schema.name", "must be 1 to 64 letters, digits, '_' or '-'")
    if spec.get("strict") is not None and not isinstance(spec["strict"], bool):
        raise _invalid("response_format.json_schema.strict", "must be a boolean")
    if spec.get("schema") is not None:
        _check_schema(spec["schema"], "response_format.json_schema.schema", max_schema_bytes, "invalid_schema")


def _check_schema(schema: Any, param: str, max_schema_bytes: int, code: str) -> None:
    """A JSON Schema object, within the size bound, valid against its meta-schema."""
    if not isinstance(schema, dict):
        raise _invalid(param, "must be a JSON Schema object", code)
    size = len(to_json(schema))
    if size > max_schema_bytes:
        raise _invalid(param, f"the schema has {size} bytes; at most {max_schema_bytes}", "schema_too_large", 413)
    try:
        validators.validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise _invalid(param, f"not a valid JSON Schema ({where or 'root'}: {exc.message[:200]})", code) from None


# -- messages ----------------------------------------------------------------------------------------------


def _check_messages(messages: Sequence[ChatMessageIn], max_image_bytes: int) -> None:
    """Tool results answer an earlier tool call; tool calls are well-formed; images are within bounds."""
    called: set[str] = set()
    for index, message in enumerate(messages):
        if message.tool_calls:
            called.update(_tool_call_ids(message.tool_calls, index))
        elif message.role == "tool":
            _check_tool_result(message.tool_call_id, called, index)
        if type(message.content) is list:
            for position, part in enumerate(message.content):
                if type(part) is ImagePart:
                    param = f"messages.{index}.content.{position}.image_url.url"
                    _check_image(part, param, max_image_bytes)
                elif type(part) is OtherPart:
                    _refuse_part(part.type, f"messages.{index}.content.{position}.type")


def _refuse_part(kind: Any, param: str) -> None:
    what = UNSUPPORTED_PARTS.get(kind, "an unknown content type") if isinstance(kind, str) else "no type"
    message = f"content part type {str(kind)[:64]!r} ({what}) is not supported by this gateway"
    raise _invalid(param, message, "unsupported_content_type")


def _tool_call_ids(calls: list[dict[str, Any]], index: int) -> list[str]:
    ids = []
    for position, call in enumerate(calls):
        param = f"messages.{index}.tool_calls.{position}"
        kind = call.get("type", "function")
        body = call.get(kind) if isinstance(kind, str) and kind in TOOL_TYPES else None
        if not isinstance(call.get("id"), str) or not call["id"] or not isinstance(body, dict):
            raise _invalid(param, "a tool call needs an id and a type with its object", "invalid_tool_call")
        if kind == "function" and not (isinstance(body.get("name"), str) and isinstance(body.get("arguments"), str)):
            raise _invalid(f"{param}.function", "needs a name and its arguments as a JSON string", "invalid_tool_call")
        ids.append(call["id"])
    return ids


def _check_tool_result(tool_call_id: str | None, called: set[str], index: int) -> None:
    param = f"messages.{index}.tool_call_id"
    if tool_call_id is None:
        raise _invalid(param, "a tool message needs the tool_call_id it answers", "unmatched_tool_result")
    if tool_call_id not in called:
        message = f"no earlier assistant message made the tool call {tool_call_id!r}"
        raise _invalid(param, message, "unmatched_tool_result")


def _check_image(part: ImagePart, param: str, max_image_bytes: int) -> None:
    """An http(s) URL the event can keep (at most :data:`MAX_URL` characters), or base64 image data within the
    bound (checked on its length before it is decoded, once, for its SHA-256)."""
    url = part.image_url.url
    if url.startswith(("https://", "http://")):
        if len(url) > MAX_URL or any(c.isspace() for c in url):
            raise _invalid(param, f"must be a URL of at most {MAX_URL} characters, without spaces", "invalid_image_url")
        return
    header, comma, payload = url.partition(",")
    if not (comma and header.startswith("data:") and header.endswith(";base64")):
        raise _invalid(param, "must be an http(s) URL or a base64 data URL", "invalid_image_url")
    if not MEDIA_TYPE.match(header[5:-7].lower()) or not header.startswith("data:image/"):
        raise _invalid(param, f"{header[5:-7] or 'this'} data is not an image", "unsupported_content_type")
    size = len(payload) * 3 // 4 - payload[-2:].count("=")
    if size > max_image_bytes:
        raise _invalid(param, f"the image has {size} bytes; at most {max_image_bytes}", "image_too_large", 413)
    try:
        part.inline()
    except ValueError as exc:
        raise _invalid(param, str(exc), "invalid_image_url") from None


# -- what a text-only backend cannot do --------------------------------------------------------------------

NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (1,),
    "logprobs": (False,),
    "echo": (False,),
    "presence_penalty": (0, 0.0),
    "frequency_penalty": (0, 0.0),
    "top_logprobs": (0,),
    "best_of": (1,),
    "parallel_tool_calls": (True, False),
    "response_format": ({"type": "text"},),
    "modalities": (["text"],),
}
"""Values of fields that ask for nothing beyond plain text generation."""
HANDLED = frozenset({"user", "metadata", "stream_options", "max_completion_tokens"})
"""Fields honoured whatever the backend: recorded, the gateway's own stream framing, max_tokens' newer name."""


def text_only_refusal(request: GenerationRequest) -> tuple[str, str] | None:
    """``(param, feature)`` of the first thing in ``request`` a text-only backend cannot do, or None."""
    for name, value in request.params.extra.items():
        if value is None or name in HANDLED:
            continue
        if not any(type(value) is type(neutral) and value == neutral for neutral in NEUTRAL.get(name, ())):
            return name, f"'{name}'"
    for index, message in enumerate(request.messages):
        if message.get("tool_calls") or message.get("function_call"):
            return f"messages.{index}.tool_calls", "tool calls"
        if message.get("role") in ("tool", "function"):
            return f"messages.{index}", "tool messages"
        content = message.get("content")
        if isinstance(content, list):
            for position, part in enumerate(content):
                if part.get("type") != "text":
                    return f"messages.{index}.content.{position}", f"{part.get('type')} content"
    return None
