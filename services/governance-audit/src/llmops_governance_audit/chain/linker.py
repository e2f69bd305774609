"""Pure: a batch of audit entries in, their chained entries and the tenants' new heads out.

Deterministic on purpose: an entry's chained record (its event id, time and content) depends only on the head
it follows and on the entry itself. Re-linking a batch after a crash between the publish and the offset commit
gives byte-identical records under the same ids, which the warehouse folds and the verifier takes for the
redelivery they are; records at or before the head's source offset are skipped as chained already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmops_kit.kafka.messages import Delivery
from llmops_schemas import CloudEvent
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.v1 import GENESIS_HASH, AuditChained, AuditChainHead
from llmops_schemas.v2 import AuditRecorded

__all__ = ["Linked", "link_batch"]

HeadOf = Callable[[str], AuditChainHead | None]


@dataclass(slots=True)
class Linked:
    """What one batch adds: the chained entries in order, and the head of every tenant it touched."""

    chained: list[CloudEvent[AuditChained]] = field(default_factory=list)
    heads: dict[str, AuditChainHead] = field(default_factory=dict)

    def events(self, source: str) -> list[CloudEvent[Any]]:
        """The chained entries, then the heads: published in this order, so a head never runs ahead."""
        heads = [CloudEvent.wrap(head, source=source, tenant_id=tenant) for tenant, head in self.heads.items()]
        return [*self.chained, *heads]


def link_batch(head_of: HeadOf, deliveries: Sequence[Delivery[CloudEvent[Any]]], *, source: str) -> Linked:
    """Chain every audit entry of ``deliveries`` after its tenant's head (``head_of``); see the module docstring."""
    linked = Linked()
    for delivery in deliveries:
        event, message = delivery.item, delivery.message
        if not isinstance(event.data, AuditRecorded):
            continue
        tenant = event.tenant_id
        head = linked.heads.get(tenant) or head_of(tenant)
        if head is not None and head.source_partition == message.partition and message.offset <= head.source_offset:
            continue  # chained before a restart: the offset commit did not happen, the publish did
        chained, linked.heads[tenant] = _link(head, event, message.partition, message.offset, source)
        linked.chained.append(chained)
    return linked


def _link(
    head: AuditChainHead | None, event: CloudEvent[AuditRecorded], partition: int, offset: int, source: str
) -> tuple[CloudEvent[AuditChained], AuditChainHead]:
    sequence = head.next_sequence if head else 0
    prev_hash = head.hash if head else GENESIS_HASH
    tenant = event.tenant_id
    payload = AuditChained.link(
        prev_hash, tenant_id=tenant, sequence=sequence, record_id=event.id, source=event.source,
        record=event.data.model_dump(mode="json", exclude_defaults=True),
    )  # fmt: skip
    event_id = deterministic_uuid7(int(event.time.timestamp() * 1000), tenant, "audit.chain", str(sequence))
    chained = CloudEvent.wrap(
        payload, source=source, tenant_id=tenant, event_id=event_id, subject=str(sequence), key_id=event.key_id,
        trace_id=event.trace_id,
    ).model_copy(update={"time": event.time})  # fmt: skip
    after = AuditChainHead(
        next_sequence=sequence + 1, hash=payload.hash, source_partition=partition, source_offset=offset,
        next_digest=head.next_digest if head else 0, digested_through=head.digested_through if head else -1,
        updated_at=event.time,
    )  # fmt: skip
    return chained, after
