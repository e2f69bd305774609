"""Embeddings of sampled calls' prompts through the gateway: one request per tenant and batch, a deterministic
sample, rounded vectors, and rows stored without one (counted) when the embedder fails or is slow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from llmops_drift_detection.embeddings import FEATURE, PromptEmbedder, sampled
from llmops_drift_detection.kept import PACKED, unpack
from llmops_drift_detection.metrics import EMBEDDINGS
from llmops_kit.platform_client import GatewayClient, PlatformClient

from tests.fixtures.clocks import ManualClock

Handler = Callable[[httpx.Request], Any]


def _vectors(request: httpx.Request) -> httpx.Response:
    texts = json.loads(request.content)["input"]
    data = [{"index": i, "embedding": [len(text) / 3, -0.123456, 1.0]} for i, text in enumerate(texts)]
    return httpx.Response(200, json={"data": list(reversed(data))})


@asynccontextmanager
async def _embedder(
    handle: Handler, clock: ManualClock | None = None, timeout_s: float = 5.0
) -> AsyncIterator[PromptEmbedder]:
    """The real gateway client over a mock transport (a fake gateway answering ``handle``)."""
    client = PlatformClient("gateway", "http://gw", "svc-key", transport=httpx.MockTransport(handle), attempts=1)
    await client.start()
    try:
        yield PromptEmbedder(
            GatewayClient(client), rate=0.5, model="local-embedder", timeout_s=timeout_s, backoff_s=30,
            max_chars=100, clock=clock or ManualClock(),
        )  # fmt: skip
    finally:
        await client.stop()


def _count(outcome: str) -> float:
    return EMBEDDINGS.labels(outcome)._value.get()


def test_the_sample_is_deterministic_and_about_the_rate() -> None:
    ids = [f"call-{i}" for i in range(20_000)]

    chosen = [call_id for call_id in ids if sampled(call_id, 0.05)]

    assert 0.04 < len(chosen) / len(ids) < 0.06
    assert chosen == [call_id for call_id in ids if sampled(call_id, 0.05)]
    assert not any(sampled(call_id, 0.0) for call_id in ids)


async def test_a_batch_sends_one_request_per_tenant_and_stores_packed_vectors() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["x-llmops-tenant"], json.loads(request.content)))
        return _vectors(request)

    rows: list[dict[str, Any]] = [{"latency_ms": 1.0} for _ in range(3)]
    async with _embedder(answer) as embedder:
        await embedder.embed([("acme", "hello", rows[0]), ("beta", "x" * 500, rows[1]), ("acme", "hi!", rows[2])])

    assert sorted((tenant, body["input"]) for tenant, body in seen) == [
        ("acme", ["hello", "hi!"]), ("beta", ["x" * 100]),
    ]  # fmt: skip
    assert rows[0][FEATURE].startswith(PACKED)  # float16: 2 bytes a dimension in the changelog
    assert unpack(rows[0][FEATURE]) == pytest.approx([1.667, -0.1235, 1.0], rel=1e-3)
    assert unpack(rows[2][FEATURE]) == pytest.approx([1.0, -0.1235, 1.0], rel=1e-3)
    assert unpack(rows[1][FEATURE]) == pytest.approx([33.33, -0.1235, 1.0], rel=1e-3)  # cut at max_chars
    assert "hello" not in json.dumps(rows)  # the text never goes into a row


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: httpx.Response(503, json={"detail": "embedder down"}),
        lambda request: httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0]}]}),
        lambda request: httpx.Response(200, json={"data": [{"index": 0, "embedding": [float("nan")]}] * 2}),
    ],
    ids=["refused", "short-answer", "not-finite"],
)
async def test_a_failed_embedder_leaves_the_rows_without_one_counted(answer: Handler) -> None:
    rows: list[dict[str, Any]] = [{}, {}]
    failed = _count("failed")
    async with _embedder(answer) as embedder:
        await embedder.embed([("acme", "a", rows[0]), ("acme", "b", rows[1])])

    assert rows == [{}, {}] and _count("failed") == failed + 2


async def test_a_slow_embedder_costs_one_timeout_then_pauses() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    clock, rows = ManualClock(), [{}, {}]
    timeouts, paused = _count("timeout"), _count("paused")
    async with _embedder(slow, clock, timeout_s=0.05) as embedder:
        await embedder.embed([("acme", "a", rows[0])])
        await asyncio.wait_for(embedder.embed([("acme", "b", rows[1])]), 0.04)  # paused: no wait at all
        clock.now = 31.0
        await embedder.embed([("acme", "c", {})])  # the pause is over: tried again

    assert rows == [{}, {}]
    assert _count("timeout") == timeouts + 2 and _count("paused") == paused + 1


async def test_without_a_gateway_nothing_is_sampled() -> None:
    embedder = PromptEmbedder(None, rate=1.0, model="local-embedder", timeout_s=1, backoff_s=1, max_chars=10)
    row: dict[str, Any] = {}

    await embedder.embed([("acme", "a", row)])

    assert not embedder.wants("call-1") and row == {}
