"""The drift engine shared by the drift-detection service and `llmops drift check` (docs/drift.md).

``check(reference, current)`` compares two datasets given as columns (feature name -> values) and returns a
``DriftReport``: per feature its kind's test, a Benjamini-Hochberg corrected verdict, and the dataset verdict.
"""

from llmops_drift.columns import Kind, infer_kind
from llmops_drift.config import DriftConfig
from llmops_drift.engine import DATASET_RULE, DriftReport, FeatureResult, check
from llmops_drift.records import columns_of, flatten_call_record, is_call_record

__all__ = [
    "DATASET_RULE",
    "DriftConfig",
    "DriftReport",
    "FeatureResult",
    "Kind",
    "check",
    "columns_of",
    "flatten_call_record",
    "infer_kind",
    "is_call_record",
]
