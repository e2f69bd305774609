"""The warehouse's session chDB engine (one per process), shared with the cost integration tests."""

from tests.integration.warehouse.conftest import chdb_client, warehouse_database

__all__ = ["chdb_client", "warehouse_database"]
