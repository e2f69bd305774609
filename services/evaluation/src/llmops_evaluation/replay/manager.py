"""Replays of every tenant: start (validated, audited), resume after a restart, cancel, and read their progress.

A replay's state is its record on ``llmops.evaluations.replays``: the API writes the first one, the runner a
checkpoint after each batch, and a replica that starts resumes every replay still ``running`` once it has
read that topic. Replays run in this process under a bound (``max_running`` at once; the others wait for a
slot), each at its own rate limit, on their own readers: production scoring is never slowed by a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import EvaluatorConfigured, PartitionOffsets, ReplayCheckpointed, ReplayEvaluator
from pydantic import JsonValue

from llmops_evaluation.evaluators import ConfigError, Evaluator, build_evaluator
from llmops_evaluation.handlers import ScoringRules
from llmops_evaluation.metrics import REPLAYS
from llmops_evaluation.replay.runner import ReplayEvaluators, run_replay
from llmops_evaluation.replay.sources import CallSource
from llmops_evaluation.replay.spec import EvaluatorChoice, RangeSpec, ReplaySpec
from llmops_evaluation.replay.store import ReplayStore
from llmops_evaluation.store import EvaluatorStore

__all__ = ["ReplayLimits", "ReplayManager", "SourceFactory"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SourceFactory(Protocol):
    """Opens a replay's reader; before a replay starts, checks its source and fills in the ends of its ranges."""

    def open(self, tenant: str, state: ReplayCheckpointed) -> CallSource: ...

    async def prepare(self, source: str, ranges: list[RangeSpec]) -> list[PartitionOffsets]:
        """The topic ranges with their ends (none for the warehouse); a 503 when the source is not reachable."""
        ...


@dataclass(frozen=True, slots=True)
class ReplayLimits:
    """Bounds on replays: at once in this process, unfinished per tenant, their rate, their batch."""

    max_running: int = 2
    max_per_tenant: int = 4
    default_rate_per_s: float = 2000.0
    max_rate_per_s: float = 50_000.0
    batch_size: int = 500
    retry_after_s: int = 5


class ReplayManager:
    """Starts, resumes and cancels replays; a lifespan component (``start`` resumes, ``stop`` halts them)."""

    def __init__(
        self,
        store: ReplayStore,
        evaluators: EvaluatorStore,
        publisher: EventPublisher,
        sources: SourceFactory,
        rules: ScoringRules,
        limits: ReplayLimits,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store, self._evaluators, self._out, self._sources = store, evaluators, publisher, sources
        self._rules, self._limits, self._clock = rules, limits, clock
        self._audit = AuditTrail(publisher, source=rules.source, clock=clock)
        self._slots = asyncio.Semaphore(limits.max_running)
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._resume: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Resume every running replay once the topic is read (in the background: the API starts at once)."""
        self._resume = asyncio.create_task(self._resume_all(), name="replay:resume")

    async def stop(self) -> None:
        """Halt the replays where they are (their last checkpoint stands)."""
        await cancel_and_wait([self._resume, *self._tasks.values()])

    async def _resume_all(self) -> None:
        await self._store.loaded.wait()
        for tenant, state in self._store.running():
            log.info("resuming replay %s of tenant %s at %d calls read", state.replay_id, tenant, state.processed)
            self._launch(tenant, state)

    def get(self, tenant: str, replay_id: str) -> ReplayCheckpointed:
        """One replay; 404 when the tenant has none by that id."""
        found = self._loaded().get(tenant, replay_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"no replay {replay_id!r}")
        return found

    def replays(self, tenant: str) -> list[ReplayCheckpointed]:
        return self._loaded().replays(tenant)

    async def create(self, tenant: str, spec: ReplaySpec, actor: Actor) -> ReplayCheckpointed:
        """Validate ``spec``, publish its first record (audited), and start it."""
        async with self._lock:
            store = self._loaded()
            replay_id = spec.replay_id or f"rp-{uuid.uuid4().hex[:16]}"
            if store.get(tenant, replay_id) is not None:
                raise ProblemError(409, "Conflict", f"replay {replay_id!r} exists")
            unfinished = sum(1 for s in store.replays(tenant) if s.status == "running")
            if unfinished >= self._limits.max_per_tenant:
                detail = f"the tenant has {unfinished} replays running (the limit)"
                raise ProblemError(429, "Too Many Requests", detail, headers=self._retry_after())
            state = await self._first_state(tenant, replay_id, spec)
            await self._publish(tenant, state, actor, "replay.start")
            store.put(tenant, state)
            self._launch(tenant, state)
            return state

    async def cancel(self, tenant: str, replay_id: str, actor: Actor) -> ReplayCheckpointed:
        """Stop a running replay (its scores so far stay); a finished one is returned as it is."""
        async with self._lock:
            state = self.get(tenant, replay_id)
            if state.status != "running":
                return state
            await cancel_and_wait([self._tasks.pop((tenant, replay_id), None)])
            state = self.get(tenant, replay_id).model_copy(update={"status": "cancelled", "updated_at": self._clock()})
            await self._publish(tenant, state, actor, "replay.cancel")
            self._store.put(tenant, state)
            return state

    def _retry_after(self) -> dict[str, str]:
        return {"Retry-After": str(self._limits.retry_after_s)}

    def _loaded(self) -> ReplayStore:
        if not self._store.caught_up:
            raise ProblemError(503, "Service Unavailable", "the replays are still loading", headers=self._retry_after())
        return self._store

    async def _first_state(self, tenant: str, replay_id: str, spec: ReplaySpec) -> ReplayCheckpointed:
        now = self._clock()
        limits = self._limits
        rate = min(spec.rate_limit_per_s or limits.default_rate_per_s, limits.max_rate_per_s)
        ranges = await self._sources.prepare(spec.source, spec.ranges)
        try:
            return ReplayCheckpointed(
                replay_id=replay_id,
                evaluators=[self._choose(tenant, c, spec) for c in spec.evaluators],
                source=spec.source,
                start=spec.start,
                end=spec.end,
                app=spec.app,
                model=spec.model,
                prompt_name=spec.prompt_name,
                ranges=ranges,
                include_platform=spec.include_platform,
                rate_limit_per_s=rate,
                batch_size=spec.batch_size or limits.batch_size,
                status="running",
                expected=sum(r.end - r.start for r in ranges) if ranges else None,
                created_at=now,
                updated_at=now,
            )
        except ValueError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None

    def _choose(self, tenant: str, choice: EvaluatorChoice, spec: ReplaySpec) -> ReplayEvaluator:
        """The replay's copy of an evaluator: a configured one as it is now, or a new one, validated."""
        if choice.kind is None:
            configured = self._evaluators.get(tenant, choice.name)
            if configured is None:
                raise ProblemError(404, "Not Found", f"no evaluator {choice.name!r} to replay")
            config = configured.config
            return ReplayEvaluator(name=config.name, kind=config.kind, params=config.params, version=configured.version)
        evaluator = self._compile(choice.name, choice.kind, choice.params or {}, spec.include_platform)
        return ReplayEvaluator(
            name=choice.name, kind=choice.kind, params=choice.params or {}, version=evaluator.version
        )

    def _compile(self, name: str, kind: str, params: dict[str, JsonValue], include_platform: bool) -> Evaluator:
        config = EvaluatorConfigured(
            name=name, kind=kind, params=params, app="*", include_platform=include_platform, updated_at=self._clock()
        )
        try:
            return build_evaluator(config)
        except ConfigError as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None

    def _launch(self, tenant: str, state: ReplayCheckpointed) -> None:
        key = (tenant, state.replay_id)
        self._tasks[key] = asyncio.create_task(self._run(tenant, state), name=f"replay:{state.replay_id}")

    async def _run(self, tenant: str, state: ReplayCheckpointed) -> None:
        async with self._slots:
            try:
                evaluators = [self._resumed(e, state.include_platform) for e in state.evaluators]
            except (ConfigError, ProblemError) as exc:
                await self._end(tenant, state, f"cannot resume: {exc}")
                return
            source = self._sources.open(tenant, state)
            rules = ScoringRules(
                source=self._rules.source,
                max_output_chars=self._rules.max_output_chars,
                budget_s=self._rules.budget_s,
                clock=self._rules.clock,
                replay_id=state.replay_id,
            )
            try:
                lookup = ReplayEvaluators(evaluators, state.include_platform)
                final = await run_replay(
                    tenant, state, source, lookup, self._out, rules, partial(self._store_checkpoint, tenant)
                )
                REPLAYS.labels(final.status).inc()
            except Exception as exc:
                log.exception("replay %s of tenant %s failed", state.replay_id, tenant)
                await self._end(tenant, self._store.get(tenant, state.replay_id) or state, type(exc).__name__)
            finally:
                await source.close()
                self._tasks.pop((tenant, state.replay_id), None)

    def _resumed(self, kept: ReplayEvaluator, include_platform: bool) -> Evaluator:
        """The evaluator as the replay recorded it; a kind whose code changed version since is refused."""
        evaluator = self._compile(kept.name, kept.kind, kept.params, include_platform)
        if evaluator.version != kept.version:
            raise ConfigError(f"{kept.name} is now version {evaluator.version}, the replay ran {kept.version}")
        return evaluator

    async def _end(self, tenant: str, state: ReplayCheckpointed, error: str) -> None:
        failed = state.model_copy(update={"status": "failed", "error": error[:1024], "updated_at": self._clock()})
        REPLAYS.labels("failed").inc()
        with contextlib.suppress(Exception):
            await self._store_checkpoint(tenant, failed)

    async def _store_checkpoint(self, tenant: str, state: ReplayCheckpointed) -> None:
        await self._out.publish_many([self._event(tenant, state)])
        self._store.put(tenant, state)

    def _event(
        self, tenant: str, state: ReplayCheckpointed, key_id: str | None = None
    ) -> CloudEvent[ReplayCheckpointed]:
        return CloudEvent.wrap(
            state, source=self._rules.source, tenant_id=tenant, subject=state.replay_id, key_id=key_id
        )

    async def _publish(self, tenant: str, state: ReplayCheckpointed, actor: Actor, action: str) -> None:
        """The record and its audit entry, in one batch Kafka acknowledges whole (or 503)."""
        event = self._event(tenant, state, actor.key_id)
        details: dict[str, JsonValue] = {"source": state.source, "evaluators": [e.name for e in state.evaluators]}
        try:
            await self._audit.publish_with(
                tenant, actor, action=action, resource=("replay", state.replay_id), details=details, events=[event]
            )
        except Exception as exc:
            detail = f"the replay could not be stored: {type(exc).__name__}"
            raise ProblemError(503, "Service Unavailable", detail, headers=self._retry_after()) from exc
