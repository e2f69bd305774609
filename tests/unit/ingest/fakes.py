"""A publisher wrapper for ingest's tests that can hold a publish, fail it, or fail it after it was stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent, EventPayload

__all__ = ["Hook", "HookedPublisher", "call_ids"]

Hook = Callable[[list[CloudEvent[EventPayload]]], Awaitable[None]]


async def _nothing(_: list[CloudEvent[EventPayload]]) -> None:
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

    async def publish_many(
        self,
        events: Iterable[CloudEvent[EventPayload]],
        *,
        topic: str | None = None,
        encoded: Sequence[bytes] | None = None,
    ) -> None:
        batch = list(events)
        await self.before(batch)
        await self.inner.publish_many(batch, topic=topic, encoded=encoded)
        await self.after(batch)


def call_ids(batch: list[CloudEvent[EventPayload]]) -> set[str]:
    """The call ids (event subjects) of a publish."""
    return {e.subject for e in batch if e.subject is not None}
