"""The retention components of the warehouse's runtime: the policies' materialiser and the re-stamper."""

from __future__ import annotations

import logging
from typing import Any

from llmops_kit.kafka.materializer import CompactedTopicMaterializer

from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.retention.expiry import Retention
from llmops_warehouse.retention.policies import RetentionPolicies
from llmops_warehouse.retention.restamp import Restamper

__all__ = ["PoliciesFirst", "retention_materializer", "retention_restamper"]

log = logging.getLogger(__name__)


class PoliciesFirst:
    """The policies' materialiser as a component whose start waits (at most ``wait_s``) until it has caught up.

    Started before the consumer, so the consumer's first batches find the policies read instead of meeting the
    insert path's ``TransientError`` and backing off for seconds; past ``wait_s`` (Kafka slow or down) the
    service starts anyway and the inserts wait for the policies as before.
    """

    def __init__(self, materializer: CompactedTopicMaterializer, wait_s: float) -> None:
        self.materializer = materializer
        self._wait_s = wait_s

    async def start(self) -> None:
        await self.materializer.start()
        if not await self.materializer.wait_ready(self._wait_s):
            log.warning("retention policies not read within %.0fs; inserts wait for them", self._wait_s)

    async def stop(self) -> None:
        await self.materializer.stop()

    async def check(self) -> bool:
        """Readiness: the policies are read and followed."""
        return self.materializer.ready


def retention_materializer(settings: WarehouseSettings, retention: Retention) -> PoliciesFirst:
    """Keeps ``retention``'s policies equal to ``llmops.policies`` (inserts wait until it has caught up)."""
    policies = retention.policies
    if not isinstance(policies, RetentionPolicies):
        raise TypeError("the warehouse's retention needs materialised policies")
    materializer = CompactedTopicMaterializer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=policies.topic,
        view=policies,
        client_id="llmops-warehouse-retention",
        security=settings.kafka_security,
    )
    return PoliciesFirst(materializer, settings.retention_policies_wait_s)


def retention_restamper(settings: WarehouseSettings, retention: Retention) -> Restamper:
    """Moves stored rows' expiry after a retention change, on a ClickHouse client of its own."""

    def client() -> Any:
        password = settings.clickhouse_password.get_secret_value()
        return connect(settings.clickhouse_url, settings.clickhouse_user, password, native_codec=settings.native_codec)

    return Restamper(
        client,
        settings.database,
        retention,
        settings.retention_days,
        interval_s=settings.retention_restamp_interval_s,
        per_run=settings.retention_restamp_per_run,
    )
