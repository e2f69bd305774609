"""The chain's one writer: audit entries to chained entries (exactly once), and signed digests on a timer.

``handle`` is the batch handler of the ``llmops.audit.records`` consumer: it links the batch
(:func:`~.linker.link_batch`), publishes the chained entries and then the new heads, and only then returns, so the
consumer commits the offsets after the publish; a crash in between re-links the same records into the same
records (see :mod:`.linker`). ``sign_due`` signs, per tenant with entries after its last digest, the last
sequence and hash, and publishes the digest with the head that remembers it. Both hold one lock, so a digest
never signs a head that a publish in flight is moving. Before each batch the heads must have caught up with their
topic as it is then (``synced``), so a replica that took over a partition never chains from a stale head.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from llmops_kit.audit_digests import DigestSigner
from llmops_kit.errors import TransientError
from llmops_kit.kafka.messages import Delivery
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.tasks import cancel_and_wait
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditChainHead

from llmops_governance_audit.chain.heads import ChainHeads
from llmops_governance_audit.chain.linker import link_batch

__all__ = ["ChainWriter"]

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ChainWriter:
    """Links audit entries into each tenant's chain and signs digests of it (a lifespan component)."""

    def __init__(
        self, heads: ChainHeads, publisher: EventPublisher, signer: DigestSigner | None, *, source: str,
        digest_interval_s: float = 60.0, clock: Callable[[], datetime] = _now,
        synced: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:  # fmt: skip
        self._heads = heads
        self._publisher = publisher
        self._signer = signer
        self._source = source
        self._interval_s = digest_interval_s
        self._clock = clock
        self._synced = synced
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.chained = 0
        self.digests = 0

    async def handle(self, deliveries: Sequence[Delivery[CloudEvent[Any]]]) -> None:
        """Chain a batch; returns once the chained entries and heads are acknowledged (then commit)."""
        if not self._heads.caught_up:
            raise TransientError("the audit chain heads are still loading")  # chaining now would fork a chain
        if self._synced is not None and not await self._synced():
            # After a rebalance the previous owner's last heads may still be on their way to this replica.
            raise TransientError("the audit chain heads are behind their topic")
        async with self._lock:
            linked = link_batch(self._heads.get, deliveries, source=self._source)
            if not linked.chained:
                return
            await self._publish(linked.events(self._source))
            for tenant, head in linked.heads.items():
                self._heads.put(tenant, head)
            self.chained += len(linked.chained)

    async def sign_due(self) -> int:
        """Sign a digest for every tenant with entries after its last digest; returns how many were signed."""
        signer = self._signer
        if signer is None or not self._heads.caught_up:
            return 0
        async with self._lock:
            due = [(tenant, self._due(tenant)) for tenant in self._heads.tenants()]
            signed = [self._digest(signer, tenant, head) for tenant, head in due if head is not None]
            if not signed:
                return 0
            await self._publish([event for pair in signed for event in pair])
            for _, moved in signed:
                self._heads.put(moved.tenant_id, moved.data)
            self.digests += len(signed)
            return len(signed)

    def _due(self, tenant: str) -> AuditChainHead | None:
        head = self._heads.get(tenant)
        return head if head is not None and head.next_sequence - 1 > head.digested_through else None

    def _digest(
        self, signer: DigestSigner, tenant: str, head: AuditChainHead
    ) -> tuple[CloudEvent[Any], CloudEvent[AuditChainHead]]:
        now = self._clock()
        digest = signer.sign(
            tenant, digest_number=head.next_digest, first_sequence=head.digested_through + 1,
            last_sequence=head.next_sequence - 1, last_hash=head.hash, signed_at=now,
        )  # fmt: skip
        after = head.model_copy(
            update={"next_digest": head.next_digest + 1, "digested_through": head.next_sequence - 1, "updated_at": now}
        )
        return (
            CloudEvent.wrap(digest, source=self._source, tenant_id=tenant, subject=str(digest.digest_number)),
            CloudEvent.wrap(after, source=self._source, tenant_id=tenant),
        )

    async def _publish(self, events: list[CloudEvent[Any]]) -> None:
        try:
            await self._publisher.publish_many(events)
        except KafkaError as exc:
            raise TransientError(f"publishing the audit chain failed: {exc}") from exc

    async def start(self) -> None:
        if self._signer is None:
            log.warning("no GOVERNANCE_AUDIT_SIGNING_KEY: the audit chain is written without signed digests")
        self._task = asyncio.create_task(self._sign_periodically(), name="audit-chain-digests")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    async def _sign_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)  # the cadence of digests, not a wait for a condition
            try:
                await self.sign_due()
            except TransientError as exc:
                log.warning("signing audit digests failed, retrying next period: %s", exc)
