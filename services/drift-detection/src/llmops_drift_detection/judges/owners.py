"""Which judge monitors this replica checks, and their schedule as the partition's records say (docs/adr/0058).

The replicas that run checks join a consumer group on ``llmops.drift.judges`` (the kit's
:class:`~llmops_kit.kafka.ownership.PartitionOwnership`, as the cost service's threshold events): the topic is
keyed ``<tenant>:<monitor_id>``, so each monitor has one partition and each partition one owner at a time, and a
monitor is checked by the owner of its partition only. The owner reads the partition from its beginning before it
owns it, and keeps reading it, so :meth:`MonitorOwners.schedule` is the latest schedule written there (by this
replica, an earlier owner, or a replica that was asked to check the monitor now), never an older one the
monitors' store may still hold. Without a group (:class:`MonitorOwners` of ``None``: one replica, the unit
tests) every monitor is owned and its schedule is the monitor's record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from llmops_kit.kafka.ownership import PartitionOwnership
from llmops_schemas.registry import EventValidationError, parse_event
from llmops_schemas.v1 import JudgeMonitorConfigured

__all__ = ["MonitorOwners", "Schedule"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """A monitor's persisted schedule: when its next check is due (None: now) and the run it waits for."""

    next_check_at: datetime | None = None
    run_in_flight: str | None = None


class MonitorOwners:
    """The monitors of the partitions this replica owns (all of them without a group) and their schedules."""

    def __init__(self, ownership: PartitionOwnership | None = None) -> None:
        self.ownership = ownership
        self._schedules: dict[tuple[str, str], Schedule] = {}
        if ownership is not None:
            ownership.on_record = self.record

    def owns(self, tenant: str, monitor_id: str) -> bool:
        return self.ownership is None or self.ownership.owns_key(f"{tenant}:{monitor_id}".encode())

    def schedule(self, tenant: str, monitor: JudgeMonitorConfigured) -> Schedule:
        """The monitor's latest schedule on its partition (its record's without a group)."""
        if self.ownership is None:
            return Schedule(monitor.next_check_at, monitor.run_in_flight)
        return self._schedules.get((tenant, monitor.monitor_id), Schedule())

    def record(self, _key: bytes | None, value: bytes | None) -> None:
        """A record of an owned partition, in the partition's order (a tombstone or a foreign record ignored)."""
        if value is None:
            return
        try:
            event = parse_event(value)
        except EventValidationError as exc:
            log.warning("ignoring an invalid judge monitor record: %s", exc)
            return
        if isinstance(event.data, JudgeMonitorConfigured):
            key = (event.tenant_id, event.data.monitor_id)
            if event.data.deleted:
                self._schedules.pop(key, None)
            else:
                self._schedules[key] = Schedule(event.data.next_check_at, event.data.run_in_flight)
