"""The session broker's producer, shared with the warehouse's integration tests; the warehouse's chDB engine and
its query API on a real port (the feedback tests' fixtures) for the event objectives' contract."""

from tests.integration.feedback.conftest import chdb_client, warehouse_api, warehouse_database
from tests.integration.warehouse.conftest import producer

__all__ = ["chdb_client", "producer", "warehouse_api", "warehouse_database"]
