"""A minimal upstream for ``bench_gateway.py``, OpenAI- and Anthropic-compatible: ``python loopback_upstream.py PORT``.

Three fixed answers, each sent at once:
- ``POST .../chat/completions`` gets a small chat completion with usage (``CHAT_TEXT``);
- the same with ``"tools"`` in its body gets an assistant tool call (``TOOL_CALL``, finish reason
  ``tool_calls``). The body is searched for the bytes ``"tools"``, not parsed: in JSON they can only be a key or
  the string value ``tools`` (a quote inside a string is escaped), and a search costs next to nothing;
- ``POST .../messages`` gets an Anthropic Messages answer (``CLAUDE_TEXT``; usage with cache reads and writes).
``GET`` of any path answers 200 ``{"ok": true}`` (readiness); anything else 404. HTTP/1.1 keep-alive on a raw
asyncio protocol with httptools' parser and uvloop, so the upstream itself costs as little as possible and the
latency a proxy adds over calling it directly is the proxy's own.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, cast

import httptools
import uvloop

CHAT_TEXT = "Your parcel left the depot this morning."
TOOL_CALL = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
CLAUDE_MODEL = "claude-sonnet-4-5"
CLAUDE_TEXT = "Your parcel is out for delivery and should arrive before noon."


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _completion(message: dict[str, Any], finish_reason: str, usage: tuple[int, int]) -> bytes:
    return _json(
        {
            "id": "chatcmpl-loopback",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "loopback",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
    )


COMPLETION = _completion({"content": CHAT_TEXT}, "stop", (24, 8))
TOOL_COMPLETION = _completion(
    {
        "content": None,
        "tool_calls": [
            {
                "id": "call_loopback",
                "type": "function",
                "function": {"name": TOOL_CALL["name"], "arguments": json.dumps(TOOL_CALL["arguments"])},
            }
        ],
    },
    "tool_calls",
    (96, 18),
)
MESSAGE = _json(
    {
        "id": "msg_loopback",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE_MODEL,
        "content": [{"type": "text", "text": CLAUDE_TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 13,
            "cache_creation_input_tokens": 4,
            "cache_read_input_tokens": 16,
        },
    }
)


def response(status: bytes, body: bytes, keep_alive: bool) -> bytes:
    connection = b"keep-alive" if keep_alive else b"close"
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: "
        + connection
        + b"\r\n\r\n"
        + body
    )


def answer(method: bytes, url: bytes, body: bytes) -> tuple[bytes, bytes]:
    """The status and body for one request."""
    path = url.split(b"?", 1)[0]
    if method == b"POST" and path.endswith(b"/chat/completions"):
        return b"200 OK", TOOL_COMPLETION if b'"tools"' in body else COMPLETION
    if method == b"POST" and path.endswith(b"/messages"):
        return b"200 OK", MESSAGE
    if method == b"GET":
        return b"200 OK", b'{"ok":true}'
    return b"404 Not Found", b'{"error":{"message":"not found"}}'


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(response(b"400 Bad Request", b'{"error":"bad request"}', False))
                self.transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        url, body, self.url, self.body = self.url, b"".join(self.body), b"", []
        keep_alive = self.parser.should_keep_alive()
        status, payload = answer(self.parser.get_method(), url, body)
        assert self.transport is not None
        self.transport.write(response(status, payload, keep_alive))
        if not keep_alive:
            self.transport.close()


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    uvloop.run(serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
