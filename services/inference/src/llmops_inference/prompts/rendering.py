"""Rendering prompt versions off the event loop, a bounded number at a time.

A template can cost real CPU (loops over the caller's lists, filters, up to the sandbox's bounds): rendered on
the event loop it would stall every other request of the replica meanwhile. :class:`RenderPool` renders on
worker threads of its own, ``workers`` at a time, and lets at most ``max_pending`` renders be in progress or
waiting: one more is refused (503, :class:`RenderCapacity`) before any work. A version whose every message is
plain text with ``{{ variable }}`` substitutions (:func:`~llmops_inference.prompts.templating.is_plain`) is
rendered inline: it costs about as much as copying its output, less than the hop to a thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from llmops_schemas.v1 import PromptVersionPublished

from llmops_inference.prompts.errors import PromptError
from llmops_inference.prompts.resolve import RenderedPrompt, render
from llmops_inference.prompts.templating import is_plain

__all__ = ["RenderCapacity", "RenderPool"]


class RenderCapacity(PromptError):
    """Too many renders are in progress on this replica: retry shortly."""

    status_code = 503
    title_text = "Service Unavailable"
    code = "render_capacity"


class RenderPool:
    """Renders prompt versions on ``workers`` threads, with at most ``max_pending`` renders at a time."""

    def __init__(self, workers: int = 4, max_pending: int = 64) -> None:
        self.workers = workers
        self.max_pending = max(max_pending, workers)
        self.pending = 0
        self._executor: ThreadPoolExecutor | None = None

    async def render(
        self, version: PromptVersionPublished, variables: Mapping[str, Any], *, label: str | None
    ) -> RenderedPrompt:
        """:func:`~llmops_inference.prompts.resolve.render`, off the event loop unless the version is plain."""
        if all(is_plain(message.content) for message in version.template):
            return render(version, variables, label=label)
        if self.pending >= self.max_pending:
            raise RenderCapacity(f"{self.pending} prompt renders are in progress, the most this replica allows")
        self.pending += 1
        try:
            job = functools.partial(render, version, variables, label=label)
            return await asyncio.get_running_loop().run_in_executor(self._workers(), job)
        finally:
            self.pending -= 1

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        """Stop the threads (renders still queued are cancelled; one running ends within the sandbox's bounds)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _workers(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="prompt-render")
        return self._executor
