"""The verdict policy loop: every ``EVALUATION_POLICY_INTERVAL_S``, each armed policy's verdict, and, when it is
decisive, the move it allows through the gateway's experiment API.

* ``variant_better`` with ``promote``: the winner gets weight 1, every other variant 0;
* ``variant_worse`` with ``rollback``: the control gets weight 1.

The change is a compare-and-set on the experiment version the verdict read (``expected_version``): if someone
changed the experiment meanwhile, the gateway answers 409 and the policy waits for the next round, on fresh
data. A done move disarms the policy and is audited (``experiment.promote`` / ``experiment.rollback``, with the
verdict's figures); a move the gateway refuses is audited as a failure and the policy stays armed. Shadow
experiments are never moved: their variants answer nobody. Every replica runs the loop; the compare-and-set
makes a second replica's move a 409.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol

from llmops_kit.audit import Actor
from llmops_kit.http.problems import ProblemError
from llmops_kit.logging import log_unexpected
from llmops_kit.platform_client import PlatformCallError, PlatformClient
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.v1 import VerdictPolicySet
from pydantic import JsonValue

from llmops_evaluation.abtest.policies import PolicyRegistry
from llmops_evaluation.abtest.service import VerdictService
from llmops_evaluation.abtest.verdict import ExperimentVerdict

__all__ = ["ExperimentControl", "GatewayExperiments", "PolicyLoop"]

log = logging.getLogger(__name__)


class ExperimentControl(Protocol):
    """Moves an experiment's traffic: the gateway's experiment API (``GatewayExperiments``) or a test's fake."""

    async def set_weights(
        self, tenant: str, experiment_id: str, weights: dict[str, float], expected_version: int
    ) -> None:
        """Apply ``weights`` if the experiment is still at ``expected_version``; ``PlatformCallError`` if not."""
        ...


class GatewayExperiments:
    """``PATCH /v1/experiments/{id}`` through the kit's gateway client (the service key, the policy's tenant)."""

    def __init__(self, client: PlatformClient) -> None:
        self.client = client

    async def set_weights(
        self, tenant: str, experiment_id: str, weights: dict[str, float], expected_version: int
    ) -> None:
        body = {"weights": weights, "expected_version": expected_version}
        await self.client.request("PATCH", f"/v1/experiments/{experiment_id}", tenant, body=body)


def _move(
    policy: VerdictPolicySet, verdict: ExperimentVerdict
) -> tuple[Literal["promoted", "rolled_back"], str] | None:
    """What the policy allows on this verdict: (action, the variant that gets every call), or None."""
    if verdict.kind == "shadow" or verdict.status not in ("running", "paused"):
        return None
    if verdict.verdict == "variant_better" and policy.promote and verdict.winner:
        return "promoted", verdict.winner
    if verdict.verdict == "variant_worse" and policy.rollback:
        return "rolled_back", verdict.control
    return None


def _details(verdict: ExperimentVerdict, target: str) -> dict[str, JsonValue]:
    primary = next((v.primary for v in verdict.variants if v.variant == target and v.primary), None)
    primary = primary or next((v.primary for v in verdict.variants if v.primary), None)
    return {
        "verdict": verdict.verdict,
        "metric": verdict.primary_metric,
        "alpha": verdict.alpha,
        "target": target,
        "experiment_version": verdict.experiment_version,
        "sequential_p_value": primary.sequential_p_value if primary else None,
        "difference": primary.difference if primary else None,
    }


class PolicyLoop:
    """A lifespan component: runs :meth:`run_once` every ``interval_s`` until stopped."""

    def __init__(
        self,
        policies: PolicyRegistry,
        verdicts: VerdictService,
        gateway: ExperimentControl,
        *,
        interval_s: float,
        actor: Actor,
    ) -> None:
        self._policies = policies
        self._verdicts = verdicts
        self._gateway = gateway
        self._interval_s = interval_s
        self._actor = actor
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="verdict-policies")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.run_once()
            except Exception as exc:  # the loop outlives any one round
                log_unexpected(log, "verdict policy round failed", exc)

    async def run_once(self) -> list[tuple[str, str]]:
        """One round over every armed policy; returns the (experiment, action) pairs done."""
        if not self._policies.store.caught_up:
            return []
        done = []
        for tenant, policy in self._policies.store.armed():
            action = await self._consider(tenant, policy)
            if action:
                done.append((policy.experiment_id, action))
        return done

    async def _consider(self, tenant: str, policy: VerdictPolicySet) -> str | None:
        try:
            verdict = await self._verdicts.verdict(
                tenant, policy.experiment_id, metric=policy.metric, alpha=policy.alpha
            )
        except ProblemError as exc:
            log.info("no verdict for a policy this round: %s %s", exc.status, exc.detail)
            return None
        move = _move(policy, verdict)
        if move is None:
            return None
        action, target = move
        weights = {v.variant: 0.0 for v in verdict.variants} | {verdict.control: 0.0, target: 1.0}
        details = _details(verdict, target)
        try:
            await self._gateway.set_weights(tenant, policy.experiment_id, weights, verdict.experiment_version)
        except PlatformCallError as exc:  # 409: changed meanwhile; 0: no answer (after the client's retries)
            await self._refused(tenant, policy, action, details | {"gateway_status": exc.status})
            return None
        await self._policies.acted(tenant, policy, action, self._actor, details)
        return action

    async def _refused(self, tenant: str, policy: VerdictPolicySet, action: str, details: dict[str, JsonValue]) -> None:
        verb = "experiment.promote" if action == "promoted" else "experiment.rollback"
        await self._policies.audit_failure(tenant, policy.experiment_id, verb, self._actor, details)
