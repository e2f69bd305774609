"""Each tenant's chain head, materialised from the compacted ``llmops.audit.heads`` topic."""

from __future__ import annotations

from typing import Any

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import AuditChainHead

__all__ = ["ChainHeads"]


class ChainHeads(CompactedStore):
    """The latest :class:`AuditChainHead` per tenant; the writer updates it after each publish it made."""

    topic = AuditChainHead.topic

    def __init__(self) -> None:
        super().__init__()
        self._heads: dict[str, AuditChainHead] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, AuditChainHead):
            self.put(event.tenant_id, event.data)

    def delete(self, key: str) -> None:
        self._heads.pop(key.split(":", 1)[0], None)

    def get(self, tenant: str) -> AuditChainHead | None:
        """The tenant's head, or None before its first entry."""
        return self._heads.get(tenant)

    def put(self, tenant: str, head: AuditChainHead) -> None:
        """Keep ``head`` unless the one held is further along (a replayed older record never moves it back)."""
        held = self._heads.get(tenant)
        if held is None or (head.next_sequence, head.next_digest) >= (held.next_sequence, held.next_digest):
            self._heads[tenant] = head

    def tenants(self) -> list[str]:
        """Every tenant with a chain."""
        return list(self._heads)
