"""The warehouse's session chDB engine (one per process) and its test producer, shared with the feedback
integration tests; and the warehouse's query API on a real port for the feedback service to read history from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, ApiKeyRecord, ApiKeyStore, hash_key
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.bootstrap import WarehousePorts
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app as warehouse_app

from tests.fixtures.gateway import ServerThread
from tests.integration.warehouse.conftest import chdb_client, producer, warehouse_database

__all__ = ["chdb_client", "producer", "warehouse_api", "warehouse_database"]

SERVICE_KEY = "llmops_feedback_it_service_key_00000000000"


@pytest.fixture
def warehouse_api(chdb_client: Any, warehouse_database: str) -> Iterator[str]:
    """The warehouse's query API on the session's database, on a free port; the feedback service's key is
    :data:`SERVICE_KEY` (role ``service``, any tenant named in ``X-LLMOps-Tenant``)."""
    keys = ApiKeyStore(
        [ApiKeyRecord(id="svc-feedback", tenant_id=ANY_TENANT, role=SERVICE_ROLE, sha256=hash_key(SERVICE_KEY))]
    )
    app = warehouse_app(
        WarehouseSettings(api_keys_file=None),
        ports=WarehousePorts(ClickHouseEventStore(chdb_client, warehouse_database), keys),
    )
    with ServerThread(app) as server:
        yield server.url
