"""Dataset versions: created from an upload or from stored calls, published (examples, then the manifest) with
the audit entry in one batch, then applied locally. Reads answer 503 until the store caught up with the topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka.errors import KafkaError
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.errors import TransientError
from llmops_kit.http.problems import ProblemError
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.platform_client import PlatformCallError, WarehouseReader
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1.runs import DatasetExampleAdded, DatasetVersionCreated
from pydantic import JsonValue, ValidationError

from llmops_evaluation.runs.parsing import ExampleIn, ParsedDataset, add_example, dataset_digest
from llmops_evaluation.runs.stores import DatasetStore, DatasetVersion

__all__ = ["DatasetLimits", "DatasetRegistry", "example_of_call"]

_UNAVAILABLE = (KafkaError, TransientError, TimeoutError, ConnectionError)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DatasetLimits:
    """The bounds of datasets (examples per version, versions per dataset, datasets per tenant: every replica
    holds them all in memory), and how long a write waits for Kafka."""

    max_examples: int = 5_000
    publish_timeout_s: float = 15.0
    retry_after_s: int = 5
    max_versions: int = 100
    max_datasets: int = 200


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def example_of_call(call: dict[str, Any], *, expected_from_output: bool) -> ExampleIn:
    """A stored call (``GET /v1/calls`` item) as an example: its last user message, optionally its answer, and
    the call's id (``source_call_id``: a review queue reads it back through the warehouse)."""
    users = [m for m in call.get("messages", []) if m.get("role") == "user"]
    output = call.get("output") if expected_from_output else None
    return ExampleIn(
        id=None,
        input=_text_of(users[-1].get("content")) if users else "",
        expected=output or None,
        tags=[f"call:{call['call_id']}"[:128], f"model:{call.get('model', '')}"[:128]],
        source_call_id=call["call_id"],
    )


class DatasetRegistry:
    """Every tenant's datasets: reads from the store, new versions through the topic."""

    def __init__(
        self,
        store: DatasetStore,
        publisher: EventPublisher,
        *,
        source: str = "/services/evaluation",
        limits: DatasetLimits | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._audit = AuditTrail(publisher, source=source, clock=clock)
        self._source = source
        self.limits = limits or DatasetLimits()
        self._clock = clock
        self._lock = asyncio.Lock()

    def loaded(self) -> DatasetStore:
        """The store, or 503 while it is still loading the topic."""
        if not self._store.caught_up:
            raise ProblemError(
                503, "Service Unavailable", "the datasets are still loading", retry_after=self.limits.retry_after_s
            )
        return self._store

    def get(self, tenant: str, name: str, version: int | None = None) -> DatasetVersion:
        """One complete version (None: the latest); 404 when there is none."""
        found = self.loaded().get(tenant, name, version)
        if found is None:
            which = f"version {version} of " if version is not None else ""
            raise ProblemError(404, "Not Found", f"no {which}dataset {name!r}")
        return found

    async def create(
        self,
        tenant: str,
        name: str,
        parsed: ParsedDataset,
        actor: Actor,
        *,
        source: Literal["upload", "calls"] = "upload",
        filter: dict[str, JsonValue] | None = None,
        description: str | None = None,
    ) -> DatasetVersionCreated:
        """A new version of ``name`` with the parsed examples (422 when there are none), audited."""
        if not parsed.examples:
            raise ProblemError(422, "Unprocessable Content", "no valid example: nothing to import", errors=[])
        async with self._lock:
            store = self.loaded()
            self._check_room(store, tenant, name)
            version, digest = store.next_version(tenant, name), dataset_digest(parsed.examples)
            examples = [self._example(tenant, name, version, digest, i, e) for i, e in enumerate(parsed.examples)]
            manifest = DatasetVersionCreated(
                name=name,
                version=version,
                digest=digest,
                examples=len(examples),
                source=source,
                filter=filter,
                description=description,
                created_at=self._clock(),
            )
            events = [*examples, self._wrap(tenant, manifest, f"{name}:{version}")]
            await self._publish(tenant, actor, manifest, events)
            for event in events:
                store.apply(event)
            return manifest

    def _check_room(self, store: DatasetStore, tenant: str, name: str) -> None:
        """409 when ``name`` has as many versions, or the tenant as many datasets, as the limits allow."""
        if store.next_version(tenant, name) > self.limits.max_versions:
            raise ProblemError(409, "Conflict", f"dataset {name!r} has {self.limits.max_versions} versions (the limit)")
        if store.next_version(tenant, name) == 1 and len(store.names(tenant)) >= self.limits.max_datasets:
            raise ProblemError(409, "Conflict", f"the tenant has {self.limits.max_datasets} datasets (the limit)")

    async def from_calls(
        self, reader: WarehouseReader, tenant: str, filters: dict[str, Any], *, limit: int, expected_from_output: bool
    ) -> ParsedDataset:
        """Examples from the tenant's stored calls matching ``filters`` (newest first, at most ``limit``)."""
        parsed, seen = ParsedDataset(), set[str]()
        taken = 0  # the "line" of a call is its position in the selection, as the answer reports it
        try:
            async for call in reader.calls(tenant, **filters):
                if len(parsed.examples) >= min(limit, self.limits.max_examples):
                    break
                taken += 1
                try:
                    example = example_of_call(call, expected_from_output=expected_from_output)
                except ValidationError:
                    parsed.refuse(taken, f"call {call.get('call_id')} has no user message to use as the input")
                    continue
                add_example(parsed, seen, taken, example)
        except PlatformCallError as exc:
            status = 503 if exc.retryable else 502
            raise ProblemError(status, "Bad Gateway" if status == 502 else "Service Unavailable", str(exc)) from exc
        return parsed

    def _wrap(self, tenant: str, payload: Any, subject: str) -> CloudEvent[Any]:
        return CloudEvent.wrap(payload, source=self._source, tenant_id=tenant, subject=subject)

    def _example(
        self, tenant: str, name: str, version: int, digest: str, position: int, item: tuple[str, ExampleIn]
    ) -> CloudEvent[DatasetExampleAdded]:
        example_id, example = item
        payload = DatasetExampleAdded(
            dataset=name,
            version=version,
            digest=digest,
            example_id=example_id,
            position=position,
            **example.model_dump(exclude={"id"}),
        )
        return self._wrap(tenant, payload, f"{name}:{version}")

    async def _publish(
        self, tenant: str, actor: Actor, manifest: DatasetVersionCreated, events: list[CloudEvent[Any]]
    ) -> None:
        details: dict[str, JsonValue] = {"version": manifest.version, "examples": manifest.examples,
                                         "digest": manifest.digest, "source": manifest.source}  # fmt: skip
        audited = self._audit.publish_with(
            tenant, actor, action="dataset.create", resource=("dataset", manifest.name), details=details, events=events
        )
        try:
            await asyncio.wait_for(audited, self.limits.publish_timeout_s)
        except _UNAVAILABLE as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                f"the dataset could not be stored: {type(exc).__name__}",
                retry_after=self.limits.retry_after_s,
            ) from exc
