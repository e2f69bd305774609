"""The experiments API's use cases: create (and start), change weights or status, stop; each change audited.

Changes are serialised per tenant inside the process (starting one checks the tenant's other running
experiments), published with their audit entry, and applied to the local store at once. ``version``
grows with every change; a client that sends ``expected_version`` gets 409 if someone changed it first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from llmops_kit.audit import Actor
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v1 import ExperimentConfigured
from pydantic import JsonValue

from llmops_inference.experiments.errors import (
    ExperimentConflict,
    ExperimentsUnavailable,
    InvalidExperiment,
    UnknownExperiment,
)
from llmops_inference.experiments.model import ExperimentChange, ExperimentDraft, reweighted, target, validated
from llmops_inference.experiments.publisher import ExperimentPublisher
from llmops_inference.experiments.store import ExperimentStore
from llmops_inference.prompts.store import PromptStore

__all__ = ["ExperimentRegistry"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ExperimentRegistry:
    """What the experiment routes (and the CLI through them) do, for one gateway process.

    With ``prompts`` given, variants that name a prompt version are checked to exist (422 otherwise).
    """

    def __init__(
        self,
        store: ExperimentStore,
        publisher: ExperimentPublisher,
        *,
        prompts: PromptStore | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self._publisher = publisher
        self._prompts = prompts
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    async def create(self, tenant: str, draft: ExperimentDraft, actor: Actor) -> ExperimentConfigured:
        """Create an experiment, running at once unless ``draft.start`` is false (then a draft)."""
        async with self._lock(tenant):
            self._require_loaded()
            experiment_id = draft.experiment_id or f"exp-{new_uuid7()}"
            now = self._clock()
            fields = draft.model_dump(exclude={"start", "experiment_id"})
            experiment = validated(
                {
                    **fields,
                    "experiment_id": experiment_id,
                    "status": "running" if draft.start else "draft",
                    "starts_at": draft.starts_at or (now if draft.start else None),
                    "version": 1,
                    "updated_by": actor.id,
                    "updated_at": now,
                }
            )
            if self.store.get(tenant, experiment_id) is not None:
                raise ExperimentConflict(f"experiment {experiment_id!r} exists already", experiment_id=experiment_id)
            self._check(tenant, experiment)
            action = "experiment.start" if draft.start else "experiment.create"
            return await self._publish(tenant, experiment, actor, action)

    async def change(
        self, tenant: str, experiment_id: str, change: ExperimentChange, actor: Actor
    ) -> ExperimentConfigured:
        """Change weights (or the canary's share), status or description; the version goes up by one."""
        async with self._lock(tenant):
            current = self._current(tenant, experiment_id, change.expected_version)
            now = self._clock()
            status = change.status or current.status
            updates: dict[str, Any] = {
                "variants": [v.model_dump() for v in reweighted(current, change)],
                "status": status,
                "version": current.version + 1,
                "updated_by": actor.id,
                "updated_at": now,
            }
            if status == "running" and current.starts_at is None:
                updates["starts_at"] = now
            for name in ("description", "ends_at"):
                if name in change.model_fields_set:
                    updates[name] = getattr(change, name)
            experiment = validated({**current.model_dump(), **updates})
            self._check(tenant, experiment)
            return await self._publish(tenant, experiment, actor, _action(current, experiment))

    async def stop(self, tenant: str, experiment_id: str, actor: Actor) -> ExperimentConfigured:
        """Stop for good (status ``completed``): it assigns nothing from now on. Stopping twice is a no-op."""
        async with self._lock(tenant):
            current = self._current(tenant, experiment_id, None, allow_completed=True)
            if current.status == "completed":
                return current
            now = self._clock()
            ends_at = current.ends_at
            if current.starts_at is None or current.starts_at < now:
                ends_at = now if ends_at is None or ends_at > now else ends_at
            experiment = validated(
                {
                    **current.model_dump(),
                    "status": "completed",
                    "ends_at": ends_at,
                    "version": current.version + 1,
                    "updated_by": actor.id,
                    "updated_at": now,
                }
            )
            return await self._publish(tenant, experiment, actor, "experiment.stop")

    def get(self, tenant: str, experiment_id: str) -> ExperimentConfigured:
        self._require_loaded()
        experiment = self.store.get(tenant, experiment_id)
        if experiment is None:
            raise UnknownExperiment(experiment_id)
        return experiment

    def experiments(self, tenant: str, status: str | None = None) -> list[ExperimentConfigured]:
        self._require_loaded()
        return self.store.experiments(tenant, status)

    # --- helpers -----------------------------------------------------------------------------------

    def _lock(self, tenant: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant, asyncio.Lock())

    def _require_loaded(self) -> None:
        if not self.store.caught_up:
            raise ExperimentsUnavailable("the experiments registry is still loading its topic; retry in a moment")

    def _current(
        self, tenant: str, experiment_id: str, expected: int | None, *, allow_completed: bool = False
    ) -> ExperimentConfigured:
        current = self.get(tenant, experiment_id)
        if expected is not None and expected != current.version:
            raise ExperimentConflict(
                f"experiment {experiment_id!r} is at version {current.version}, not {expected}: it changed meanwhile",
                version=current.version,
            )
        if current.status == "completed" and not allow_completed:
            raise ExperimentConflict(f"experiment {experiment_id!r} is stopped; create a new one instead")
        return current

    def _check(self, tenant: str, experiment: ExperimentConfigured) -> None:
        """Variants name prompt versions that exist; a running experiment takes no other one's traffic."""
        self._check_prompts(tenant, experiment)
        if experiment.status != "running":
            return
        wanted = target(experiment)
        for other in self.store.experiments(tenant, "running"):
            if other.experiment_id != experiment.experiment_id and target(other) == wanted:
                raise ExperimentConflict(
                    f"experiment {other.experiment_id!r} already routes this traffic (app {wanted.app!r}, "
                    f"{'prompt ' + repr(wanted.prompt) if wanted.prompt else 'model ' + repr(wanted.model)}); "
                    "stop or pause it first",
                    conflicting_experiment=other.experiment_id,
                )

    def _check_prompts(self, tenant: str, experiment: ExperimentConfigured) -> None:
        if self._prompts is None:
            return
        for variant in experiment.variants:
            ref = variant.prompt
            if ref is not None and self._prompts.version(tenant, ref.name, ref.version) is None:
                raise InvalidExperiment(
                    f"variant {variant.name!r} names prompt {ref.name!r} version {ref.version}, which does not exist"
                )

    async def _publish(
        self, tenant: str, experiment: ExperimentConfigured, actor: Actor, action: str
    ) -> ExperimentConfigured:
        details: dict[str, JsonValue] = {
            "kind": experiment.kind,
            "status": experiment.status,
            "version": experiment.version,
            "weights": {v.name: v.weight for v in experiment.variants},
        }
        try:
            event = await self._publisher.publish(tenant, experiment, actor, action=action, details=details)
        except Exception as exc:
            log.exception("publishing %s of %s/%s failed", action, tenant, experiment.experiment_id)
            raise ExperimentsUnavailable(f"could not publish the change ({type(exc).__name__}); retry it") from exc
        self.store.apply(event)
        return experiment


def _action(before: ExperimentConfigured, after: ExperimentConfigured) -> str:
    """The audit action of a change: start, resume or pause when the status changes, else update."""
    if after.status == before.status:
        return "experiment.update"
    if after.status == "paused":
        return "experiment.pause"
    return "experiment.resume" if before.status == "paused" else "experiment.start"
