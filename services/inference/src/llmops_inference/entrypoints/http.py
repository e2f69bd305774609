"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``, ``/v1/models``.

Each route authenticates the key (``inference:invoke``), reads the body under the size limit, validates it
into the request model (400 in OpenAI's shape naming the parameter), builds the call context from the key
and headers (never from the body: the tenant is the key's) and hands over to the
:class:`~llmops_inference.handlers.Gateway`. The three generating routes take only the request and call
:func:`invoker` themselves: each dependency FastAPI resolves costs tens of microseconds per call (ADR 0010).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from llmops_kit.auth import Principal, authenticate, requires
from llmops_kit.feedback_tokens import TOKEN_HEADER, FeedbackTokenSigner
from llmops_kit.http.edge import read_body, trace_id_of
from pydantic import BaseModel, ValidationError

from llmops_inference.api_models import ChatCompletionRequest, CompletionRequest, EmbeddingRequest
from llmops_inference.entrypoints.openapi import ChatCompletion as ChatCompletionOut
from llmops_inference.entrypoints.openapi import Completion, EmbeddingList, ModelList, body, responses
from llmops_inference.errors import GatewayError, from_validation
from llmops_inference.experiments.router import router as experiments_router
from llmops_inference.handlers import Answer, Gateway, new_call_id
from llmops_inference.ports import CallContext
from llmops_inference.prompts.router import router as prompts_router
from llmops_inference.recording.records import identifier_or_none

__all__ = ["HttpDependencies", "build_router", "include_registry_routes"]

M = TypeVar("M", bound=BaseModel)
APP_HEADER = "x-llmops-app"
SESSION_HEADER = "x-llmops-session"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True)
class HttpDependencies:
    """What the routes need, set on ``app.state.inference`` by the bootstrap."""

    gateway: Gateway
    max_body_bytes: int
    default_app: str
    created: int
    feedback_tokens: FeedbackTokenSigner | None = None
    """Signs the feedback token of each chat/completions answer; None (no secret configured): no token."""


def _deps_of(request: Request) -> HttpDependencies:
    deps = getattr(request.app.state, "inference", None)
    if not isinstance(deps, HttpDependencies):
        raise GatewayError(503, "the gateway is starting", type="server_error")
    return deps


async def _deps(request: Request) -> HttpDependencies:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency on its thread pool.
    return _deps_of(request)


def invoker(request: Request) -> tuple[Principal, HttpDependencies]:
    """The caller, allowed ``inference:invoke`` (401/403 otherwise), and the routes' dependencies: what
    ``Invoker`` and ``Deps`` resolve to, in that order, without FastAPI's dependency resolution.
    """
    return authenticate(request, "inference:invoke"), _deps_of(request)


Invoker = Annotated[Principal, Depends(requires("inference:invoke"))]
Deps = Annotated[HttpDependencies, Depends(_deps)]


def body_too_large(limit: int) -> GatewayError:
    """The OpenAI-shaped 413 of a body over ``limit`` bytes."""
    return GatewayError(413, f"the request body exceeds {limit} bytes", code="request_too_large")


def parse(model: type[M], data: bytes) -> M:
    """Validate a JSON body; any problem is a 400 naming the parameter."""
    if not data.strip():
        raise GatewayError(400, "the request body is empty; send a JSON object", code="invalid_json")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise GatewayError(400, "the request body is not valid JSON", code="invalid_json") from None
        raise from_validation(exc) from None


def context(
    request: Request,
    principal: Principal,
    endpoint: Literal["chat", "completion", "embedding", "messages"],
    default_app: str,
    user: str | None,
) -> CallContext:
    """Who is calling and for which app: the tenant and origin from the key, the app and session from headers."""
    app = (request.headers.get(APP_HEADER) or default_app).strip()[:256] or default_app
    return CallContext(
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        app=app,
        endpoint=endpoint,
        call_id=new_call_id(endpoint),
        trace_id=trace_id_of(request.headers.get("traceparent")),
        user_id=identifier_or_none(user),
        session_id=identifier_or_none(request.headers.get(SESSION_HEADER)),
        origin="platform" if principal.is_platform else "application",
    )


def respond(answer: Answer, headers: dict[str, str] | None = None) -> Response:
    if isinstance(answer, dict):
        return JSONResponse(answer, headers=headers)
    return StreamingResponse(answer, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})})


def feedback_headers(deps: HttpDependencies, ctx: CallContext) -> dict[str, str] | None:
    """The answer's feedback token (one HMAC), which lets its end user rate this call (docs/feedback.md)."""
    if deps.feedback_tokens is None:
        return None
    return {TOKEN_HEADER: deps.feedback_tokens.sign(ctx.tenant_id, ctx.call_id)}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["inference"])

    @router.post(
        "/chat/completions",
        summary="Create a chat completion",
        openapi_extra=body("ChatCompletionRequest"),
        responses=responses(ChatCompletionOut, streams=True, feedback_token=True),
    )
    async def chat_completions(request: Request) -> Response:
        """OpenAI's chat completions: `stream: true` answers server-sent events ending in `data: [DONE]`
        (with `stream_options.include_usage`, a last chunk carries the usage). The `id` is the recorded call id;
        with `LLMOPS_FEEDBACK_TOKEN_SECRET` set, `X-LLMOps-Feedback-Token` lets the end user rate it (docs/feedback.md).
        Send `X-LLMOps-App` to name the application (recorded; experiments route by it).

        Extension fields (`extra_body` in the OpenAI SDK): `prompt` renders a registered prompt version,
        `{"name", "label" | "version", "variables"}`; `chain` runs several in order,
        `{"steps": [{"output": "summary", "prompt": {...}}, ...], "variables": {...}}`: each step before the last
        is a call of its own whose answer is the variable `output` of the later steps, and the last step is
        this request's call (streamed with `stream: true`). Every step is recorded with the request's trace id
        and `chain_*` metadata. Give `prompt` or `chain`, not both; at most `INFERENCE_MAX_CHAIN_STEPS` steps.
        """
        principal, deps = invoker(request)
        payload = parse(ChatCompletionRequest, await read_body(request, deps.max_body_bytes, body_too_large))
        ctx = context(request, principal, "chat", deps.default_app, payload.user)
        return respond(await deps.gateway.chat(payload, ctx), feedback_headers(deps, ctx))

    @router.post(
        "/completions",
        summary="Create a text completion",
        openapi_extra=body("CompletionRequest"),
        responses=responses(Completion, streams=True, feedback_token=True),
    )
    async def completions(request: Request) -> Response:
        """OpenAI's legacy text completions, one prompt per request; `stream: true` as for chat."""
        principal, deps = invoker(request)
        payload = parse(CompletionRequest, await read_body(request, deps.max_body_bytes, body_too_large))
        ctx = context(request, principal, "completion", deps.default_app, payload.user)
        return respond(await deps.gateway.completion(payload, ctx), feedback_headers(deps, ctx))

    @router.post(
        "/embeddings",
        summary="Create embeddings",
        openapi_extra=body("EmbeddingRequest"),
        responses=responses(EmbeddingList, errors=(400, 401, 403, 404, 413, 429, 502, 503, 504)),
    )
    async def embeddings(request: Request) -> Response:
        """One vector per input string; `encoding_format: base64` packs little-endian float32."""
        principal, deps = invoker(request)
        payload = parse(EmbeddingRequest, await read_body(request, deps.max_body_bytes, body_too_large))
        ctx = context(request, principal, "embedding", deps.default_app, payload.user)
        return JSONResponse(await deps.gateway.embeddings(payload, ctx))

    @router.get(
        "/models", summary="List the models this gateway serves", responses=responses(ModelList, errors=(401, 403))
    )
    async def models(principal: Invoker, deps: Deps) -> JSONResponse:
        """The public model names of the routes file (what clients send as `model`)."""
        names = deps.gateway.runner.router.models()
        data = [{"id": name, "object": "model", "created": deps.created, "owned_by": "llmops"} for name in names]
        return JSONResponse({"object": "list", "data": data})

    return router


def include_registry_routes(app: FastAPI) -> None:
    """The prompt registry's ``/v1/prompts`` and the experiments' ``/v1/experiments`` (problem+json errors)."""
    app.include_router(prompts_router)
    app.include_router(experiments_router)
