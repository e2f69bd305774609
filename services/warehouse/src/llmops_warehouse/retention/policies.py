"""The tenants' ``retention`` policies, materialised from the compacted ``llmops.policies`` topic.

Only what retention needs is read from a policy (``kind``, ``enabled``, ``policy_id`` and the settings'
``dataset``, ``days`` and ``action``), by attribute, so any version of the policy event the kit decodes (and
upcasts) to works here. A policy the warehouse cannot apply is refused: kept aside with its cause (logged and
shown by ``GET /v1/retention``) and the data set keeps its default. Compacted topics have no DLQ (the policy
API validates before it publishes); the causes are the same words that API should answer 422 with.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import PolicyPublished

from llmops_warehouse.retention.mapping import DATASETS

__all__ = ["Refusal", "RetentionPolicies", "RetentionPolicy", "refusal"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """One tenant's retention of one data set, as a policy set it."""

    tenant_id: str
    policy_id: str
    dataset: str
    days: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A retention policy the warehouse does not apply, and why."""

    tenant_id: str
    policy_id: str
    cause: str


def refusal(settings: Any) -> str | None:
    """Why a retention policy's ``settings`` cannot be applied, or None when they can."""
    if settings.dataset not in DATASETS:
        return f"unknown retention dataset {settings.dataset!r}; known: {', '.join(sorted(DATASETS))}"
    if settings.action != "delete":
        return (
            f"retention action {settings.action!r} is not supported by the warehouse (only 'delete'): "
            "rows are deleted when they expire, never kept anonymised (docs/adr/0049)"
        )
    return None


class RetentionPolicies(CompactedStore):
    """Retention policies by tenant and policy id; read by the insert path and the re-stamper (other threads)."""

    topic = PolicyPublished.topic

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._policies: dict[str, RetentionPolicy] = {}
        self._refused: dict[str, Refusal] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        data = event.data
        key = f"{event.tenant_id}:{data.policy_id}"
        if getattr(data, "kind", None) != "retention" or not getattr(data, "enabled", True):
            self.delete(key)  # a policy that stopped being an enabled retention policy no longer applies
            return
        cause = refusal(data.settings)
        with self._lock:
            self._policies.pop(key, None)
            self._refused.pop(key, None)
            if cause is None:
                settings = data.settings
                self._policies[key] = RetentionPolicy(event.tenant_id, data.policy_id, settings.dataset, settings.days)
            else:
                self._refused[key] = Refusal(event.tenant_id, data.policy_id, cause)
        if cause is not None:
            log.warning("refusing retention policy %s of tenant %s: %s", data.policy_id, event.tenant_id, cause)

    def delete(self, key: str) -> None:
        with self._lock:
            self._policies.pop(key, None)
            self._refused.pop(key, None)

    def effective(self, tenant_id: str) -> Mapping[str, RetentionPolicy]:
        """The tenant's policy per data set; of two policies for one data set the shorter retention wins."""
        chosen: dict[str, RetentionPolicy] = {}
        with self._lock:
            policies = [p for p in self._policies.values() if p.tenant_id == tenant_id]
        for policy in sorted(policies, key=lambda p: (p.days, p.policy_id)):
            chosen.setdefault(policy.dataset, policy)
        return chosen

    def tenants(self) -> set[str]:
        """The tenants with at least one applied retention policy."""
        with self._lock:
            return {p.tenant_id for p in self._policies.values()}

    def refused(self, tenant_id: str) -> list[Refusal]:
        """The tenant's refused retention policies."""
        with self._lock:
            return sorted((r for r in self._refused.values() if r.tenant_id == tenant_id), key=lambda r: r.policy_id)
