"""A minimal OpenAI-compatible upstream for ``bench_gateway.py``: ``python loopback_upstream.py PORT``.

Every ``POST .../chat/completions`` gets the same small chat completion (with usage) at once; ``GET`` of any
path answers 200 ``{"ok": true}`` (readiness); anything else 404. HTTP/1.1 keep-alive on a raw asyncio protocol
with httptools' parser and uvloop, so the upstream itself costs as little as possible and the latency a proxy
adds over calling it directly is the proxy's own.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import cast

import httptools
import uvloop

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "loopback",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Your parcel left the depot this morning."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 24, "completion_tokens": 8, "total_tokens": 32},
    },
    separators=(",", ":"),
).encode()


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


class Upstream(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
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

    def on_message_complete(self) -> None:
        method, url, self.url = self.parser.get_method(), self.url, b""
        keep_alive = self.parser.should_keep_alive()
        if method == b"POST" and url.split(b"?", 1)[0].endswith(b"/chat/completions"):
            out = response(b"200 OK", COMPLETION, keep_alive)
        elif method == b"GET":
            out = response(b"200 OK", b'{"ok":true}', keep_alive)
        else:
            out = response(b"404 Not Found", b'{"error":{"message":"not found"}}', keep_alive)
        assert self.transport is not None
        self.transport.write(out)
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
