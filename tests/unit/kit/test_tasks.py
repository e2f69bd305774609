"""``cancel_and_wait``: every task cancelled before the first wait, cancellations swallowed, other errors raised."""

from __future__ import annotations

import asyncio

import pytest
from llmops_kit.tasks import cancel_and_wait


async def test_every_task_is_cancelled_and_awaited_and_none_is_skipped() -> None:
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    tasks = [asyncio.create_task(forever(name)) for name in ("a", "b")]
    await asyncio.sleep(0)  # let both start waiting
    await cancel_and_wait([tasks[0], None, tasks[1]])
    assert sorted(cancelled) == ["a", "b"] and all(t.done() for t in tasks)


async def test_an_error_other_than_the_cancellation_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait([task])
