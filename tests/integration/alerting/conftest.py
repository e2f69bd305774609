"""The session broker's producer, shared with the warehouse's integration tests."""

from tests.integration.warehouse.conftest import producer

__all__ = ["producer"]
