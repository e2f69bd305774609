"""Local upstreams that speak Anthropic's Messages API and Google's Gemini API, for the gateway's tests.

Each checks the key header it expects, checks every request against the official SDK's request types (a
malformed one gets the provider's 400), and answers from the SDK's response types
(:mod:`tests.fixtures.provider_answers`), streamed or not:

* a request with tools whose last turn is the user's -> a call of the first tool with ``{"city": "Paris"}``;
* a request whose last turn is a tool result -> ``"The weather is <result>."``;
* a request asking for JSON -> ``{"answer": 42}``;
* a request with images -> ``"I see N image(s): <sources>"``;
* else ``"<name> says: you wrote '<last text>'"``.

``POST /control`` with ``{"status": 529}`` (or 429, 503...) makes every call fail with that status in the
provider's error shape (``retry_after`` adds the provider's retry hint); ``{}`` back to normal. ``GET /control``
tells how many calls came, and the last body and headers.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from tests.fixtures.provider_answers import (
    anthropic_error,
    anthropic_events,
    anthropic_message,
    anthropic_sse,
    gemini_chunks,
    gemini_error,
    gemini_json,
    gemini_response,
    gemini_sse,
)
from tests.fixtures.provider_requests import anthropic_problems, gemini_request

__all__ = ["create_anthropic_stub", "create_gemini_stub"]

TOOL_ARGUMENTS = {"city": "Paris"}
JSON_ANSWER = '{"answer": 42}'
ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
GEMINI_ERRORS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}


class _State:
    def __init__(self) -> None:
        self.status: int | None = None
        self.retry_after: int | None = None
        self.calls = 0
        self.last_body: dict[str, Any] | None = None
        self.last_headers: dict[str, str] = {}

    def install(self, app: FastAPI) -> None:
        @app.post("/control")
        async def control(request: Request) -> dict[str, bool]:
            settings = await request.json()
            self.status, self.retry_after, self.calls = settings.get("status"), settings.get("retry_after"), 0
            return {"ok": True}

        @app.get("/control")
        async def observed() -> dict[str, Any]:
            return {"calls": self.calls, "last_body": self.last_body, "last_headers": self.last_headers}

    async def observe(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        self.calls += 1
        self.last_body, self.last_headers = body, dict(request.headers)
        return body


def create_anthropic_stub(name: str, key: str) -> FastAPI:
    app = FastAPI(title=f"Anthropic stub {name}")
    state = _State()
    state.install(app)

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        body = await state.observe(request)
        if request.headers.get("x-api-key") != key:
            return JSONResponse(anthropic_error("authentication_error", "invalid x-api-key"), status_code=401)
        if state.status:
            headers = {"retry-after": str(state.retry_after)} if state.retry_after else {}
            error = anthropic_error(ANTHROPIC_ERRORS.get(state.status, "api_error"), f"{name} is failing on purpose")
            return JSONResponse(error, status_code=state.status, headers=headers)
        if problems := anthropic_problems(body):
            return JSONResponse(anthropic_error("invalid_request_error", "; ".join(problems)), status_code=400)
        message = _anthropic_answer(name, body)
        if body.get("stream"):
            return Response(anthropic_sse(anthropic_events(message)), media_type="text/event-stream")
        return JSONResponse(message.model_dump(mode="json", exclude_none=True))

    return app


def _anthropic_answer(name: str, body: dict[str, Any]) -> Any:
    last = body["messages"][-1]["content"]
    blocks = last if isinstance(last, list) else [{"type": "text", "text": last}]
    results = [b["content"] for b in blocks if b.get("type") == "tool_result"]
    images = [b["source"]["type"] for b in blocks if b.get("type") == "image"]
    if body.get("tools") and not results:
        tool = ("toolu_stub_1", body["tools"][0]["name"], TOOL_ARGUMENTS)
        return anthropic_message(None, tools=(tool,), stop_reason="tool_use", model=body["model"])
    text = _answer_text(name, results, images, "format" in body.get("output_config", {}), blocks)
    return anthropic_message(text, model=body["model"])


def create_gemini_stub(name: str, key: str) -> FastAPI:
    app = FastAPI(title=f"Gemini stub {name}")
    state = _State()
    state.install(app)

    @app.post("/v1beta/models/{call}")
    async def generate(call: str, request: Request) -> Response:
        body = await state.observe(request)
        _, _, method = call.partition(":")
        if request.headers.get("x-goog-api-key") != key:
            return JSONResponse(gemini_error(403, "PERMISSION_DENIED", "invalid API key"), status_code=403)
        if state.status:
            error = gemini_error(
                state.status, GEMINI_ERRORS.get(state.status, "INTERNAL"), f"{name} fails", state.retry_after
            )
            return JSONResponse(error, status_code=state.status)
        try:
            gemini_request(body)
        except (ValidationError, AssertionError) as exc:
            return JSONResponse(gemini_error(400, "INVALID_ARGUMENT", str(exc)[:500]), status_code=400)
        answer = _gemini_answer(name, body)
        if method == "streamGenerateContent" and request.query_params.get("alt") == "sse":
            return Response(gemini_sse(gemini_chunks(answer)), media_type="text/event-stream")
        return JSONResponse(gemini_json(answer))

    return app


def _gemini_answer(name: str, body: dict[str, Any]) -> Any:
    parts = body["contents"][-1]["parts"]
    results = [p["functionResponse"]["response"]["result"] for p in parts if "functionResponse" in p]
    images = ["base64" if "inlineData" in p else "url" for p in parts if "inlineData" in p or "fileData" in p]
    config = body.get("generationConfig", {})
    if body.get("tools") and not results:
        name_ = body["tools"][0]["functionDeclarations"][0]["name"]
        return gemini_response(None, calls=(("fc_stub_1", name_, TOOL_ARGUMENTS),))
    blocks = [{"type": "text", "text": p["text"]} for p in parts if "text" in p]
    text = _answer_text(name, results, images, config.get("responseMimeType") == "application/json", blocks)
    return gemini_response(text, candidates=int(config.get("candidateCount") or 1))


def _answer_text(
    name: str, results: list[Any], images: list[str], wants_json: bool, blocks: list[dict[str, Any]]
) -> str:
    if results:
        return f"The weather is {results[0]}."
    if wants_json:
        return JSON_ANSWER
    if images:
        return f"I see {len(images)} image(s): {', '.join(images)}"
    texts = [b.get("text", "") for b in blocks if b.get("type") == "text"]
    return f"{name} says: you wrote {json.dumps(' '.join(texts))}"
