"""What ``bench_gateway.py`` sends, per scenario and target, what counts as an answer, and how the proxies route.

Scenarios (the proxies get the OpenAI-format ``request``; ``direct`` gets what a proxy would send upstream):
- ``chat``: a two-message chat completion, answered with text. The issues' targets (verdicts) are on this one.
- ``tools``: the same conversation offering one function tool (``get_weather``, a JSON schema) with
  ``tool_choice: auto``; the loopback upstream answers a request carrying tools with an assistant tool call, and
  the answer must carry it (name, arguments, finish reason ``tool_calls``).
- ``anthropic``: the chat request for ``bench-claude``, which the gateway routes to an Anthropic Messages
  upstream (``backend: anthropic``) and LiteLLM to ``anthropic/<model>``, both at the loopback upstream's
  ``/v1/messages``; the answer must be the OpenAI-format translation of the upstream's text. ``direct`` sends the
  Anthropic-format request itself there, so the latency a proxy adds is over a native call.

Everything here is pure: ``bench_gateway.py`` starts the processes and sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from loopback_upstream import CHAT_TEXT, CLAUDE_MODEL, CLAUDE_TEXT, TOOL_CALL

__all__ = [
    "CHAT_ANSWER",
    "CLAUDE",
    "MODEL",
    "SCENARIOS",
    "UPSTREAM_KEY",
    "Endpoint",
    "Expect",
    "Scenario",
    "answer_problem",
    "gateway_routes",
    "litellm_models",
]

MODEL = "bench-model"  # routed to the loopback upstream as OpenAI-compatible
CLAUDE = "bench-claude"  # routed to the loopback upstream as an Anthropic Messages API
UPSTREAM_KEY = "sk-loopback"  # the loopback upstream takes any key
SYSTEM = "You are the support assistant of a parcel delivery company. Be brief."
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Where is my parcel? The tracking number is 1Z999AA10123456784."},
    ],
    "max_tokens": 32,
    "temperature": 0.2,
    "user": "bench-user",
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": TOOL_CALL["name"],
        "description": "The current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city's name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TOOLS_REQUEST: dict[str, Any] = {
    **REQUEST,
    "messages": [REQUEST["messages"][0], {"role": "user", "content": "Is it raining at the Paris depot right now?"}],
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
    "max_tokens": 64,
}
ANTHROPIC_REQUEST: dict[str, Any] = {  # REQUEST in the Messages API's terms, exactly as the gateway sends it
    "model": CLAUDE_MODEL,
    "system": [{"type": "text", "text": SYSTEM}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": REQUEST["messages"][1]["content"]}]}],
    "max_tokens": REQUEST["max_tokens"],
    "temperature": REQUEST["temperature"],
    "metadata": {"user_id": REQUEST["user"]},
}
ANTHROPIC_HEADERS = {"x-api-key": UPSTREAM_KEY, "anthropic-version": "2023-06-01"}


# ------------------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Expect:
    """What a target must answer: ``marker`` in every answer's bytes, ``check`` on a sender's first measured one."""

    marker: bytes
    missing: str  # the failure when the marker is missing
    check: Callable[[Any], str | None]  # the parsed answer -> None, or why it is not the expected one
    unparsable: str


def _choice(answer: Any) -> dict[str, Any]:
    choice: dict[str, Any] = answer["choices"][0]
    return choice


def _chat_text(answer: Any) -> str | None:
    return None if _choice(answer)["message"]["content"] == CHAT_TEXT else "not the upstream's answer"


def _tool_call(answer: Any) -> str | None:
    choice = _choice(answer)
    calls = choice["message"].get("tool_calls") or []
    if choice["finish_reason"] != "tool_calls" or len(calls) != 1:
        return "no tool call"
    function = calls[0]["function"]
    same = function["name"] == TOOL_CALL["name"] and json.loads(function["arguments"]) == TOOL_CALL["arguments"]
    return None if same else "not the upstream's tool call"


def _translated_text(answer: Any) -> str | None:
    choice = _choice(answer)
    same = choice["message"]["content"] == CLAUDE_TEXT and choice["finish_reason"] == "stop"
    return None if same else "not the upstream's answer translated"


def _anthropic_text(answer: Any) -> str | None:
    content = answer["content"]  # an error (no content) is not a Messages answer at all
    same = answer["type"] == "message" and content == [{"type": "text", "text": CLAUDE_TEXT}]
    return None if same else "not the upstream's message"


CHAT_ANSWER = Expect(b'"choices"', "no choices", _chat_text, "not a chat completion")
TOOL_ANSWER = Expect(b'"choices"', "no choices", _tool_call, "not a chat completion")
TRANSLATED_ANSWER = Expect(b'"choices"', "no choices", _translated_text, "not a chat completion")
ANTHROPIC_ANSWER = Expect(b'"content"', "no content", _anthropic_text, "not a Messages answer")


def answer_problem(status: int, body: bytes, *, full: bool, expect: Expect = CHAT_ANSWER) -> str | None:
    """Why an answer does not count (None: it does); ``full`` parses it and checks it is the upstream's."""
    if status != 200:
        return f"HTTP {status}"
    if not full:
        return None if expect.marker in body else expect.missing
    try:
        return expect.check(json.loads(body))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return expect.unparsable


# ------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Endpoint:
    """Where a target answers and the request it gets, pre-encoded for the raw client."""

    name: str
    port: int
    path: str
    key: str
    extra_headers: dict[str, str] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=lambda: REQUEST)
    expect: Expect = CHAT_ANSWER

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json", **self.extra_headers}

    @property
    def body(self) -> bytes:
        return json.dumps(self.request, separators=(",", ":")).encode()

    def raw_request(self) -> bytes:
        body = self.body
        head = [
            f"POST {self.path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
            f"Content-Length: {len(body)}",
            "",
            "",
        ]
        return "\r\n".join(head).encode() + body


@dataclass(frozen=True)
class Scenario:
    """One kind of request, the targets it runs against and what each must answer.

    ``share`` is its measured time as a fraction of ``--duration``: the side scenarios get less, to keep a default
    run under ten minutes.
    """

    name: str
    summary: str
    targets: tuple[str, ...]
    request: dict[str, Any]
    expect: Expect
    share: float = 1.0
    direct_path: str | None = None  # the direct target's own request, when it is not the proxies' one
    direct_request: dict[str, Any] | None = None
    direct_headers: dict[str, str] = field(default_factory=dict)
    direct_expect: Expect | None = None

    def endpoint(self, target: Endpoint) -> Endpoint:
        """``target`` (where it answers, its key) with this scenario's request and expected answer."""
        if target.name == "direct" and self.direct_request is not None:
            return replace(
                target,
                path=self.direct_path or target.path,
                request=self.direct_request,
                extra_headers={**target.extra_headers, **self.direct_headers},
                expect=self.direct_expect or self.expect,
            )
        return replace(target, request=self.request, expect=self.expect)


SCENARIOS = {
    "chat": Scenario(
        "chat",
        "a two-message chat completion (the verdicts are on this one)",
        ("direct", "gateway", "litellm", "portkey"),
        REQUEST,
        CHAT_ANSWER,
    ),
    "tools": Scenario(
        "tools",
        "the chat offering one function tool, tool_choice auto; the upstream answers with a tool call",
        ("direct", "gateway", "litellm", "portkey"),
        TOOLS_REQUEST,
        TOOL_ANSWER,
        share=0.5,
    ),
    "anthropic": Scenario(
        "anthropic",
        "the chat for a model routed to an Anthropic Messages upstream, translated; direct: the native call",
        ("direct", "gateway", "litellm"),
        {**REQUEST, "model": CLAUDE},
        TRANSLATED_ANSWER,
        share=0.5,
        direct_path="/v1/messages",
        direct_request=ANTHROPIC_REQUEST,
        direct_headers=ANTHROPIC_HEADERS,
        direct_expect=ANTHROPIC_ANSWER,
    ),
}


# ------------------------------------------------------------------------------------------- routes


def gateway_routes(upstream_port: int) -> dict[str, Any]:
    """The gateway's routes file: ``bench-model`` as OpenAI-compatible, ``bench-claude`` as Anthropic, one server.

    Two upstream entries for the one loopback server: an upstream is used as one kind of backend.
    """
    base = f"http://127.0.0.1:{upstream_port}"
    return {
        "upstreams": [{"name": "loopback", "base_url": f"{base}/v1"}, {"name": "loopback-anthropic", "base_url": base}],
        "models": {
            MODEL: [{"backend": "openai", "upstream": "loopback", "model": "loopback", "timeout_s": 30}],
            CLAUDE: [
                {"backend": "anthropic", "upstream": "loopback-anthropic", "model": CLAUDE_MODEL, "timeout_s": 30}
            ],
        },
    }


def litellm_models(upstream_port: int) -> list[dict[str, Any]]:
    """LiteLLM's ``model_list`` for the same two models (it appends ``/v1/messages`` to an Anthropic api_base)."""
    base = f"http://127.0.0.1:{upstream_port}"
    return [
        {
            "model_name": MODEL,
            "litellm_params": {"model": "openai/loopback", "api_base": f"{base}/v1", "api_key": UPSTREAM_KEY},
        },
        {
            "model_name": CLAUDE,
            "litellm_params": {"model": f"anthropic/{CLAUDE_MODEL}", "api_base": base, "api_key": UPSTREAM_KEY},
        },
    ]
