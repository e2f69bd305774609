"""Which tables a retention policy's ``dataset`` covers, and how long each table keeps rows by default.

A tenant's ``retention`` policy names a data set (``RetentionSettings.dataset``), not a table: a data set is
the tables that hold one kind of data, so a policy means the same thing when a table is split or added.
Every table the warehouse writes rows into belongs to exactly one data set (a unit test checks it against
:data:`llmops_warehouse.tables.TABLES`); the per-minute rollup ``calls_per_minute`` holds counts only, no
content, and keeps its own table TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "DATASETS",
    "DEFAULT_DAYS",
    "MAX_EXPIRY_S",
    "TABLE_DATASET",
    "dataset_of",
    "default_days",
    "time_column",
]

DATASETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "calls": ("calls",),
        "evaluations": ("evaluation_scores", "runs"),
        "feedback": ("feedback", "review_items"),
        "datasets": ("dataset_examples", "dataset_versions"),
        "costs": ("cost_records", "budget_events"),
        "drift": ("drift_reports",),
        "alerts": ("alerts",),
        "audit": ("audit_records", "audit_chain", "audit_digests", "api_keys", "erasure_requests", "erasure_receipts"),
        "config": (
            "evaluator_configs", "budget_configs", "prices", "prompt_versions", "prompt_label_moves", "experiments",
            "policies", "review_queues", "verdict_policies",
        ),
    }
)  # fmt: skip
"""Data set name (what a policy's ``dataset`` says) -> the tables it covers."""

TABLE_DATASET: Mapping[str, str] = MappingProxyType(
    {table: dataset for dataset, tables in DATASETS.items() for table in tables}
)

DEFAULT_DAYS: Mapping[str, int] = MappingProxyType({table: 90 if table == "calls" else 400 for table in TABLE_DATASET})
"""The retention of a table for a tenant without a policy for its data set: the table TTLs before migration
0023 (calls 90 days, everything else 400, the audit trail's). ``WAREHOUSE_RETENTION_DAYS`` overrides them."""

MAX_EXPIRY_S = 2**32 - 1
"""The last second a ClickHouse ``DateTime`` holds (2106-02-07): a longer retention is kept until then."""

_TIME_COLUMNS = {"calls": "started_at"}


def dataset_of(table: str) -> str | None:
    """The data set ``table`` belongs to, or None for a table without per-tenant retention."""
    return TABLE_DATASET.get(table)


def default_days(table: str, overrides: Mapping[str, int]) -> int:
    """``table``'s retention for a tenant without a policy: the configured override, else :data:`DEFAULT_DAYS`."""
    return overrides.get(table, DEFAULT_DAYS[table])


def time_column(table: str) -> str:
    """The column a row's age is counted from (the event's time, not when the warehouse stored it)."""
    return _TIME_COLUMNS.get(table, "time")
