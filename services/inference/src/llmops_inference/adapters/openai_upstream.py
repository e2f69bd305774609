"""An OpenAI-compatible upstream (a hosted provider, vLLM, Ollama, ...) over one pooled HTTP transport.

The transport (:class:`~llmops_inference.adapters.http_transport.AiohttpTransport` unless one is injected) is
started in ``start`` (the app's lifespan). Its URLs are the upstream's base URL from server configuration joined
with fixed paths, and its key a header fixed at start, so nothing a caller sends can point it elsewhere. Errors
become :class:`~llmops_inference.domain.UpstreamError` with messages free of URLs and keys.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from pydantic_core import to_json

from llmops_inference.adapters.http_transport import (
    AiohttpTransport,
    HttpAnswer,
    HttpRequest,
    HttpTransport,
    Timeouts,
    TransportError,
)
from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, UpstreamError, Usage
from llmops_inference.routing_table import Target, Upstream

__all__ = ["OpenAIUpstream"]

MAX_ERROR_TEXT = 500
PROBE_TIMEOUTS = Timeouts(read_s=3.0, connect_s=3.0)


class OpenAIUpstream:
    """A :class:`~llmops_inference.ports.Backend` for an OpenAI-compatible HTTP API."""

    def __init__(self, upstream: Upstream, *, transport: HttpTransport | None = None) -> None:
        self.name = upstream.name
        self._upstream = upstream
        self._transport = transport or AiohttpTransport(max_connections=upstream.max_connections)
        self._base = upstream.base_url.rstrip("/") + "/"
        self._headers: Mapping[str, str] = {}
        self._started = False

    async def start(self) -> None:
        key = self._upstream.api_key()
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        self._headers = {**auth, "Content-Type": "application/json"}
        await self._transport.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self._transport.stop()

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        path, body = _request_body(request, target, stream=False)
        data = await self._post(path, body, target)
        choices = _choices(data, self.name)
        choice = choices[0]
        text = choice.get("text") if request.kind == "completion" else (choice.get("message") or {}).get("content")
        return Generation(
            text=text if isinstance(text, str) else "",
            finish_reason=choice.get("finish_reason"),
            usage=_usage(data.get("usage")),
            choices=choices,
            extra={key: value for key, value in data.items() if key not in _REPLACED} or None,
        )

    async def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        path, body = _request_body(request, target, stream=True)
        try:
            async with self._transport.stream(self._request("POST", path, body), _timeouts(target)) as response:
                if response.status >= 400:
                    raise _status_error(self.name, HttpAnswer(response.status, response.headers, await response.read()))
                async for line in response.lines():
                    delta = _parse_event(line, request.kind, self.name)
                    if delta is _DONE:
                        return
                    if delta is not None:
                        yield delta
        except TransportError as exc:
            raise _transport_error(self.name, exc) from None

    async def embed(self, texts: list[str], target: Target, dimensions: int | None) -> Embeddings:
        body: dict[str, Any] = {"model": target.model, "input": texts, "encoding_format": "float"}
        if dimensions is not None:
            body["dimensions"] = dimensions
        data = await self._post("embeddings", body, target)
        try:
            rows = sorted(data["data"], key=lambda row: row["index"])
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError):
            raise UpstreamError("protocol", f"upstream {self.name!r} answered an unexpected embeddings body") from None
        usage = data.get("usage") or {}
        return Embeddings(vectors=vectors, prompt_tokens=int(usage.get("prompt_tokens") or 0))

    async def probe(self) -> bool:
        if not self._upstream.health_path:
            return True  # passive: the circuit breaker tells
        if not self._started:
            return False
        try:
            answer = await self._transport.send(
                self._request("GET", self._upstream.health_path.lstrip("/"), None), PROBE_TIMEOUTS
            )
        except TransportError:
            return False
        return answer.status < 500

    def _request(self, method: Literal["GET", "POST"], path: str, body: dict[str, Any] | None) -> HttpRequest:
        if not self._started:
            raise UpstreamError("unavailable", f"upstream {self.name!r} is not started")
        content = to_json(body) if body is not None else b""
        return HttpRequest(method, self._base + path, self._headers, content)

    async def _post(self, path: str, body: dict[str, Any], target: Target) -> dict[str, Any]:
        try:
            answer = await self._transport.send(self._request("POST", path, body), _timeouts(target))
        except TransportError as exc:
            raise _transport_error(self.name, exc) from None
        if answer.status >= 400:
            raise _status_error(self.name, answer)
        try:
            data = json.loads(answer.content)
        except ValueError:
            raise UpstreamError("protocol", f"upstream {self.name!r} answered something that is not JSON") from None
        if not isinstance(data, dict):
            raise UpstreamError("protocol", f"upstream {self.name!r} answered an unexpected body")
        return data


_DONE = Delta(finish_reason="__done__")
_REPLACED = frozenset({"id", "object", "created", "model", "choices", "usage"})
"""Top-level fields of an answer the gateway sets itself; the others are relayed."""
_COUNTS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})


def _request_body(request: GenerationRequest, target: Target, *, stream: bool) -> tuple[str, dict[str, Any]]:
    """The caller's fields as sent (ADR 0016), with the upstream's model name and the gateway's sampling bounds."""
    params = request.params
    body: dict[str, Any] = {"model": target.model, **params.extra}
    if "max_completion_tokens" not in body:  # the newer name, when sent, carries the (checked) bound
        body["max_tokens"] = params.max_tokens
    optional = {"temperature": params.temperature, "top_p": params.top_p, "seed": params.seed}
    body.update({k: v for k, v in optional.items() if v is not None})
    if params.stop:
        body["stop"] = list(params.stop)
    if stream:
        body["stream"] = True
        # usage is what the call is recorded and charged with: asked for whatever the client asked
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    if request.kind == "chat":
        return "chat/completions", {**body, "messages": list(request.messages)}
    return "completions", {**body, "prompt": request.prompt}


def _timeouts(target: Target) -> Timeouts:
    return Timeouts(read_s=target.timeout_s, connect_s=min(5.0, target.timeout_s))


def _parse_event(line: str, kind: str, name: str) -> Delta | None:
    """One SSE line of the upstream as a delta; None for lines that carry nothing (comments, role-only chunks)."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        event = json.loads(data)
    except ValueError:
        raise UpstreamError("protocol", f"upstream {name!r} streamed something that is not JSON") from None
    if not isinstance(event, dict):
        raise UpstreamError("protocol", f"upstream {name!r} streamed an unexpected event")
    if event.get("error"):
        raise UpstreamError("protocol", f"upstream {name!r} failed mid-stream: {_error_text(event)}")
    choices = event.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        raise UpstreamError("protocol", f"upstream {name!r} streamed an unexpected event")
    relayed = [choice for choice in choices if _carries(choice, kind)]
    usage = _usage(event.get("usage"))
    if not relayed:
        return Delta(usage=usage) if usage else None
    first = relayed[0] if _index_of(relayed[0]) == 0 else {}
    text = first.get("text") if kind == "completion" else (first.get("delta") or {}).get("content")
    return Delta(
        text=text if isinstance(text, str) else "",
        finish_reason=first.get("finish_reason"),
        usage=usage,
        choices=relayed,
    )


def _carries(choice: dict[str, Any], kind: str) -> bool:
    """Whether a streamed choice carries anything once its ``role`` is left out (the gateway sends the role
    itself, once per choice, so the client never sees it twice)."""
    if choice.get("finish_reason") is not None or choice.get("logprobs") is not None:
        return True
    if kind == "completion":
        return bool(choice.get("text"))
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return False
    delta.pop("role", None)
    return any(value is not None and value != "" for value in delta.values())


def _index_of(choice: dict[str, Any]) -> int:
    index = choice.get("index", 0)
    return index if isinstance(index, int) else 0


def _choices(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(choice, dict) for choice in choices):
        raise UpstreamError("protocol", f"upstream {name!r} answered without choices")
    return choices


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        counts = int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return None
    details = {key: value for key, value in raw.items() if key not in _COUNTS} if len(raw) > 3 else None
    return Usage(*counts, details=details or None)


def _error_text(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return str(message or "no details")[:MAX_ERROR_TEXT]


def _status_error(name: str, answer: HttpAnswer) -> UpstreamError:
    try:
        data = json.loads(answer.content)
    except ValueError:
        data = None
    detail = _error_text(data) if data is not None else "no details"
    retry_after = answer.headers.get("retry-after")
    seconds = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
    message = f"upstream {name!r} answered {answer.status}: {detail}"
    param = _unsupported_param(data) if answer.status == 400 else None
    return UpstreamError("status", message, status=answer.status, retry_after=seconds, param=param)


def _unsupported_param(data: Any) -> str | None:
    """The field a 400 says the upstream cannot do (``code: unsupported_parameter``, as OpenAI and the native
    dialects answer, ADR 0018), so the client's 400 names it like the gateway's own refusals."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or error.get("code") != "unsupported_parameter":
        return None
    param = error.get("param")
    return param[:256] if isinstance(param, str) and param else None


def _transport_error(name: str, exc: TransportError) -> UpstreamError:
    """Only the exception's class goes into the message: its text can hold the URL."""
    if exc.kind == "connect":
        return UpstreamError("connect", f"cannot connect to upstream {name!r} ({exc.cause})")
    if exc.kind == "unavailable":
        return UpstreamError("unavailable", f"upstream {name!r} has no free connection")
    if exc.kind == "timeout":
        return UpstreamError("timeout", f"upstream {name!r} timed out ({exc.cause})")
    return UpstreamError("protocol", f"upstream {name!r} connection failed ({exc.cause})")
