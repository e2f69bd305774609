"""Judge-drift monitors: the materialised ``llmops.drift.judges`` and its writes (audited, through the topic).

The topic is the state: every replica materialises it, reads answer 503 until the store has caught up, and a write
is applied locally only after Kafka acknowledged it (as the evaluation service's verdict policies).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.materializer import CompactedStore
from llmops_kit.kafka.publisher import EventPublisher
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import JudgeMonitorConfigured
from llmops_schemas.v1.runs import RunEvaluator, RunVariant
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MonitorRegistry", "MonitorSpec", "MonitorStore", "same_config"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)
_Slug = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MonitorStore(CompactedStore):
    """Monitors by tenant and id; fed by the materialiser and by the registry's (and the scheduler's) writes."""

    topic = JudgeMonitorConfigured.topic

    def __init__(self) -> None:
        super().__init__()
        self._monitors: dict[tuple[str, str], JudgeMonitorConfigured] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, JudgeMonitorConfigured):
            self.put(event.tenant_id, event.data)

    def put(self, tenant: str, monitor: JudgeMonitorConfigured) -> None:
        if monitor.deleted:
            self._monitors.pop((tenant, monitor.monitor_id), None)
        else:
            self._monitors[(tenant, monitor.monitor_id)] = monitor

    def delete(self, key: str) -> None:
        tenant, _, monitor_id = key.partition(":")
        self._monitors.pop((tenant, monitor_id), None)

    def get(self, tenant: str, monitor_id: str) -> JudgeMonitorConfigured | None:
        return self._monitors.get((tenant, monitor_id))

    def of(self, tenant: str) -> list[JudgeMonitorConfigured]:
        """The tenant's monitors by id."""
        return sorted((m for (t, _), m in self._monitors.items() if t == tenant), key=lambda m: m.monitor_id)

    def every(self) -> list[tuple[str, JudgeMonitorConfigured]]:
        """Every tenant's monitors, in a stable order."""
        return [(tenant, monitor) for (tenant, _), monitor in sorted(self._monitors.items(), key=lambda i: i[0])]


_NOT_CONFIG = {"baseline_run_id", "next_check_at", "run_in_flight", "updated_at", "updated_by"}


def same_config(first: JudgeMonitorConfigured, second: JudgeMonitorConfigured) -> bool:
    """Whether two records of a monitor are the same monitor (not replaced in between): its baseline and its
    schedule are the service's state, not the monitor's configuration."""
    return first.model_dump(exclude=_NOT_CONFIG) == second.model_dump(exclude=_NOT_CONFIG)


class MonitorSpec(BaseModel):
    """The body of ``PUT /v1/drift/judges/{monitor_id}``: the anchor set, what answers it, the judge that re-scores
    it, how often, and when a move is drift."""

    model_config = ConfigDict(extra="forbid")

    app: str = Field(min_length=1, max_length=256, description="The application the judge serves (alert scope)")
    dataset: _Slug = Field(description="The anchor set: an evaluation dataset of the tenant")
    dataset_version: int = Field(
        strict=True, ge=1, le=2**31 - 1, description="Pinned, so the same items are scored each time"
    )
    variant: RunVariant = Field(description="What answers the items: a deterministic route keeps the answers fixed")
    judge: RunEvaluator = Field(description="The judge evaluator (kind and parameters), pinned by the monitor")
    interval_s: int = Field(
        strict=True, default=86_400, ge=60, le=30 * 86_400, description="How often the set is re-scored"
    )
    min_items: int = Field(strict=True, default=10, ge=5, le=10_000, description="Fewer paired items: no verdict")
    min_shift: float = Field(
        strict=True, default=0.1, ge=0, le=1e12, description="Smallest absolute mean shift called drift"
    )
    alpha: float = Field(strict=True, default=0.01, gt=0, lt=0.5, description="The paired test's false-positive rate")
    baseline_run_id: _Slug | None = Field(default=None, description="Pin a completed run (default: the first run)")


class MonitorRegistry:
    """Reads from the store; writes through the topic with an audit entry in the same batch."""

    def __init__(
        self,
        store: MonitorStore,
        publisher: EventPublisher,
        *,
        source: str,
        max_per_tenant: int,
        publish_timeout_s: float = 15.0,
        retry_after_s: int = 5,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self._publisher = publisher
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source, self._max, self._timeout_s = source, max_per_tenant, publish_timeout_s
        self._retry_after_s, self._clock = retry_after_s, clock

    def _loaded(self) -> MonitorStore:
        if not self.store.caught_up:
            raise ProblemError(503, "Service Unavailable", "the monitors are loading", retry_after=self._retry_after_s)
        return self.store

    def of(self, tenant: str) -> list[JudgeMonitorConfigured]:
        return self._loaded().of(tenant)

    def get(self, tenant: str, monitor_id: str) -> JudgeMonitorConfigured:
        """One monitor; 404 when the tenant has none by that id."""
        found = self._loaded().get(tenant, monitor_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"no judge monitor {monitor_id!r}")
        return found

    async def put(
        self, tenant: str, monitor_id: str, spec: MonitorSpec, actor: Actor
    ) -> tuple[JudgeMonitorConfigured, bool]:
        """Create or replace a monitor (and whether it is new); 409 past the tenant's limit. Audited."""
        existing = self._loaded().get(tenant, monitor_id)
        if existing is None and len(self.store.of(tenant)) >= self._max:
            raise ProblemError(409, "Conflict", f"the tenant already has {self._max} judge monitors (the limit)")
        if spec.variant.model is None:
            raise ProblemError(422, "Unprocessable Content", "the variant needs a model (the evaluation's runs do)")
        monitor = JudgeMonitorConfigured(
            monitor_id=monitor_id, updated_by=actor.id, updated_at=self._clock(), **spec.model_dump()
        )
        action = "judge_monitor.create" if existing is None else "judge_monitor.update"
        await self._publish(tenant, monitor, actor, action, spec.model_dump(mode="json"))
        return monitor, existing is None

    async def delete(self, tenant: str, monitor_id: str, actor: Actor) -> None:
        """Remove a monitor (404 when none); audited."""
        current = self.get(tenant, monitor_id)
        marker = current.model_copy(update={"deleted": True, "updated_by": actor.id, "updated_at": self._clock()})
        await self._publish(tenant, marker, actor, "judge_monitor.delete", {})

    async def set_baseline(self, tenant: str, monitor: JudgeMonitorConfigured, run_id: str) -> JudgeMonitorConfigured:
        """The monitor with its first completed run as its baseline, published unless it changed meanwhile."""
        current = self.store.get(tenant, monitor.monitor_id)
        if current is None or not same_config(current, monitor):
            return current or monitor  # removed or replaced while the run ran: leave the newer state alone
        update = {"baseline_run_id": run_id, "run_in_flight": None, "updated_at": self._clock()}
        return await self._system_write(tenant, current.model_copy(update=update))

    async def schedule(
        self, tenant: str, monitor: JudgeMonitorConfigured, next_check_at: datetime | None, run_in_flight: str | None
    ) -> JudgeMonitorConfigured | None:
        """The monitor with its schedule (docs/adr/0058), published unless it was removed or replaced meanwhile;
        its configuration and ``updated_at`` stay as they are (the schedule is not an administrator's change)."""
        current = self.store.get(tenant, monitor.monitor_id)
        if current is None or not same_config(current, monitor):
            return None
        update = {"next_check_at": next_check_at, "run_in_flight": run_in_flight}
        return await self._system_write(tenant, current.model_copy(update=update))

    async def request_check(self, tenant: str, monitor: JudgeMonitorConfigured, now: datetime) -> None:
        """Ask the replica that checks the monitor to check it now (its next check due ``now``); 503 when Kafka
        does not take it."""
        try:
            await self.schedule(tenant, monitor, now, monitor.run_in_flight)
        except _UNAVAILABLE as exc:
            detail = f"the check could not be requested: {type(exc).__name__}"
            raise ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s) from exc

    async def _system_write(self, tenant: str, updated: JudgeMonitorConfigured) -> JudgeMonitorConfigured:
        """The service's own write of a monitor (no caller, so no audit entry), applied once Kafka has it."""
        event = CloudEvent.wrap(updated, source=self._source, tenant_id=tenant, subject=updated.monitor_id)
        await asyncio.wait_for(self._publisher.publish_many([event]), self._timeout_s)
        self.store.put(tenant, updated)
        return updated

    async def _publish(
        self, tenant: str, monitor: JudgeMonitorConfigured, actor: Actor, action: str, details: dict[str, Any]
    ) -> None:
        event = CloudEvent.wrap(
            monitor, source=self._source, tenant_id=tenant, subject=monitor.monitor_id, key_id=actor.key_id
        )
        audited = self._audit.publish_with(
            tenant, actor, action=action, resource=("judge_monitor", monitor.monitor_id), details=details,
            events=[event],
        )  # fmt: skip
        try:
            await asyncio.wait_for(audited, self._timeout_s)
        except _UNAVAILABLE as exc:
            detail = f"the monitor could not be stored: {type(exc).__name__}"
            raise ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s) from exc
        self.store.put(tenant, monitor)
