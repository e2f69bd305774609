"""Publishing registry changes: config events on their compacted topic, with an audit entry in the same batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmops_kit.audit import Actor, AuditTrail
from llmops_schemas import CloudEvent, EventPayload
from llmops_schemas.v1 import PromptLabelMoved, PromptVersionPublished

__all__ = ["SOURCE", "PromptPublisher"]

SOURCE = "/services/inference"


class PromptPublisher:
    """Publishes prompt versions and label moves of one tenant, each change with its audit entry."""

    def __init__(self, audit: AuditTrail, *, source: str = SOURCE) -> None:
        self._audit = audit
        self._source = source

    async def publish(
        self,
        tenant: str,
        payloads: Sequence[PromptVersionPublished | PromptLabelMoved],
        actor: Actor,
        *,
        action: str,
        prompt: str,
        details: dict[str, Any],
    ) -> list[CloudEvent[Any]]:
        """Publish ``payloads`` and the audit entry of ``action``; returns the config events (to apply locally)."""
        events = [wrap(payload, tenant, self._source, key_id=actor.key_id) for payload in payloads]
        await self._audit.publish_with(
            tenant, actor, action=action, resource=("prompt", prompt), details=details, events=events
        )
        return events


def wrap(payload: EventPayload, tenant: str, source: str, *, key_id: str | None = None) -> CloudEvent[Any]:
    """The CloudEvent of ``payload`` (its subject is the record key's entity part when it has one), carrying the
    id of the API key that made the change as ``keyid``."""
    entity = getattr(payload, "entity_key", None)
    subject = entity() if callable(entity) else None
    return CloudEvent.wrap(payload, source=source, tenant_id=tenant, subject=subject, key_id=key_id)
