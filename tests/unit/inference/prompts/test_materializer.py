"""The materialiser without a broker: it starts at once and stays not ready (the gateway keeps serving)."""

from __future__ import annotations

import asyncio

from llmops_inference.prompts.store import PromptMaterializer, PromptStore
from llmops_kit.infra.ports import free_port


async def test_an_unreachable_broker_delays_readiness_not_the_start() -> None:
    store = PromptStore()
    materializer = PromptMaterializer(f"127.0.0.1:{free_port()}", store)
    await asyncio.wait_for(materializer.start(), 1.0)
    try:
        assert not await materializer.wait_ready(0.5)
        assert not materializer.ready and not await materializer.check()
        assert not store.caught_up
    finally:
        await asyncio.wait_for(materializer.stop(), 5.0)
