"""The materialised view of ``llmops.evaluations.replays``: every tenant's replays, each at its last checkpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from llmops_kit.kafka.materializer import CompactedStore
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import ReplayCheckpointed

__all__ = ["ReplayStore"]


class ReplayStore(CompactedStore):
    """Replays by tenant and id; fed by the materialiser and by the replays' own checkpoints."""

    topic = ReplayCheckpointed.topic

    def __init__(self) -> None:
        super().__init__()
        self._replays: dict[tuple[str, str], ReplayCheckpointed] = {}
        self.loaded = asyncio.Event()
        """Set once the topic is read up to where it was at start (what a replica resumes from)."""

    def mark_caught_up(self) -> None:
        super().mark_caught_up()
        self.loaded.set()

    def apply(self, event: CloudEvent[Any]) -> None:
        """Fold one checkpoint in (other types are ignored)."""
        if isinstance(event.data, ReplayCheckpointed):
            self.put(event.tenant_id, event.data)

    def put(self, tenant: str, state: ReplayCheckpointed) -> None:
        """Keep ``state`` unless a later checkpoint of the replay is already here (the materialiser may deliver
        a replay's own earlier record after the replay stored a newer one locally)."""
        key = (tenant, state.replay_id)
        current = self._replays.get(key)
        if current is None or state.updated_at >= current.updated_at:
            self._replays[key] = state

    def delete(self, key: str) -> None:
        """Apply a tombstone keyed ``<tenant>:<replay_id>``."""
        tenant, _, replay_id = key.partition(":")
        self._replays.pop((tenant, replay_id), None)

    def get(self, tenant: str, replay_id: str) -> ReplayCheckpointed | None:
        return self._replays.get((tenant, replay_id))

    def replays(self, tenant: str) -> list[ReplayCheckpointed]:
        """The tenant's replays, newest first."""
        found = [s for (t, _), s in self._replays.items() if t == tenant]
        return sorted(found, key=lambda s: s.created_at, reverse=True)

    def running(self) -> list[tuple[str, ReplayCheckpointed]]:
        """Every tenant's unfinished replays (what a replica resumes at start)."""
        return [(t, s) for (t, _), s in self._replays.items() if s.status == "running"]
