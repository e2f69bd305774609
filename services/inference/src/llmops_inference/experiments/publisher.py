"""Publishing experiment changes to ``llmops.experiments``, each with its audit entry in the same batch."""

from __future__ import annotations

from typing import Any

from llmops_kit.audit import Actor, AuditTrail
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ExperimentConfigured
from pydantic import JsonValue

from llmops_inference.prompts.publisher import SOURCE, wrap

__all__ = ["ExperimentPublisher"]


class ExperimentPublisher:
    """Publishes an experiment's new state and the audit entry of the action that produced it."""

    def __init__(self, audit: AuditTrail, *, source: str = SOURCE) -> None:
        self._audit = audit
        self._source = source

    async def publish(
        self, tenant: str, experiment: ExperimentConfigured, actor: Actor, *, action: str, details: dict[str, JsonValue]
    ) -> CloudEvent[Any]:
        """Publish ``experiment`` with the audit entry of ``action`` (e.g. ``experiment.start``); returns its event."""
        event = wrap(experiment, tenant, self._source, key_id=actor.key_id)
        await self._audit.publish_with(
            tenant,
            actor,
            action=action,
            resource=("experiment", experiment.experiment_id),
            details=details,
            events=[event],
        )
        return event
