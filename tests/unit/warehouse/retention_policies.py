"""Retention policy events for the retention tests (unit and integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import PolicyPublished
from llmops_schemas.v1.governance import RetentionSettings
from llmops_warehouse.retention.policies import RetentionPolicies


def retention_policy(
    tenant_id: str, dataset: str, days: int, *, action: str = "delete", policy_id: str | None = None, **fields: Any
) -> CloudEvent[PolicyPublished]:
    """A published ``retention`` policy of ``tenant_id`` for ``dataset``."""
    payload = PolicyPublished(
        policy_id=policy_id or f"ret-{uuid.uuid4().hex[:8]}",
        name=f"{dataset} retention",
        kind="retention",
        version=1,
        settings=RetentionSettings(dataset=dataset, days=days, action=action),
        updated_by="admin-key",
        updated_at=datetime.now(UTC),
        **fields,
    )
    return CloudEvent.wrap(payload, source="//llmops/governance-audit", tenant_id=tenant_id)


def materialised(*events: CloudEvent[PolicyPublished]) -> RetentionPolicies:
    """A policy view that has read ``events`` and caught up."""
    policies = RetentionPolicies()
    for event in events:
        policies.apply(event)
    policies.mark_caught_up()
    return policies
