"""Verdict policies: the materialised ``llmops.evaluations.policies`` and its writes (audited, through the topic).

A tenant's admin arms a policy per experiment (``PUT /v1/experiments/{id}/policy``); the policy loop
(:mod:`.acting`) reads the armed ones from here and, once it acted, publishes the policy again disarmed with
``last_action``. Same rules as the evaluator configurations: the topic is the state, reads and writes answer
503 until the store has caught up, a write is applied locally only after Kafka acknowledged it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.materializer import CompactedStore, CompactedTopicMaterializer
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.settings import KafkaSecurity
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import VerdictPolicySet
from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["PolicyMaterializer", "PolicyRegistry", "PolicySpec", "PolicyStore"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PolicyStore(CompactedStore):
    """Policies by tenant and experiment; fed by :class:`PolicyMaterializer` and by the registry's writes."""

    topic = VerdictPolicySet.topic

    def __init__(self) -> None:
        super().__init__()
        self._policies: dict[tuple[str, str], VerdictPolicySet] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, VerdictPolicySet):
            self.put(event.tenant_id, event.data)

    def put(self, tenant: str, policy: VerdictPolicySet) -> None:
        if policy.deleted:
            self._policies.pop((tenant, policy.experiment_id), None)
        else:
            self._policies[(tenant, policy.experiment_id)] = policy

    def delete(self, key: str) -> None:
        tenant, _, experiment_id = key.partition(":")
        self._policies.pop((tenant, experiment_id), None)

    def get(self, tenant: str, experiment_id: str) -> VerdictPolicySet | None:
        return self._policies.get((tenant, experiment_id))

    def armed(self) -> list[tuple[str, VerdictPolicySet]]:
        """Every tenant's policies that may still act, in a stable order."""
        return sorted(((t, p) for (t, _), p in self._policies.items() if p.promote or p.rollback), key=_order)


def _order(item: tuple[str, VerdictPolicySet]) -> tuple[str, str]:
    return item[0], item[1].experiment_id


def PolicyMaterializer(
    bootstrap_servers: str, store: PolicyStore, security: KafkaSecurity | None = None
) -> CompactedTopicMaterializer:
    """The component that keeps ``store`` equal to ``llmops.evaluations.policies`` (started in the lifespan)."""
    return CompactedTopicMaterializer(
        bootstrap_servers=bootstrap_servers,
        topic=VerdictPolicySet.topic,
        view=store,
        client_id="llmops-evaluation-policies",
        security=security,
    )


class PolicySpec(BaseModel):
    """The body of ``PUT /v1/experiments/{id}/policy``: what the service may do once the verdict is in."""

    model_config = ConfigDict(extra="forbid", strict=True)  # strict: 0 is not false

    promote: bool = Field(default=False, description="Give a better variant every call")
    rollback: bool = Field(default=False, description="Give the control every call when the variants are worse")
    metric: str | None = Field(default=None, min_length=1, max_length=128, description="Primary metric")
    alpha: float | None = Field(default=None, gt=0, lt=0.5, description="False-positive rate")


class PolicyRegistry:
    """Reads from the store, writes through the topic with an audit entry in the same batch."""

    def __init__(
        self,
        store: PolicyStore,
        publisher: EventPublisher,
        *,
        source: str,
        publish_timeout_s: float = 15.0,
        retry_after_s: int = 5,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source = source
        self._timeout_s = publish_timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock

    def _loaded(self) -> PolicyStore:
        if not self.store.caught_up:
            raise ProblemError(503, "Service Unavailable", "the policies are loading", retry_after=self._retry_after_s)
        return self.store

    def get(self, tenant: str, experiment_id: str) -> VerdictPolicySet:
        """The experiment's policy; 404 when it has none."""
        found = self._loaded().get(tenant, experiment_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"experiment {experiment_id!r} has no verdict policy")
        return found

    async def put(self, tenant: str, experiment_id: str, spec: PolicySpec, actor: Actor) -> VerdictPolicySet:
        """Arm (or change) the experiment's policy; audited as ``verdict_policy.set``."""
        self._loaded()
        policy = VerdictPolicySet(
            experiment_id=experiment_id, updated_by=actor.id, updated_at=self._clock(), **spec.model_dump()
        )
        await self._publish(tenant, policy, actor, "verdict_policy.set", spec.model_dump())
        return policy

    async def delete(self, tenant: str, experiment_id: str, actor: Actor) -> None:
        """Remove the experiment's policy (404 when none); audited as ``verdict_policy.delete``."""
        current = self.get(tenant, experiment_id)
        marker = current.model_copy(update={"deleted": True, "updated_by": actor.id, "updated_at": self._clock()})
        await self._publish(tenant, marker, actor, "verdict_policy.delete", {})

    async def acted(
        self,
        tenant: str,
        policy: VerdictPolicySet,
        action: Literal["promoted", "rolled_back"],
        actor: Actor,
        details: dict[str, JsonValue],
    ) -> None:
        """Record that the policy acted (disarmed, ``last_action``), with the audit entry of the action."""
        now = self._clock()
        done = policy.model_copy(
            update={"promote": False, "rollback": False, "last_action": action, "last_action_at": now,
                    "updated_by": actor.id, "updated_at": now}
        )  # fmt: skip
        verb = "experiment.promote" if action == "promoted" else "experiment.rollback"
        await self._publish(tenant, done, actor, verb, details)

    async def audit_failure(
        self, tenant: str, experiment_id: str, action: str, actor: Actor, details: dict[str, JsonValue]
    ) -> None:
        """An audit entry (outcome ``failure``) for a move the gateway refused; the policy stays armed."""
        await asyncio.wait_for(
            self._audit.publish_with(
                tenant, actor, action=action, resource=("experiment", experiment_id), details=details,
                outcome="failure",
            ),
            self._timeout_s,
        )  # fmt: skip

    async def _publish(
        self, tenant: str, policy: VerdictPolicySet, actor: Actor, action: str, details: dict[str, Any]
    ) -> None:
        event = CloudEvent.wrap(
            policy, source=self._source, tenant_id=tenant, subject=policy.experiment_id, key_id=actor.key_id
        )
        audited = self._audit.publish_with(
            tenant, actor, action=action, resource=("experiment", policy.experiment_id), details=details,
            events=[event],
        )  # fmt: skip
        try:
            await asyncio.wait_for(audited, self._timeout_s)
        except _UNAVAILABLE as exc:
            detail = f"the policy could not be stored: {type(exc).__name__}"
            raise ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s) from exc
        self.store.put(tenant, policy)
