"""Each row's ``expires_at``: its time plus its tenant's retention of its table, stamped at insert.

Every table of :data:`~llmops_warehouse.retention.mapping.DATASETS` has an ``expires_at DateTime`` column and
``TTL expires_at DELETE`` (migration 0023): the TTL is per table, the retention per row. A row inserted
without it (another writer, or a store built without :class:`Retention`) gets the column's default, the
table's default retention.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmops_kit.errors import TransientError

from llmops_warehouse.retention.mapping import (
    DATASETS,
    MAX_EXPIRY_S,
    TABLE_DATASET,
    dataset_of,
    default_days,
    time_column,
)
from llmops_warehouse.retention.policies import RetentionPolicies

__all__ = ["EXPIRES_AT", "Retention", "TableRetention", "expiry_s"]

EXPIRES_AT = "expires_at"
_DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class TableRetention:
    """How long one table keeps one tenant's rows, and what decided it."""

    table: str
    dataset: str
    days: int
    source: Literal["policy", "default"]
    policy_id: str | None = None


def expiry_s(time_ms: int, days: int) -> int:
    """The second a row of time ``time_ms`` expires after ``days``, capped at the last ``DateTime`` second."""
    return min(time_ms // 1000 + days * _DAY_S, MAX_EXPIRY_S)


class Retention:
    """The retention in force: the tenants' policies (None: defaults only) over the per-table defaults."""

    def __init__(self, policies: RetentionPolicies | None = None, defaults: Mapping[str, int] | None = None) -> None:
        unknown = set(defaults or {}) - TABLE_DATASET.keys()
        if unknown:
            raise ValueError(f"no retention for tables {sorted(unknown)}; tables: {', '.join(sorted(TABLE_DATASET))}")
        self.policies = policies
        self._defaults = dict(defaults or {})

    def table(self, tenant_id: str, table: str) -> TableRetention:
        """``table``'s retention for ``tenant_id`` (``table`` must have one: :func:`dataset_of`)."""
        dataset = TABLE_DATASET[table]
        policy = None if self.policies is None else self.policies.effective(tenant_id).get(dataset)
        if policy is None:
            return TableRetention(table, dataset, default_days(table, self._defaults), "default")
        return TableRetention(table, dataset, policy.days, "policy", policy.policy_id)

    def tenant(self, tenant_id: str) -> list[TableRetention]:
        """Every table's retention for ``tenant_id``, by data set then table."""
        return [self.table(tenant_id, t) for dataset in sorted(DATASETS) for t in DATASETS[dataset]]

    def stamp(
        self, table: str, columns: Sequence[str], data: list[Any], column_oriented: bool
    ) -> tuple[list[str], Any]:
        """``columns`` and ``data`` of an insert into ``table`` with ``expires_at`` added (unchanged for a table
        without retention). Raises ``TransientError`` until the policies are materialised: a row stamped with a
        default would outlive (or precede) the tenant's policy."""
        if dataset_of(table) is None:
            return list(columns), data
        if self.policies is not None and not self.policies.caught_up:
            raise TransientError("retention policies are not materialised yet (llmops.policies)")
        tenant_at, time_at = columns.index("tenant_id"), columns.index(time_column(table))
        days: dict[str, int] = {}

        def expiry(tenant_id: str, time_ms: int) -> int:
            if tenant_id not in days:
                days[tenant_id] = self.table(tenant_id, table).days
            return expiry_s(time_ms, days[tenant_id])

        if column_oriented:
            expires = [expiry(t, ms) for t, ms in zip(data[tenant_at], data[time_at], strict=True)]
            return [*columns, EXPIRES_AT], [*data, expires]
        return [*columns, EXPIRES_AT], [[*row, expiry(row[tenant_at], row[time_at])] for row in data]
