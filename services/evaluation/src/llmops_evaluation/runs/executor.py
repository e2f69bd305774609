"""Executing runs: each example of the dataset version through the gateway (platform traffic, the service key),
then judged by the run's evaluators; one ``llmops.evaluation.scored.v2`` per example.

Examples go in dataset order, a chunk at a time, at most ``concurrency`` gateway calls in flight. After a
chunk's scores are acknowledged by Kafka the run's progress (``completed``) is published to the compacted
runs topic, so a restarted service resumes after the last finished chunk: it redoes at most one chunk, and
the redone chunk's scores carry the same ids (derived from tenant, run, example, evaluator version and metric),
so the warehouse keeps them once. Each record names the replica (``worker``) executing the run: another replica
takes a ``running`` run over only once its last record is older than the lease, and a replica that finds a newer
record of another worker stops (at most one chunk is done twice).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.errors import KafkaError
from llmops_kit.errors import TransientError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.logging import log_unexpected
from llmops_kit.platform_client import GatewayClient, PlatformCallError
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.runs import DatasetExampleAdded, RunFailure, RunUpdated
from llmops_schemas.v2 import EvaluationScored

from llmops_evaluation.evaluators import Evaluator
from llmops_evaluation.heuristics import Answer
from llmops_evaluation.judges.adapters import GatewayJudges
from llmops_evaluation.ports import JudgePorts
from llmops_evaluation.runs.judging import evaluators_of, output_of, request_body, scored_event
from llmops_evaluation.runs.model_scoring import model_items
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.semantic.gateway import GatewayEmbedder

__all__ = ["RunExecutor", "RunLimits"]

log = logging.getLogger(__name__)
_MAX_FAILURES = 20


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunLimits:
    """Bounds of execution: gateway calls in flight per run, examples per chunk, runs at once per process."""

    concurrency: int = 8
    chunk: int = 32
    max_active: int = 4
    max_output_chars: int = 262_144
    budget_s: float = 0.25
    retry_pause_s: float = 1.0
    lease_s: float = 120.0
    """A ``running`` run whose last record is older is taken over (its replica is taken for dead)."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    event: CloudEvent[EvaluationScored] | None = None
    failure: RunFailure | None = None


class RunExecutor:
    """Runs runs in the background (``launch``) and resumes unfinished ones at start (a lifespan component)."""

    def __init__(
        self,
        datasets: DatasetStore,
        runs: RunStore,
        publisher: EventPublisher,
        gateway: GatewayClient | None,
        *,
        source: str = "/services/evaluation",
        limits: RunLimits | None = None,
        clock: Callable[[], datetime] = _utcnow,
        stores_ready: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._datasets = datasets
        self._stores_ready = stores_ready
        self._runs = runs
        self._publisher = publisher
        self._gateway = gateway
        self._source = source
        self.limits = limits or RunLimits()
        self._clock = clock
        # LLM judges and semantic kinds await the gateway per answer (runs.model_scoring).
        self._ports = (
            JudgePorts(GatewayJudges(gateway), None, functools.partial(GatewayEmbedder, gateway)) if gateway else None
        )
        self._tasks: dict[tuple[str, str], asyncio.Task[RunUpdated]] = {}
        self._resumer: asyncio.Task[None] | None = None
        self.worker = f"worker-{uuid.uuid4().hex[:12]}"

    @property
    def enabled(self) -> bool:
        """Whether runs can execute here (a gateway URL and a service key are configured)."""
        return self._gateway is not None

    @property
    def active(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())

    async def start(self) -> None:
        """Resume the unfinished runs once both stores have caught up (``stores_ready``), in the background."""
        self._resumer = asyncio.create_task(self._resume(), name="runs:resume")

    async def stop(self) -> None:
        await cancel_and_wait([self._resumer, *self._tasks.values()])
        self._tasks.clear()

    async def _resume(self) -> None:
        """Once the stores are loaded, take over the runs whose replica stopped, now and every half lease."""
        if self._stores_ready is not None:
            await self._stores_ready()
        if not (self._datasets.caught_up and self._runs.caught_up):
            log.warning("not resuming runs: the datasets or runs are not loaded")
            return
        while self.enabled:
            self.take_over()
            await asyncio.sleep(self.limits.lease_s / 2)  # a periodic scan: a lease expires with no event

    def take_over(self) -> list[str]:
        """Launch every ``running`` run that is not executing here and whose last record is older than the
        lease (its replica stopped or died); returns their ids."""
        stale_before = self._clock() - timedelta(seconds=self.limits.lease_s)
        taken: list[str] = []
        for tenant, run in self._runs.unfinished():
            if (tenant, run.run_id) not in self._tasks and run.updated_at < stale_before:
                log.info("resuming run %s at example %d of %d", run.run_id, run.completed, run.total)
                self.launch(tenant, run)
                taken.append(run.run_id)
        return taken

    def launch(self, tenant: str, run: RunUpdated) -> None:
        """Execute ``run`` from its ``completed`` examples on, in the background."""
        task = asyncio.create_task(self._guarded(tenant, run), name=f"run:{run.run_id}")
        self._tasks[(tenant, run.run_id)] = task
        task.add_done_callback(lambda _: self._tasks.pop((tenant, run.run_id), None))

    async def _guarded(self, tenant: str, run: RunUpdated) -> RunUpdated:
        """:meth:`execute`; a defect ends the run as ``failed`` (logged by class), never as a silent dead task."""
        try:
            return await self.execute(tenant, run)
        except Exception as exc:
            log_unexpected(log, f"run {run.run_id} failed", exc)
            latest = self._runs.get(tenant, run.run_id) or run
            return await self._save(tenant, latest, status="failed", error=f"the run failed: {type(exc).__name__}")

    async def execute(self, tenant: str, run: RunUpdated) -> RunUpdated:
        """Every remaining chunk, each followed by the run's progress; the final state is returned."""
        version = self._datasets.get(tenant, run.dataset, run.dataset_version)
        if version is None:
            return await self._save(tenant, run, status="failed", error="the dataset version is not available")
        evaluators = evaluators_of(run)
        examples = version.examples
        while run.completed < len(examples):
            if self._taken_over(tenant, run):
                log.info("run %s was taken over by another replica; leaving it", run.run_id)
                return run
            chunk = examples[run.completed : run.completed + self.limits.chunk]
            outcomes = await self._chunk(tenant, run, chunk, evaluators)
            run = await self._progress(tenant, run, len(chunk), [o.failure for o in outcomes if o.failure])
        return await self._save(tenant, run, status="completed")

    def _taken_over(self, tenant: str, run: RunUpdated) -> bool:
        latest = self._runs.get(tenant, run.run_id)
        return latest is not None and latest.worker != self.worker and latest.updated_at > run.updated_at

    async def _chunk(
        self, tenant: str, run: RunUpdated, chunk: Sequence[DatasetExampleAdded], evaluators: list[Evaluator]
    ) -> list[_Outcome]:
        slots = asyncio.Semaphore(self.limits.concurrency)

        async def one(example: DatasetExampleAdded) -> _Outcome:
            async with slots:
                return await self._example(tenant, run, example, evaluators)

        outcomes = await asyncio.gather(*(one(e) for e in chunk))
        events = [o.event for o in outcomes if o.event is not None]
        await self._retrying(lambda: self._publisher.publish_many(events))
        return outcomes

    async def _example(
        self, tenant: str, run: RunUpdated, example: DatasetExampleAdded, evaluators: list[Evaluator]
    ) -> _Outcome:
        assert self._gateway is not None
        try:
            answer = await self._gateway.chat(tenant, request_body(run.variant, example))
            output, refused = output_of(answer)
        except PlatformCallError as exc:
            return _Outcome(failure=RunFailure(example_id=example.example_id, reason=str(exc)[:1024]))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            reason = f"the gateway's answer is not a chat completion ({type(exc).__name__})"
            return _Outcome(failure=RunFailure(example_id=example.example_id, reason=reason))
        judged = replace(
            Answer.of(output, cap=self.limits.max_output_chars, refused=refused),
            prompt=example.input,
            reference=example.expected,
            context=tuple(example.context),
        )
        call_id = str(answer.get("id", ""))
        by_models = (
            await model_items(tenant, run, example.example_id, call_id or f"{run.run_id}.{example.example_id}",
                              judged, evaluators, self._ports)
            if self._ports is not None
            else []
        )  # fmt: skip
        event = scored_event(
            tenant,
            run,
            example,
            call_id,
            judged,
            evaluators,
            budget_s=self.limits.budget_s,
            source=self._source,
            judged_at=self._clock(),
            model_items=by_models,
        )
        if event is None:
            return _Outcome(failure=RunFailure(example_id=example.example_id, reason="no evaluator produced a score"))
        return _Outcome(event=event)

    async def _progress(self, tenant: str, run: RunUpdated, done: int, failures: list[RunFailure]) -> RunUpdated:
        listed = [*run.failures, *failures][:_MAX_FAILURES]
        return await self._save(
            tenant, run, completed=run.completed + done, failed=run.failed + len(failures), failures=listed
        )

    async def _save(self, tenant: str, run: RunUpdated, **changes: Any) -> RunUpdated:
        """Publish the run's new state (retried until Kafka takes it), then apply it locally."""
        updated = run.model_copy(update={**changes, "updated_at": self._clock(), "worker": self.worker})
        updated = RunUpdated.model_validate(updated.model_dump())
        event = CloudEvent.wrap(updated, source=self._source, tenant_id=tenant, subject=run.run_id)
        await self._retrying(lambda: self._publisher.publish_many([event]))
        self._runs.put(tenant, updated)
        return updated

    async def _retrying(self, publish: Callable[[], Any]) -> None:
        """Publish until Kafka acknowledges: a run waits out a broker outage rather than skipping examples."""
        while True:
            try:
                await publish()
                return
            except (KafkaError, TransientError, TimeoutError, ConnectionError) as exc:
                log.warning("publishing run progress failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.limits.retry_pause_s)
