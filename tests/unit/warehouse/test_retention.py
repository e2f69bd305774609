"""Retention per table and per tenant: the data set mapping, the policies in force, the stamped expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from llmops_kit.errors import TransientError
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import PolicyPublished
from llmops_schemas.v1.examples import example_data
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.migrations import default_migrations_dir
from llmops_warehouse.retention.expiry import Retention, expiry_s
from llmops_warehouse.retention.mapping import DATASETS, DEFAULT_DAYS, MAX_EXPIRY_S, TABLE_DATASET
from llmops_warehouse.retention.policies import RetentionPolicies
from llmops_warehouse.retention.restamp import due_stamps
from llmops_warehouse.tables import TABLES

from tests.unit.warehouse.retention_policies import materialised, retention_policy

DAY_MS = 86_400_000
NOW_MS = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)


def test_every_table_the_warehouse_writes_belongs_to_exactly_one_dataset() -> None:
    tables = [t for ts in DATASETS.values() for t in ts]
    assert len(tables) == len(set(tables))
    assert set(tables) == {t.name for t in TABLES} | {"calls"}


def test_migration_0023_gives_every_mapped_table_an_expiry_and_a_ttl_over_it() -> None:
    sql = (default_migrations_dir() / "0023_retention_per_tenant.sql").read_text()
    for table in TABLE_DATASET:
        assert f"ALTER TABLE ${{database}}.{table} ADD COLUMN IF NOT EXISTS expires_at" in sql
        assert f"ALTER TABLE ${{database}}.{table} MODIFY TTL expires_at DELETE;" in sql
        assert f"INTERVAL {DEFAULT_DAYS[table]} DAY" in sql


def test_a_tenant_without_policies_gets_each_table_s_default_and_config_overrides_it() -> None:
    retention = Retention(materialised(), {"calls": 30})
    by_table = {r.table: r for r in retention.tenant("acme")}
    assert set(by_table) == set(TABLE_DATASET)
    assert (by_table["calls"].days, by_table["calls"].source) == (30, "default")
    assert by_table["feedback"].days == 400


def test_a_policy_sets_every_table_of_its_dataset_for_its_tenant_only() -> None:
    retention = Retention(materialised(retention_policy("acme", "evaluations", 7, policy_id="p1")))
    acme = {r.table: r for r in retention.tenant("acme")}
    assert (acme["evaluation_scores"].days, acme["runs"].days) == (7, 7)
    assert (acme["evaluation_scores"].source, acme["evaluation_scores"].policy_id) == ("policy", "p1")
    assert acme["calls"].days == 90
    assert {r.days for r in retention.tenant("other") if r.dataset == "evaluations"} == {400}


def test_of_two_policies_for_one_dataset_the_shorter_retention_wins() -> None:
    policies = materialised(retention_policy("acme", "calls", 30), retention_policy("acme", "calls", 10))
    assert Retention(policies).table("acme", "calls").days == 10


def test_a_tombstone_a_disabled_policy_or_another_kind_restores_the_default() -> None:
    first = retention_policy("acme", "calls", 5, policy_id="p1")
    policies = materialised(first)
    policies.delete("acme:p1")
    assert Retention(policies).table("acme", "calls").days == 90
    policies.apply(first)
    disabled = first.model_copy(update={"data": first.data.model_copy(update={"enabled": False})})
    policies.apply(disabled)
    assert Retention(policies).table("acme", "calls").days == 90
    policies.apply(first)
    other = PolicyPublished.model_validate({**example_data(PolicyPublished), "policy_id": "p1"})
    if other.kind != "retention":
        policies.apply(CloudEvent.wrap(other, source="//t", tenant_id="acme"))
        assert Retention(policies).table("acme", "calls").days == 90


@pytest.mark.parametrize(
    ("dataset", "action", "cause"),
    [("calls", "anonymize", "action 'anonymize' is not supported"), ("chats", "delete", "unknown retention dataset")],
)
def test_a_policy_the_warehouse_cannot_apply_is_refused_with_its_cause(dataset: str, action: str, cause: str) -> None:
    policies = materialised(retention_policy("acme", dataset, 3, action=action, policy_id="p9"))
    [refused] = policies.refused("acme")
    assert (refused.policy_id, cause in refused.cause) == ("p9", True)
    assert Retention(policies).table("acme", "calls").days == 90
    assert policies.refused("other") == []


def test_expiry_counts_from_the_row_s_time_and_stops_at_the_last_datetime_second() -> None:
    assert expiry_s(NOW_MS, 2) == NOW_MS // 1000 + 2 * 86_400
    assert expiry_s(NOW_MS, 36_500) == MAX_EXPIRY_S


def test_stamp_adds_expires_at_to_row_and_column_inserts_per_tenant() -> None:
    retention = Retention(materialised(retention_policy("acme", "feedback", 1)))
    columns = ["event_id", "tenant_id", "time"]
    named, rows = retention.stamp("feedback", columns, [[1, "acme", NOW_MS], [2, "other", NOW_MS]], False)
    assert named == [*columns, "expires_at"]
    assert [row[-1] for row in rows] == [expiry_s(NOW_MS, 1), expiry_s(NOW_MS, 400)]
    named, data = retention.stamp("calls", ["tenant_id", "started_at"], [["acme", "b"], [NOW_MS, NOW_MS]], True)
    assert (named[-1], data[-1]) == ("expires_at", [expiry_s(NOW_MS, 90), expiry_s(NOW_MS, 90)])


def test_stamp_leaves_a_table_without_retention_alone() -> None:
    data: list[Any] = [["acme", NOW_MS]]
    assert Retention().stamp("erasure_ledger", ["tenant_id", "time"], data, False) == (["tenant_id", "time"], data)


def test_stamp_waits_until_the_policies_are_materialised() -> None:
    with pytest.raises(TransientError, match="not materialised"):
        Retention(RetentionPolicies()).stamp("feedback", ["tenant_id", "time"], [["acme", NOW_MS]], False)


def test_due_stamps_are_the_pairs_whose_retention_differs_from_their_last_stamp() -> None:
    retention = Retention(materialised(retention_policy("acme", "costs", 30)))
    due = due_stamps(retention, {("gone", "calls"): 10, ("acme", "budget_events"): 30}, {})
    assert due == [("acme", "cost_records", 30), ("gone", "calls", 90)]


def test_the_default_retention_config_names_tables_only() -> None:
    assert WarehouseSettings(retention_days={"calls": 7}).retention_days == {"calls": 7}
    with pytest.raises(ValueError, match="no retention for tables"):
        WarehouseSettings(retention_days={"chats": 7})
    with pytest.raises(ValueError, match="from 1 to 36500"):
        WarehouseSettings(retention_days={"calls": 0})


def test_the_data_sets_are_the_ones_the_policy_api_accepts() -> None:
    from llmops_schemas.v1.governance import RETENTION_DATASETS
    from llmops_warehouse.retention.mapping import DATASETS

    assert set(DATASETS) == set(RETENTION_DATASETS)
