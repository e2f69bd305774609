"""The gateway's :class:`~llmops_inference.ports.PolicyGuard`: the compiled rules, and an audit entry per refusal.

A refusal is answered at once (403 ``policy_violation``); its audit entry (``policy.enforce``, outcome
``denied``: the caller's key id, the policy, the app, the model and the reason, never prompt text) is published
in the background, at most ``max_in_flight`` at a time, so a flood of refused calls cannot exhaust memory
(beyond the bound entries are dropped and counted, as the kit's refusal audit does).

Until the policies are loaded (Kafka unreachable at start) calls are admitted: the gateway serves without Kafka,
as with budgets; ``ready`` says whether they are (the readiness details show it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.http.app import Component
from llmops_kit.kafka.materializer import CompactedTopicMaterializer
from llmops_kit.settings import KafkaSecurity
from llmops_kit.tasks import cancel_and_wait
from prometheus_client import Counter

from llmops_inference.policies.rules import Refusal
from llmops_inference.policies.store import PolicyRules
from llmops_inference.ports import CallContext

__all__ = ["PolicyEnforcer"]

log = logging.getLogger(__name__)
STOP_DRAIN_S = 5.0
REFUSED = Counter("llmops_gateway_policy_refusals_total", "Calls refused by a tenant's policy", ["kind"])
UNAUDITED = Counter("llmops_gateway_policy_refusals_unaudited_total", "Policy refusals whose audit entry was dropped")


class PolicyEnforcer:
    """Checks a call against its tenant's policies for its app; audits what it refuses."""

    def __init__(
        self,
        rules: PolicyRules,
        audit: AuditTrail | None = None,
        *,
        follower: Component | None = None,
        max_in_flight: int = 256,
    ) -> None:
        self.rules = rules
        self._audit = audit
        self._follower = follower
        self._max_in_flight = max_in_flight
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def following(cls, bootstrap_servers: str, security: KafkaSecurity | None, audit: AuditTrail) -> PolicyEnforcer:
        """The production enforcer: the tenants' policies from ``llmops.policies``, each refusal audited."""
        rules = PolicyRules()
        follower = CompactedTopicMaterializer(
            bootstrap_servers=bootstrap_servers,
            topic=rules.topic,
            view=rules,
            client_id="llmops-inference-policies",
            security=security,
        )
        return cls(rules, audit, follower=follower)

    @property
    def ready(self) -> bool:
        return self.rules.caught_up

    def check(self, context: CallContext, model: str, texts: Sequence[str]) -> Refusal | None:
        """The refusal of this call, or None; no I/O."""
        rules = self.rules.rules(context.tenant_id, context.app)
        refusal = rules.check(model, texts) if rules is not None else None
        if refusal is not None:
            REFUSED.labels(refusal.kind).inc()
            self._audited(context, model, refusal)
        return refusal

    def _audited(self, context: CallContext, model: str, refusal: Refusal) -> None:
        if self._audit is None:
            return
        if len(self._tasks) >= self._max_in_flight:
            UNAUDITED.inc()
            return
        task = asyncio.get_running_loop().create_task(self._publish(self._audit, context, model, refusal))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, audit: AuditTrail, context: CallContext, model: str, refusal: Refusal) -> None:
        try:
            await audit.publish_with(
                context.tenant_id,
                Actor(key_id=context.key_id),
                action="policy.enforce",
                resource=("policy", refusal.policy_id),
                details={
                    "kind": refusal.kind,
                    "app": context.app,
                    "model": model,
                    "call_id": context.call_id,
                    "reason": refusal.reason[:512],
                },
                outcome="denied",
            )
        except Exception:  # the refusal was answered; losing its entry must not surface as an error anywhere
            UNAUDITED.inc()
            log.warning("could not audit policy %s refusing call %s", refusal.policy_id, context.call_id)

    async def drain(self) -> None:
        """Wait for the audit entries in flight (tests, and a clean stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def start(self) -> None:
        if self._follower is not None:
            await self._follower.start()

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):  # entries of refusals already answered: give them a moment
            await asyncio.wait_for(self.drain(), STOP_DRAIN_S)
        await cancel_and_wait(list(self._tasks))
        if self._follower is not None:
            await self._follower.stop()
