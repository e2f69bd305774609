"""The audit entries of registry changes (``llmops.audit.recorded.v1``), published with the change itself.

The change's events and its audit entry go out in one ``publish_many`` call, which returns only when
Kafka acknowledged all of them: a change the caller is told succeeded has its audit entry on the log.

Hash chain: each entry carries ``sequence``/``prev_hash``/``hash`` linking it to the previous entry of
the same tenant *published by this process*; the chain starts again at sequence 0 (``GENESIS_HASH``)
when the process starts. The governance-audit service, once it exists, owns the tenant-wide chain and
re-links entries from every producer; until then a verifier must group entries by ``source`` and
process start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditRecorded
from pydantic import JsonValue

if TYPE_CHECKING:
    from llmops_inference.prompts.publisher import Actor

__all__ = ["AuditTrail"]


def _now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """Builds chained audit entries per tenant and publishes them together with the change they record."""

    def __init__(
        self, sink: EventPublisher, *, source: str = "/services/inference", clock: Callable[[], datetime] = _now
    ) -> None:
        self._sink = sink
        self._source = source
        self._clock = clock
        self._previous: dict[str, AuditRecorded] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def publish_with(
        self,
        tenant: str,
        actor: Actor,
        *,
        action: str,
        resource: tuple[str, str],
        details: dict[str, JsonValue],
        events: Sequence[CloudEvent[Any]] = (),
        outcome: Literal["success", "denied", "failure"] = "success",
    ) -> CloudEvent[AuditRecorded]:
        """Publish ``events`` and the entry for ``action`` on ``resource`` (type, id); raises if Kafka refuses."""
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            entry = AuditRecorded.chained(
                self._previous.get(tenant),
                actor={"type": "api_key", "id": actor.id},
                action=action,
                resource={"type": resource[0], "id": resource[1]},
                outcome=outcome,
                request_id=actor.request_id,
                ip=actor.ip,
                user_agent=actor.user_agent,
                details=details,
                occurred_at=self._clock(),
            )
            audit = CloudEvent.wrap(
                entry,
                source=self._source,
                tenant_id=tenant,
                subject=f"{resource[0]}/{resource[1]}",
                key_id=actor.key_id,
            )
            await self._sink.publish_many([*events, audit])
            self._previous[tenant] = entry
            return audit
