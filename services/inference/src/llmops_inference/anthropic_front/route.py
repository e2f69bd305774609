"""``POST /v1/messages``: the Claude-compatible front door.

The route authenticates the key like the OpenAI routes (``x-api-key``, which the Claude SDK sends, or
``Authorization: Bearer``), reads the body under the same size limit, validates it as Anthropic's request,
translates it into the chat request ``/v1/chat/completions`` would have received and hands it to
:meth:`Gateway.chat`: prompt rendering, experiments, size checks, rate limits, budgets, routing, fallbacks and
the recorded call are the chat route's (ADR 0019). The answer, a chat completion or its stream, is
translated back; every error is answered in Anthropic's shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from llmops_kit.http.edge import read_body
from pydantic import ValidationError
from pydantic_core import from_json
from starlette.exceptions import HTTPException

from llmops_inference.anthropic_front.answers import message_body
from llmops_inference.anthropic_front.errors import anthropic_error_response, from_http
from llmops_inference.anthropic_front.models import MessagesRequest
from llmops_inference.anthropic_front.openapi import messages_responses
from llmops_inference.anthropic_front.requests import to_chat_request
from llmops_inference.anthropic_front.stream import anthropic_events
from llmops_inference.entrypoints.http import SSE_HEADERS, body_too_large, context, invoker, parse
from llmops_inference.entrypoints.openapi import body
from llmops_inference.errors import GatewayError, from_validation

__all__ = ["MESSAGES_PATH", "build_messages_router"]

MESSAGES_PATH = "/v1/messages"


def build_messages_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["anthropic"])

    @router.post(
        "/messages",
        summary="Create a message (Anthropic's Messages API)",
        openapi_extra=body("MessagesRequest"),
        responses=messages_responses(),
    )
    async def messages(request: Request) -> Response:
        """Anthropic's Messages API for applications written against the Claude SDK, served by any model of
        the routes file through the same pipeline as chat completions (and recorded the same way, with
        `endpoint: messages`). `stream: true` answers Anthropic's server-sent events. The `id` is the
        recorded call id. Fields the gateway cannot translate (`thinking`, server tools, documents...) are
        refused with 400 naming them. `prompt` and `chain` (`extra_body`) work as on chat completions.
        """
        try:
            return await _answer(request)
        except GatewayError as error:
            return anthropic_error_response(error)
        except HTTPException as exc:
            return anthropic_error_response(from_http(exc))

    return router


async def _answer(request: Request) -> Response:
    principal, deps = invoker(request)
    payload = _parse(await read_body(request, deps.max_body_bytes, body_too_large))
    call = context(request, principal, "messages", deps.default_app, payload.user())
    translated = to_chat_request(payload)
    try:
        answer = await deps.gateway.chat(translated.request, call)
    except GatewayError as error:
        raise translated.locate(error) from None
    stops = payload.stop_sequences or []
    if isinstance(answer, dict):
        return JSONResponse(message_body(answer, stops))
    return StreamingResponse(anthropic_events(answer, stops), media_type="text/event-stream", headers=SSE_HEADERS)


def _parse(data: bytes) -> MessagesRequest:
    """The request, or a 400 naming the field: an undeclared one is refused by name, with the model.

    Of several problems the deepest is named: in ``str | list[block]`` fields (``content``, ``system``) the
    block's own problem says more than "Input should be a valid string".
    """
    try:
        return MessagesRequest.model_validate_json(data)
    except ValidationError as exc:
        errors = exc.errors()
        if any(error["type"] == "json_invalid" for error in errors):
            return parse(MessagesRequest, data)  # raises the OpenAI front's 400 for an empty or malformed body
        deepest = max(errors, key=lambda error: len(error["loc"]))
        located = {**deepest, "loc": _fields(deepest["loc"], from_json(data))}
        refused = from_validation(RequestValidationError([located]))
    if deepest["type"] == "extra_forbidden" and refused.param:
        message = f"'{refused.param}' is not supported by this gateway's /v1/messages (model {_model(data)!r})"
        raise GatewayError(400, message, param=refused.param, code="unsupported_parameter")
    raise refused


def _fields(loc: tuple[int | str, ...], data: Any) -> tuple[int | str, ...]:
    """``loc`` without what pydantic adds that is no field of the body: a block's ``type`` tag (the union's
    discriminator) and a union member's name (``str``, ``list[...]``)."""
    kept: list[int | str] = []
    node, tagged = data, False
    for part in loc:
        if isinstance(node, dict) and node.get("type") == part and (part not in node or tagged):
            tagged = False  # a tag is no key of its block, unless the block has a field of its name (text)
            continue
        if isinstance(node, list | str) and not isinstance(part, int):
            tagged = "tagged-union" in str(part)  # the list's items are named by their tag next
            continue
        kept.append(part)
        tagged = tagged and isinstance(part, int)
        node = _child(node, part)
    return tuple(kept)


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _model(data: bytes) -> str | None:
    try:
        model = from_json(data).get("model")
    except (ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None
