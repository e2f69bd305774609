"""``llmops-warehouse``: the query API and the consumer in one process."""

from __future__ import annotations

from llmops_kit.http.app import serve
from llmops_kit.logging import configure_logging

from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app

__all__ = ["main"]


def main() -> None:
    settings = WarehouseSettings()
    configure_logging("warehouse", settings.log_level)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
