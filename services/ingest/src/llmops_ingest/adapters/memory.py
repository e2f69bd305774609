"""An in-memory :class:`~llmops_ingest.ports.EventPublisher` for tests and local experiments."""

from __future__ import annotations

from collections.abc import Sequence

from llmops_schemas.envelope import CloudEvent, EventPayload

__all__ = ["InMemoryPublisher"]


class InMemoryPublisher:
    """Keeps published events in ``events``; set ``failure`` to make the next publishes raise it.

    A failing publish stores nothing, mirroring "nothing is acknowledged" (a real broker may still
    have stored some of the batch, which is why event ids are deterministic where they can be).
    """

    def __init__(self) -> None:
        self.events: list[CloudEvent[EventPayload]] = []
        self.topics: list[str] = []
        self.failure: BaseException | None = None
        self.healthy = True

    async def publish_many(
        self,
        events: Sequence[CloudEvent[EventPayload]],
        *,
        topic: str | None = None,
        encoded: Sequence[bytes] | None = None,
    ) -> None:
        batch = list(events)
        if self.failure is not None:
            raise self.failure
        for event in batch:
            self.events.append(event)
            self.topics.append(topic or event.data.topic)

    async def ping(self) -> bool:
        """Readiness stand-in for ``EventProducer.ping``."""
        return self.healthy
