"""A tenant's judge-drift monitor: an anchor set the drift-detection service re-scores with a pinned judge."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from llmops_schemas.v1.common import CompactedPayload, Identifier, Name, NonNegativeScore, Slug
from llmops_schemas.v1.runs import RunEvaluator, RunVariant

__all__ = ["JudgeMonitorConfigured"]


class JudgeMonitorConfigured(CompactedPayload):
    """One judge-drift monitor (compacted: the latest record per monitor wins; docs/drift.md#judge-drift).

    Every ``interval_s`` the drift-detection service starts an offline run of the evaluation service over the
    anchor set (``dataset`` at ``dataset_version``, answered by ``variant``) scored by ``judge`` alone, and pairs
    each item's score with the baseline run's. ``baseline_run_id`` is the first completed run unless pinned
    when the monitor is created; the service publishes the monitor again with it once it has one. ``deleted``
    removes the monitor (a record, not a tombstone, so the history says when). ``next_check_at`` and
    ``run_in_flight`` are the schedule, written by the one replica that checks the monitor (the owner of its
    partition, docs/adr/0058), so a restart or a new owner resumes it rather than checking every monitor at once.
    """

    event_type: ClassVar[str] = "llmops.drift.judge_monitor.v1"
    topic: ClassVar[str] = "llmops.drift.judges"

    monitor_id: Slug
    app: Name = Field(description="The application the judge serves: the drift report's (and its alert's) app")
    dataset: Slug = Field(description="The anchor set: an evaluation dataset of the tenant")
    dataset_version: int = Field(ge=1, le=2**31 - 1, description="Pinned: the same items every time")
    variant: RunVariant = Field(description="What answers the anchor items (a deterministic route keeps them fixed)")
    judge: RunEvaluator = Field(description="The judge evaluator's configuration, pinned by the monitor")
    interval_s: int = Field(ge=60, le=30 * 86_400, description="How often the anchor set is re-scored")
    min_items: int = Field(default=10, ge=5, le=10_000, description="Fewer paired items: no verdict")
    min_shift: NonNegativeScore = Field(default=0.1, description="The smallest absolute mean shift called drift")
    alpha: float = Field(default=0.01, gt=0, lt=0.5, description="The paired test's false-positive rate")
    baseline_run_id: Identifier | None = Field(default=None, description="The run every later run is paired with")
    deleted: bool = Field(default=False, description="True removes the monitor")
    next_check_at: AwareDatetime | None = Field(
        default=None, description="When the next check is due (written by the replica that checks it; null: now)"
    )
    run_in_flight: Identifier | None = Field(
        default=None, description="The run a check started and has not seen finish: the next check waits for it"
    )
    updated_by: Identifier
    updated_at: AwareDatetime

    def entity_key(self) -> str:
        return self.monitor_id
