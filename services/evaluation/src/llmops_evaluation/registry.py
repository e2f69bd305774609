"""Writes of evaluator configurations: validate, publish to the compacted topic with the audit entry, then
apply locally.

The topic is the state (docs/adding-a-service.md, "Where services keep state"): a write is durable once
Kafka acknowledged it, and every replica's :class:`~llmops_evaluation.store.EvaluatorStore` folds it in.
Until the store has caught up with the topic, reads and writes answer 503 rather than act on partial state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import EvaluatorConfigured
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool

from llmops_evaluation.evaluators import ConfigError, Evaluator, build_evaluator, params_digest
from llmops_evaluation.judges.checks import JudgeChecks
from llmops_evaluation.store import EvaluatorStore

__all__ = ["EvaluatorRegistry", "EvaluatorSpec"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EvaluatorSpec(BaseModel):
    """The body of ``PUT /v1/evaluators/{name}``: what the evaluator runs and which calls it scores."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=128, description="A kind of GET /v1/evaluator-kinds")
    params: Annotated[dict[str, JsonValue], Field(max_length=32)] = Field(default_factory=dict)
    app: str = Field(min_length=1, max_length=256)
    prompt_name: str | None = Field(default=None, min_length=1, max_length=256)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    sampling_rate: float = Field(strict=True, default=1.0, ge=0, le=1)
    include_platform: StrictBool = False
    enabled: StrictBool = True


class EvaluatorRegistry:
    """The evaluators of every tenant: reads from the store, writes through the topic."""

    def __init__(
        self,
        store: EvaluatorStore,
        publisher: EventPublisher,
        *,
        source: str = "/services/evaluation",
        max_per_tenant: int = 200,
        publish_timeout_s: float = 15.0,
        retry_after_s: int = 5,
        clock: Callable[[], datetime] = _utcnow,
        judges: JudgeChecks | None = None,
    ) -> None:
        self._store = store
        self._judges = judges or JudgeChecks(None, retry_after_s=retry_after_s)
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source = source
        self._max = max_per_tenant
        self._timeout_s = publish_timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = asyncio.Lock()

    def _loaded(self) -> EvaluatorStore:
        if not self._store.caught_up:
            raise self._unavailable("the evaluator configurations are still loading")
        return self._store

    def _unavailable(self, detail: str) -> ProblemError:
        return ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s)

    def evaluators(self, tenant: str, app: str | None = None) -> list[Evaluator]:
        """The tenant's evaluators by name (optionally one app's)."""
        return self._loaded().evaluators(tenant, app)

    def get(self, tenant: str, name: str) -> Evaluator:
        """One evaluator; 404 when the tenant has none by that name."""
        found = self._loaded().get(tenant, name)
        if found is None:
            raise ProblemError(404, "Not Found", f"no evaluator {name!r}")
        return found

    async def put(self, tenant: str, name: str, spec: EvaluatorSpec, actor: Actor) -> tuple[Evaluator, bool]:
        """Create or replace ``name`` (audited); returns it and whether it is new. 422 for a spec that cannot run
        (a judge's route or rubric the gateway does not have included, checked before the lock is taken)."""
        self._loaded()
        try:
            config = EvaluatorConfigured(name=name, updated_at=self._clock(), **spec.model_dump())
            evaluator = build_evaluator(config)
        except (ConfigError, ValueError) as exc:
            raise ProblemError(422, "Unprocessable Content", str(exc)) from None
        await self._judges.check(tenant, evaluator)
        async with self._lock:
            store = self._loaded()
            created = store.get(tenant, name) is None
            if created and len(store.evaluators(tenant)) >= self._max:
                raise ProblemError(409, "Conflict", f"the tenant already has {self._max} evaluators (the limit)")
            await self._publish(tenant, config, actor, "evaluator.create" if created else "evaluator.update")
            store.put(tenant, evaluator)
            return evaluator, created

    async def delete(self, tenant: str, name: str, actor: Actor) -> None:
        """Remove ``name`` (audited; its scores stay); 404 when there is none."""
        async with self._lock:
            current = self.get(tenant, name).config
            marker = current.model_copy(update={"deleted": True, "updated_at": self._clock()})
            await self._publish(tenant, marker, actor, "evaluator.delete")
            self._store.delete(f"{tenant}:{name}")

    async def _publish(self, tenant: str, config: EvaluatorConfigured, actor: Actor, action: str) -> None:
        """The record and its audit entry, in one batch Kafka acknowledges whole (or 503)."""
        event = CloudEvent.wrap(config, source=self._source, tenant_id=tenant, subject=config.name, key_id=actor.key_id)
        details: dict[str, JsonValue] = {
            "kind": config.kind,
            "app": config.app,
            "params_digest": params_digest(config.params),
        }
        audited = self._audit.publish_with(
            tenant, actor, action=action, resource=("evaluator", config.name), details=details, events=[event]
        )
        try:
            await asyncio.wait_for(audited, self._timeout_s)
        except _UNAVAILABLE as exc:
            raise self._unavailable(f"the configuration could not be stored: {type(exc).__name__}") from exc
