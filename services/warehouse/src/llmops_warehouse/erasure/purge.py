"""By when an erased subject is physically gone: the purge deadline of a receipt (docs/adr/0043).

Lightweight deletes hide rows at once; the parts holding them are rewritten by ``APPLY DELETED MASK`` in the
background, which the merge bound covers (``WAREHOUSE_ERASURE_MERGE_BOUND_S``). Kafka keeps its own copies until
retention deletes their segments: the bound adds the longest retention among the delete topics that carried the
subject's data into the tables it had rows in, the calls' topics and the request topic itself (read from the
topic catalog, ``infra/kafka/topics.yaml``). Compacted topics have no retention: the services that own them
tombstone the subject's records, with receipts of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from llmops_kit.kafka.topics import TopicCatalog
from llmops_schemas.v2 import CallRecorded, ErasureRequested

from llmops_warehouse.tables import TABLES, EventTable

__all__ = ["PurgeBound"]

_CALL_TOPICS = ("llmops.calls.raw", CallRecorded.topic)


@dataclass(frozen=True)
class PurgeBound:
    """The merge bound plus, per table, the retention of the delete topic it is filled from (ms)."""

    merge: timedelta
    retention_ms: Mapping[str, int]
    always_ms: int

    @classmethod
    def of(cls, catalog: TopicCatalog, merge: timedelta, tables: Sequence[EventTable] = TABLES) -> PurgeBound:
        """The bound from the catalog: each table's topic's retention; the calls' and the requests' always."""

        def retention(topic: str) -> int:
            spec = catalog.get(topic)
            return max(spec.retention or 0, 0)  # compacted: tombstoned by its owner; -1 (infinite): not a bound

        per_table = {t.name: retention(t.topic) for t in tables}
        always = max(retention(topic) for topic in (*_CALL_TOPICS, ErasureRequested.topic))
        return cls(merge, per_table, always)

    def bound(self, counts: Mapping[str, int]) -> timedelta:
        """How long after the erasure every copy is gone, given what it erased per table."""
        kafka = max([self.always_ms, *(self.retention_ms.get(t, 0) for t, n in counts.items() if n)])
        return self.merge + timedelta(milliseconds=kafka)
