"""Judge drift (docs/drift.md#judge-drift, docs/adr/0051): per tenant, monitors that re-score a pinned anchor set
with a pinned judge through the evaluation service's offline runs and report when the judge's scores move."""

from llmops_drift_detection.judges.monitors import MonitorRegistry, MonitorSpec, MonitorStore
from llmops_drift_detection.judges.scheduler import JudgeScheduler
from llmops_drift_detection.judges.settings import JudgeSettings

__all__ = ["JudgeScheduler", "JudgeSettings", "MonitorRegistry", "MonitorSpec", "MonitorStore"]
