"""Prompt rendering never stalls the event loop: heavy templates render on the render pool's threads, a bounded
number at a time (503 beyond), and plain ones inline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from llmops_inference.config import InferenceSettings
from llmops_inference.prompts.rendering import RenderPool
from llmops_schemas.v1 import PromptVersionPublished

from tests.unit.inference.chain_support import ADMIN, WRITER, chain_gateway
from tests.unit.inference.support import Harness, assert_openai_error

# About 100,000 loop iterations, within the sandbox's bounds: a render of a fraction of a second to seconds.
HEAVY = "{% for i in range(99000) %}{% set x = (i ~ 'abc')|upper|replace('A', 'b') %}{% endfor %}{{ question }}"


async def publish_heavy(gw: Harness) -> None:
    version = {
        "template": [{"role": "user", "content": HEAVY}],
        "variables": [{"name": "question"}],
        "labels": ["production"],
    }
    response = await gw.client.post("/v1/prompts/heavy/versions", json=version, headers=ADMIN)
    assert response.status_code == 201, response.text


def heavy_call() -> dict[str, Any]:
    return {"model": "solo", "messages": [], "prompt": {"name": "heavy", "variables": {"question": "Hi?"}}}


async def largest_gap_while(work: asyncio.Task[Any]) -> float:
    """The longest the event loop went without running a 10 ms ticker while ``work`` ran."""
    gap, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    return gap


async def test_a_heavy_template_renders_off_the_event_loop(make_harness: Callable[..., Any]) -> None:
    async with chain_gateway(make_harness) as gw:
        await publish_heavy(gw)
        started = time.perf_counter()
        call = asyncio.create_task(gw.client.post("/v1/chat/completions", json=heavy_call(), headers=WRITER))
        gap = await largest_gap_while(call)
        took = time.perf_counter() - started
        response = await call
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "[Hi?]"
        # On the loop, the ticker would wait out the whole render.
        assert gap < max(0.1, took / 3), f"the event loop stalled {gap:.3f}s during a {took:.3f}s call"


async def test_renders_over_the_bound_are_refused_with_503_before_any_work(make_harness: Callable[..., Any]) -> None:
    settings = InferenceSettings(replay_interval_s=0.05, render_workers=1, max_pending_renders=1)
    async with chain_gateway(make_harness, settings) as gw:
        await publish_heavy(gw)
        first = asyncio.create_task(gw.client.post("/v1/chat/completions", json=heavy_call(), headers=WRITER))
        renderer = gw.wiring.registries.renderer if gw.wiring.registries else None
        assert renderer is not None
        async with asyncio.timeout(10):  # the first render is under way on the pool
            while renderer.pending == 0:
                await asyncio.sleep(0.001)
        second = await gw.client.post("/v1/chat/completions", json=heavy_call(), headers=WRITER)
        error = assert_openai_error(second, 503, code="render_capacity")
        assert "1 prompt renders are in progress" in error["message"]
        assert second.headers["retry-after"] == "1"
        assert (await first).status_code == 200


async def test_a_plain_template_renders_inline() -> None:
    version = PromptVersionPublished.model_validate(
        {
            "name": "plain",
            "version": 1,
            "template": [{"role": "user", "content": "Answer {{ question }} for {{ customer.name }}"}],
            "variables": [{"name": "question"}, {"name": "customer"}],
            "created_by": "alice",
            "created_at": "2026-03-01T12:00:00Z",
        }
    )
    pool = RenderPool()
    rendered = await pool.render(version, {"question": "Hi?", "customer": {"name": "Ada"}}, label=None)
    assert rendered.messages[0].content == "Answer Hi? for Ada"
    assert pool._executor is None, "no thread was needed"
