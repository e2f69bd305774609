"""The warehouse's consumer fetches large chunks per partition (docs/adr/0022): its batches hold up to 20,000
calls, and aiokafka's 1 MiB default (about 750 calls) made a lagging warehouse fetch dozens of times per batch."""

from __future__ import annotations

from llmops_warehouse.adapters.memory_store import InMemoryEventStore
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.consumer import build_consumer


async def test_the_warehouse_consumer_fetches_what_its_settings_say_per_partition() -> None:
    default = WarehouseSettings(kafka_bootstrap_servers="127.0.0.1:1")
    assert default.fetch_partition_bytes == 8 << 20
    settings = WarehouseSettings(kafka_bootstrap_servers="127.0.0.1:1", fetch_partition_bytes=3 << 20)
    loop = build_consumer(settings, InMemoryEventStore(), None)  # type: ignore[arg-type]
    try:
        assert loop._consumer._max_partition_fetch_bytes == 3 << 20
    finally:
        await loop._consumer.stop()
