"""The kit's HTTP edge helpers: the W3C traceparent parser and the bounded body reader."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from llmops_kit.http.edge import read_body, trace_id_of
from llmops_kit.http.problems import install_problem_handlers

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (f"00-{TRACE}-{PARENT}-01", TRACE),
        (f"00-{TRACE.upper()}-{PARENT.upper()}-01".encode(), TRACE),
        (f" 00-{TRACE}-{PARENT}-00 ", TRACE),
        (f"cc-{TRACE}-{PARENT}-01-what-the-future-adds", TRACE),  # a later version may append fields
        (None, None),
        ("", None),
        ("garbage", None),
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 has exactly four fields
        (f"00-{TRACE[:-1]}g-{PARENT}-01", None),
        (f"0-{TRACE}-{PARENT}-01", None),
    ],
)
def test_trace_id_of(header: str | bytes | None, trace_id: str | None) -> None:
    assert trace_id_of(header) == trace_id


def body_app(limit: int) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"read": len(await read_body(request, limit))}

    return app


async def chunks(size: int, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"x" * 100, {}, 200),
        (b"x" * 101, {}, 413),
        (chunks(40, 3), {}, 413),  # no Content-Length: counted while streaming
        (chunks(40, 3), {"Content-Length": "10"}, 413),  # a lying Content-Length does not help
    ],
)
async def test_read_body_refuses_more_than_the_limit(content: object, headers: dict[str, str], status: int) -> None:
    transport = httpx.ASGITransport(app=body_app(100))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/echo", content=content, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == status
    if status == 413:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["limit"] == 100
