"""Background tasks a component owns: stopped one way everywhere."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(tasks: Iterable[asyncio.Task[object] | asyncio.Task[None] | None]) -> None:
    """Cancel every task (None: none), then wait until each has stopped; their cancellations are swallowed,
    any other error they end with is raised. All are cancelled before the first wait, so they stop together."""
    started = [task for task in tasks if task is not None]
    for task in started:
        task.cancel()
    for task in started:
        with contextlib.suppress(asyncio.CancelledError):
            await task
