"""The tenants' gateway policies, materialised from ``llmops.policies`` with their rules compiled per app.

The kit's ``CompactedTopicMaterializer`` feeds :class:`PolicyRules` (it runs on the gateway's event loop, as
the requests do, so no lock is needed). A change of a tenant's policies drops that tenant's compiled rules; the
next call of each app compiles them again, once. Compiled rules are kept for at most ``max_apps`` (tenant, app)
pairs (apps are named by callers): beyond it the cache starts over, which costs compiling, never a wrong answer.
"""

from __future__ import annotations

from typing import Any

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v2.governance import PolicyPublished

from llmops_inference.policies.rules import GATEWAY_KINDS, AppRules, rules_for

__all__ = ["PolicyRules"]


class PolicyRules(CompactedStore):
    """Every tenant's enabled and disabled gateway policies; :meth:`rules` compiles an app's on first use."""

    topic = PolicyPublished.topic

    def __init__(self, *, max_apps: int = 10_000) -> None:
        super().__init__()
        self._policies: dict[str, dict[str, PolicyPublished]] = {}
        self._compiled: dict[tuple[str, str], AppRules] = {}
        self._max_apps = max_apps

    def apply(self, event: CloudEvent[Any]) -> None:
        """A policy record: kept when it is one the gateway enforces, else forgotten (its kind may have changed)."""
        policy = event.data
        if not isinstance(policy, PolicyPublished):
            return
        if policy.kind in GATEWAY_KINDS:
            self._policies.setdefault(event.tenant_id, {})[policy.policy_id] = policy
        else:
            self._policies.get(event.tenant_id, {}).pop(policy.policy_id, None)
        self._changed(event.tenant_id)

    def delete(self, key: str) -> None:
        """A tombstone ``<tenant>:<policy_id>``."""
        tenant, _, policy_id = key.partition(":")
        self._policies.get(tenant, {}).pop(policy_id, None)
        self._changed(tenant)

    def policies(self, tenant: str) -> list[PolicyPublished]:
        """The tenant's gateway policies (disabled ones too), by id."""
        return [self._policies[tenant][pid] for pid in sorted(self._policies.get(tenant, {}))]

    def rules(self, tenant: str, app: str) -> AppRules | None:
        """The compiled rules of ``app``; None when the tenant has no gateway policy (nothing to check)."""
        policies = self._policies.get(tenant)
        if not policies:
            return None
        compiled = self._compiled.get((tenant, app))
        if compiled is None:
            if len(self._compiled) >= self._max_apps:
                self._compiled.clear()
            compiled = self._compiled[(tenant, app)] = rules_for(app, list(policies.values()))
        return compiled

    def _changed(self, tenant: str) -> None:
        if not self._policies.get(tenant):
            self._policies.pop(tenant, None)
        for pair in [pair for pair in self._compiled if pair[0] == tenant]:
            del self._compiled[pair]
