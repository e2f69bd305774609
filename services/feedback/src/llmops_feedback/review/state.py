"""The materialised review state: every tenant's queues and their items, from the two compacted topics.

``llmops.review.queues`` (keyed ``<tenant>:<queue>``) and ``llmops.review.items`` (keyed
``<tenant>:<queue>:<item>``) are each read from the beginning by a kit materialiser into one
:class:`ReviewState`; the desk applies its own writes at once too, so a reviewer sees their change before it
comes back from Kafka. The latest record per key wins; a record with an older ``revision`` than the one held
(an own write seen again) is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ReviewItemUpdated, ReviewQueueConfigured

__all__ = ["ItemView", "QueueView", "ReviewState", "materializers"]

Items = dict[str, ReviewItemUpdated]


def _place(item: ReviewItemUpdated) -> tuple[bool, int]:
    """Where an item stands in its queue: by ``position``; items without one after, in the order they came."""
    return (item.position is None, item.position or 0)


class ReviewState:
    """Queues per tenant and items per (tenant, queue), in the order they are handed out (their ``position``).

    One queue's items are spread over the partitions of ``llmops.review.items`` (keyed per item), so they are
    read in no particular order; a queue whose items came out of order is sorted once, when it is next read.
    """

    def __init__(self) -> None:
        self._queues: dict[str, dict[str, ReviewQueueConfigured]] = {}
        self._items: dict[tuple[str, str], Items] = {}
        self._unsorted: set[tuple[str, str]] = set()
        self.queues_view = QueueView(self)
        self.items_view = ItemView(self)

    @property
    def caught_up(self) -> bool:
        return self.queues_view.caught_up and self.items_view.caught_up

    def put_queue(self, tenant: str, queue: ReviewQueueConfigured) -> None:
        if queue.deleted:
            self.drop_queue(tenant, queue.name)
            return
        self._queues.setdefault(tenant, {})[queue.name] = queue

    def drop_queue(self, tenant: str, name: str) -> None:
        self._queues.get(tenant, {}).pop(name, None)
        self._items.pop((tenant, name), None)
        self._unsorted.discard((tenant, name))

    def put_item(self, tenant: str, item: ReviewItemUpdated) -> None:
        key = (tenant, item.queue)
        items = self._items.setdefault(key, {})
        held = items.get(item.item_id)
        if held is not None and held.revision > item.revision:
            return
        # A new item goes last in the dict and a changed one keeps its slot: the queue needs sorting only when
        # that is not where its place says it belongs.
        if held is None:
            last = next(reversed(items.values()), None)
            if last is not None and _place(item) < _place(last):
                self._unsorted.add(key)
        elif _place(held) != _place(item):
            self._unsorted.add(key)
        items[item.item_id] = item

    def drop_item(self, tenant: str, queue: str, item_id: str) -> None:
        self._items.get((tenant, queue), {}).pop(item_id, None)

    def queue(self, tenant: str, name: str) -> ReviewQueueConfigured | None:
        return self._queues.get(tenant, {}).get(name)

    def queues(self, tenant: str) -> list[ReviewQueueConfigured]:
        return sorted(self._queues.get(tenant, {}).values(), key=lambda q: q.name)

    def tenant_items(self, tenant: str) -> Iterator[ReviewItemUpdated]:
        """Every item of every queue of ``tenant`` (erasure looks for a subject's items in all of them)."""
        for (owner, _), items in list(self._items.items()):
            if owner == tenant:
                yield from list(items.values())

    def items(self, tenant: str, queue: str) -> Items:
        """The queue's items by id, in the order they are handed out (a live view: do not modify)."""
        key = (tenant, queue)
        items = self._items.get(key, {})
        if key in self._unsorted:
            self._unsorted.discard(key)
            ordered = sorted(items.values(), key=_place)  # stable: items without a place keep their order
            items.clear()
            items.update((i.item_id, i) for i in ordered)
        return items


class QueueView(CompactedStore):
    """Feeds ``llmops.review.queues`` into a :class:`ReviewState`."""

    topic = ReviewQueueConfigured.topic

    def __init__(self, state: ReviewState) -> None:
        super().__init__()
        self._state = state

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, ReviewQueueConfigured):
            self._state.put_queue(event.tenant_id, event.data)

    def delete(self, key: str) -> None:
        tenant, _, name = key.partition(":")
        self._state.drop_queue(tenant, name)


class ItemView(CompactedStore):
    """Feeds ``llmops.review.items`` into a :class:`ReviewState`."""

    topic = ReviewItemUpdated.topic

    def __init__(self, state: ReviewState) -> None:
        super().__init__()
        self._state = state

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, ReviewItemUpdated):
            self._state.put_item(event.tenant_id, event.data)

    def delete(self, key: str) -> None:
        tenant, queue, item_id = [*key.split(":", 2), "", ""][:3]
        self._state.drop_item(tenant, queue, item_id)


def materializers(
    bootstrap_servers: str, state: ReviewState, security: KafkaSecurity | None = None
) -> list[CompactedTopicMaterializer]:
    """The two components that keep ``state`` equal to the topics (started in the lifespan)."""
    return [
        CompactedTopicMaterializer(
            bootstrap_servers=bootstrap_servers,
            topic=view.topic,
            view=view,
            client_id=f"llmops-feedback-{name}",
            security=security,
        )
        for name, view in (("queues", state.queues_view), ("items", state.items_view))
    ]
