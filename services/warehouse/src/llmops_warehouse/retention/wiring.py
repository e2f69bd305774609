"""The retention components of the warehouse's runtime: the policies' materialiser and the re-stamper."""

from __future__ import annotations

from typing import Any

from llmops_kit.kafka.materializer import CompactedTopicMaterializer

from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.retention.expiry import Retention
from llmops_warehouse.retention.policies import RetentionPolicies
from llmops_warehouse.retention.restamp import Restamper

__all__ = ["retention_materializer", "retention_restamper"]


def retention_materializer(settings: WarehouseSettings, retention: Retention) -> CompactedTopicMaterializer:
    """Keeps ``retention``'s policies equal to ``llmops.policies`` (inserts wait until it has caught up)."""
    policies = retention.policies
    if not isinstance(policies, RetentionPolicies):
        raise TypeError("the warehouse's retention needs materialised policies")
    return CompactedTopicMaterializer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=policies.topic,
        view=policies,
        client_id="llmops-warehouse-retention",
        security=settings.kafka_security,
    )


def retention_restamper(settings: WarehouseSettings, retention: Retention) -> Restamper:
    """Moves stored rows' expiry after a retention change, on a ClickHouse client of its own."""

    def client() -> Any:
        password = settings.clickhouse_password.get_secret_value()
        return connect(settings.clickhouse_url, settings.clickhouse_user, password)

    return Restamper(
        client,
        settings.database,
        retention,
        settings.retention_days,
        interval_s=settings.retention_restamp_interval_s,
        per_run=settings.retention_restamp_per_run,
    )
