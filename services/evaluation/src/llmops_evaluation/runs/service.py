"""Runs: started through the API (audited), executed by :class:`~llmops_evaluation.runs.executor.RunExecutor`,
compared from their scores as the warehouse stores them (read with the service key through its query API).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import PlatformCallError, WarehouseReader
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.ids import new_uuid7
from llmops_schemas.v1.runs import RunEvaluator, RunUpdated, RunVariant
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from llmops_evaluation.evaluators import ConfigError, validate_params
from llmops_evaluation.registry import EvaluatorRegistry
from llmops_evaluation.runs.datasets import DatasetRegistry
from llmops_evaluation.runs.executor import RunExecutor
from llmops_evaluation.runs.stats import RunScores, run_scores
from llmops_evaluation.runs.stores import RunStore

__all__ = ["RunRegistry", "RunSpec"]

_SCORES_TABLE = "evaluation_scores"
_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
_Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RunSpec(BaseModel):
    """The body of ``POST /v1/runs``: a dataset version, a variant, and the evaluators that score it.

    ``evaluators`` name the tenant's configured evaluators (their kind and parameters are copied into the run, so
    a later change to them does not change a run under way); ``inline`` adds kinds with parameters directly.
    """

    model_config = ConfigDict(extra="forbid")

    dataset: _Slug
    dataset_version: int | None = Field(strict=True, default=None, ge=1, description="Default: the latest version")
    variant: RunVariant
    evaluators: Annotated[list[_Slug], Field(max_length=16)] = Field(default_factory=list)
    inline: Annotated[list[RunEvaluator], Field(max_length=16)] = Field(default_factory=list)


class RunRegistry:
    """Starting, reading and comparing a tenant's runs."""

    def __init__(
        self,
        runs: RunStore,
        datasets: DatasetRegistry,
        evaluators: EvaluatorRegistry,
        executor: RunExecutor,
        publisher: EventPublisher,
        warehouse: WarehouseReader | None,
        *,
        source: str = "/services/evaluation",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._runs = runs
        self._datasets = datasets
        self._evaluators = evaluators
        self.executor = executor
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._warehouse = warehouse
        self._source = source
        self._clock = clock
        self._retry_after_s = datasets.limits.retry_after_s
        self._lock = asyncio.Lock()

    def _unavailable(self, detail: str) -> ProblemError:
        return ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s)

    def get(self, tenant: str, run_id: str) -> RunUpdated:
        """One run's state; 404 when the tenant has none by that id."""
        if not self._runs.caught_up:
            raise self._unavailable("the runs are still loading")
        found = self._runs.get(tenant, run_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"no run {run_id!r}")
        return found

    def recent(self, tenant: str, limit: int) -> list[RunUpdated]:
        if not self._runs.caught_up:
            raise self._unavailable("the runs are still loading")
        return self._runs.runs(tenant)[:limit]

    def _snapshot(self, tenant: str, spec: RunSpec) -> list[RunEvaluator]:
        chosen = [self._evaluators.get(tenant, name).config for name in spec.evaluators]
        snapshot = [RunEvaluator(name=c.name, kind=c.kind, params=dict(c.params)) for c in chosen] + spec.inline
        if not snapshot:
            raise ProblemError(422, "Unprocessable Content", "a run needs at least one evaluator")
        if len(snapshot) > 16 or len({e.name for e in snapshot}) < len(snapshot):
            raise ProblemError(422, "Unprocessable Content", "at most 16 evaluators, each name once")
        for evaluator in snapshot:
            try:
                validate_params(evaluator.kind, dict(evaluator.params))
            except ConfigError as exc:
                raise ProblemError(422, "Unprocessable Content", f"evaluator {evaluator.name}: {exc}") from None
        return snapshot

    async def start(self, tenant: str, spec: RunSpec, actor: Actor) -> RunUpdated:
        """Check and record a new run, then execute it in the background; 429 when enough runs are under way."""
        if not self.executor.enabled:
            raise self._unavailable("runs need LLMOPS_GATEWAY_URL and LLMOPS_SERVICE_KEY")
        if spec.variant.model is None:
            # The gateway's OpenAI API needs a model on every request, a prompt version's requests included.
            raise ProblemError(422, "Unprocessable Content", "the variant needs a model (and optionally a prompt)")
        if spec.variant.prompt_version is not None and spec.variant.prompt_name is None:
            raise ProblemError(422, "Unprocessable Content", "prompt_version needs prompt_name")
        version = self._datasets.get(tenant, spec.dataset, spec.dataset_version)
        evaluators = self._snapshot(tenant, spec)
        async with self._lock:
            if self.executor.active >= self.executor.limits.max_active:
                raise ProblemError(
                    429, "Too Many Requests", "as many runs as this service executes at once are under way",
                    retry_after=self._retry_after_s,
                )  # fmt: skip
            now = self._clock()
            run = RunUpdated(
                run_id=f"run-{new_uuid7()}",
                dataset=spec.dataset,
                dataset_version=version.manifest.version,
                variant=spec.variant,
                evaluators=evaluators,
                status="running",
                total=version.manifest.examples,
                completed=0,
                created_at=now,
                updated_at=now,
                worker=self.executor.worker,
            )
            await self._publish(tenant, run, actor)
            self._runs.put(tenant, run)
            self.executor.launch(tenant, run)
            return run

    async def _publish(self, tenant: str, run: RunUpdated, actor: Actor) -> None:
        event = CloudEvent.wrap(run, source=self._source, tenant_id=tenant, subject=run.run_id, key_id=actor.key_id)
        details: dict[str, JsonValue] = {"dataset": run.dataset, "dataset_version": run.dataset_version,
                                         "evaluators": [e.name for e in run.evaluators]}  # fmt: skip
        try:
            await asyncio.wait_for(
                self._audit.publish_with(
                    tenant, actor, action="run.start", resource=("run", run.run_id), details=details, events=[event]
                ),
                self._datasets.limits.publish_timeout_s,
            )
        except _UNAVAILABLE as exc:
            raise self._unavailable(f"the run could not be stored: {type(exc).__name__}") from exc

    async def scores(self, tenant: str, run_id: str) -> tuple[RunUpdated, RunScores]:
        """A finished run and its scores from the warehouse; 409 while it runs, 503 until the warehouse has all."""
        run = self.get(tenant, run_id)
        if run.status == "running":
            raise ProblemError(409, "Conflict", f"run {run_id} is still running ({run.completed}/{run.total})")
        if self._warehouse is None:
            raise self._unavailable("comparing runs needs LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY")
        start = run.created_at.replace(microsecond=run.created_at.microsecond // 1000 * 1000)
        try:
            events = [
                row["data"]
                async for row in self._warehouse.events(
                    tenant, _SCORES_TABLE, run_id=run_id, start=start, end=start + timedelta(seconds=1)
                )
            ]
        except PlatformCallError as exc:
            raise self._unavailable(f"the warehouse could not be read: {exc}") from exc
        found = run_scores(events)
        expected = run.completed - run.failed
        if len(found.scores) < expected:
            raise self._unavailable(f"the warehouse holds scores of {len(found.scores)} of {expected} examples yet")
        return run, found

    def pair_groups(self, tenant: str, run: RunUpdated) -> dict[str, tuple[str, str | None]]:
        """The run's examples that belong to a counterfactual pair group: ``example -> (group, label)``."""
        version = self._datasets.get(tenant, run.dataset, run.dataset_version)
        return {e.example_id: (e.pair_group, e.pair_label) for e in version.examples if e.pair_group}
