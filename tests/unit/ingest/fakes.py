"""A publisher wrapper for ingest's tests that can hold a publish, fail it, or fail it after it was stored."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence

from llmops_kit.kafka.publisher import EncodedEvent, EventPublisher
from llmops_schemas.envelope import CloudEvent, EventPayload

__all__ = ["Hook", "HookedPublisher", "call_ids"]

Hook = Callable[[list[EncodedEvent]], Awaitable[None]]


async def _nothing(_: list[EncodedEvent]) -> None:
    return None


class HookedPublisher:
    """Publishes through ``inner`` (the in-memory fake, or the real producer), running ``before`` on each publish
    before handing it on and ``after`` once ``inner`` returned: to hold a publish, fail it, or fail it after it
    was stored (an acknowledgement lost on the way back).
    """

    def __init__(self, inner: EventPublisher, *, before: Hook = _nothing, after: Hook = _nothing) -> None:
        self.inner = inner
        self.before = before
        self.after = after

    async def publish_many(self, events: Iterable[CloudEvent[EventPayload]], *, topic: str | None = None) -> None:
        await self.publish_encoded([EncodedEvent.of(e, topic=topic) for e in events])

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        batch = list(events)
        await self.before(batch)
        await self.inner.publish_encoded(batch)
        await self.after(batch)


def call_ids(batch: list[EncodedEvent]) -> set[str]:
    """The call ids (event subjects) of a publish."""
    return {json.loads(e.value)["subject"] for e in batch}
