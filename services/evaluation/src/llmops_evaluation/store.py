"""The materialised view of ``llmops.evaluations.config``: every tenant's evaluators, compiled.

Records are keyed ``<tenant>:<name>``; the latest wins and a tombstone deletes, as compaction keeps them.
A record that no longer compiles (a kind this version of the service does not know) is skipped and
counted, never fatal: the other evaluators keep scoring.
"""

from __future__ import annotations

import logging
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import EvaluatorConfigured
from llmops_schemas.v2 import CallRecorded

from llmops_evaluation.evaluators import ConfigError, Evaluator, build_evaluator
from llmops_evaluation.metrics import CONFIGS_REJECTED

__all__ = ["EvaluatorMaterializer", "EvaluatorStore"]

log = logging.getLogger(__name__)


class EvaluatorStore(CompactedStore):
    """Evaluators per tenant and app; fed by :class:`EvaluatorMaterializer` and by the API's own writes."""

    topic = EvaluatorConfigured.topic

    def __init__(self) -> None:
        super().__init__()
        self._tenants: dict[str, dict[str, Evaluator]] = {}
        self._by_app: dict[tuple[str, str], tuple[Evaluator, ...]] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one event in (other types are ignored); a configuration that cannot run is skipped."""
        if not isinstance(event.data, EvaluatorConfigured):
            return
        if event.data.deleted:
            self.delete(f"{event.tenant_id}:{event.data.name}")
            return
        try:
            evaluator = build_evaluator(event.data)
        except ConfigError as exc:
            CONFIGS_REJECTED.inc()
            log.warning("skipping evaluator %s of tenant %s: %s", event.data.name, event.tenant_id, exc)
            return
        self.put(event.tenant_id, evaluator)

    def put(self, tenant: str, evaluator: Evaluator) -> None:
        """Add or replace ``evaluator`` for ``tenant``."""
        self._tenants.setdefault(tenant, {})[evaluator.name] = evaluator
        self._reindex(tenant)

    def delete(self, key: str) -> None:
        """Apply a tombstone keyed ``<tenant>:<name>``."""
        tenant, _, name = key.partition(":")
        if self._tenants.get(tenant, {}).pop(name, None) is not None:
            self._reindex(tenant)

    def _reindex(self, tenant: str) -> None:
        for key in [k for k in self._by_app if k[0] == tenant]:
            del self._by_app[key]
        for evaluator in sorted(self._tenants.get(tenant, {}).values(), key=lambda e: e.name):
            key = (tenant, evaluator.config.app)
            self._by_app[key] = (*self._by_app.get(key, ()), evaluator)

    def get(self, tenant: str, name: str) -> Evaluator | None:
        return self._tenants.get(tenant, {}).get(name)

    def evaluators(self, tenant: str, app: str | None = None) -> list[Evaluator]:
        """The tenant's evaluators by name, optionally only those of ``app``."""
        found = sorted(self._tenants.get(tenant, {}).values(), key=lambda e: e.name)
        return [e for e in found if app is None or e.config.app == app]

    def for_call(self, tenant: str, call: CallRecorded) -> list[Evaluator]:
        """The evaluators that score ``call`` (scope, origin and sample applied)."""
        return [e for e in self._by_app.get((tenant, call.app), ()) if e.applies_to(call)]


def EvaluatorMaterializer(
    bootstrap_servers: str, store: EvaluatorStore, security: KafkaSecurity | None = None
) -> CompactedTopicMaterializer:
    """The component that keeps ``store`` equal to ``llmops.evaluations.config`` (started in the lifespan)."""
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap_servers,
        topic=EvaluatorConfigured.topic,
        view=store,
        client_id="llmops-evaluation-configs",
        security=security,
    )
