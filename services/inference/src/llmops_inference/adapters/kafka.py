"""The gateway's Kafka publisher: the kit's ``EventProducer``, started in the background.

The gateway must serve without Kafka, so its start cannot wait for (or fail on) the broker: ``start``
returns at once and a task keeps trying to create the topics and start the producer. Until it has,
``publish_many`` raises :class:`~llmops_kit.errors.TransientError` and the recorder spools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import TypeVar

from llmops_kit.bootstrap import TopicProvisioner
from llmops_kit.errors import TransientError
from llmops_kit.kafka.producer import EncodedEvent, EventProducer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1 import (
    AuditRecorded,
    BudgetConfigured,
    ExperimentConfigured,
    PolicyPublished,
    PromptVersionPublished,
)
from llmops_schemas.v2 import CallRecorded, CostRecorded

__all__ = ["GATEWAY_TOPICS", "BackgroundProducer"]

GATEWAY_TOPICS = (
    CallRecorded.topic, AuditRecorded.topic, PromptVersionPublished.topic, ExperimentConfigured.topic,
    PolicyPublished.topic, BudgetConfigured.topic, CostRecorded.topic,
)  # fmt: skip
"""What the gateway writes (calls, audit entries, registry changes) and materialises (the compacted registries,
the tenants' policies for PII redaction, and the budgets with the costs that count against them)."""

log = logging.getLogger(__name__)
P = TypeVar("P", bound=EventPayload)


class BackgroundProducer:
    """An :class:`~llmops_kit.kafka.publisher.EventPublisher` that connects when Kafka is there."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        service: str,
        ensure_topic: bool = True,
        retry_s: float = 5.0,
        topics: Sequence[str] = (CallRecorded.topic,),
        security: KafkaSecurity | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._service = service
        self._ensure_topic = ensure_topic
        self._topics = list(topics)
        self._retry_s = retry_s
        self._producer: EventProducer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish_many(self, events: Iterable[CloudEvent[P]], *, topic: str | None = None) -> None:
        await self._connected().publish_many(events, topic=topic)

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        await self._connected().publish_encoded(events)

    def _connected(self) -> EventProducer:
        if self._producer is None:
            raise TransientError("the Kafka producer is not connected yet")
        return self._producer

    async def ping(self) -> bool:
        return self._producer is not None and await self._producer.ping()

    async def _connect(self) -> None:
        while self._producer is None:
            producer = EventProducer(self._bootstrap, service=self._service, security=self._security)
            try:
                if self._ensure_topic:
                    await TopicProvisioner(
                        self._bootstrap, self._topics, timeout_s=10.0, security=self._security
                    ).start()
                await producer.start()
            except asyncio.CancelledError:
                await producer.stop()
                raise
            except Exception as exc:
                log.warning("Kafka not reachable yet (%s); retrying in %.0fs", type(exc).__name__, self._retry_s)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(self._retry_s)
            else:
                self._producer = producer
                log.info("connected to Kafka")
