"""The materialised view of ``llmops.experiments``: every tenant's experiments, latest record per experiment.

Records are keyed ``<tenant>:<experiment_id>``; the latest wins and a tombstone deletes, exactly as
compaction keeps them, so a store rebuilt from the compacted topic equals one that saw every record.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ExperimentConfigured

from llmops_inference.experiments.model import is_live, matches

__all__ = ["ExperimentMaterializer", "ExperimentStore"]

log = logging.getLogger(__name__)


class ExperimentStore(CompactedStore):
    """Experiments per tenant; fed by :class:`ExperimentMaterializer` (and by local writes)."""

    topic = "llmops.experiments"

    def __init__(self) -> None:
        super().__init__()
        self._tenants: dict[str, dict[str, ExperimentConfigured]] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one event into the state (events of other types are ignored)."""
        if isinstance(event.data, ExperimentConfigured):
            self._tenants.setdefault(event.tenant_id, {})[event.data.experiment_id] = event.data

    def delete(self, key: str) -> None:
        """Apply a tombstone keyed ``<tenant>:<experiment_id>`` (ids may contain ``:``)."""
        tenant, _, experiment_id = key.partition(":")
        self._tenants.get(tenant, {}).pop(experiment_id, None)

    def get(self, tenant: str, experiment_id: str) -> ExperimentConfigured | None:
        return self._tenants.get(tenant, {}).get(experiment_id)

    def experiments(self, tenant: str, status: str | None = None) -> list[ExperimentConfigured]:
        """The tenant's experiments by id, optionally only those with ``status``."""
        experiments = self._tenants.get(tenant, {})
        return [e for _, e in sorted(experiments.items()) if status is None or e.status == status]

    def live(
        self, tenant: str, now: datetime, *, model: str | None, prompt_name: str | None, app: str | None
    ) -> list[ExperimentConfigured]:
        """Running experiments, inside their window, that take a call for ``model``/``prompt_name``, by id."""
        return [
            e
            for e in self.experiments(tenant, "running")
            if is_live(e, now) and matches(e, model=model, prompt_name=prompt_name, app=app)
        ]

    def snapshot(self, tenant: str | None = None) -> dict[str, Any]:
        """The whole state (or one tenant's) as JSON-compatible data, for comparing two stores."""
        everything = {
            name: {i: e.model_dump(mode="json") for i, e in sorted(experiments.items())}
            for name, experiments in sorted(self._tenants.items())
        }
        return everything if tenant is None else everything.get(tenant, {})


def ExperimentMaterializer(
    bootstrap_servers: str, store: ExperimentStore, security: KafkaSecurity | None = None
) -> CompactedTopicMaterializer:
    """The component that keeps ``store`` equal to ``llmops.experiments`` (start it in the lifespan)."""
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap_servers,
        topic=ExperimentConfigured.topic,
        view=store,
        client_id="llmops-inference-experiments",
        security=security,
    )
