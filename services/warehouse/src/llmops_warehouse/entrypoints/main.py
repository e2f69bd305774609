"""``llmops-warehouse``: the query API and the consumer in one process."""

from __future__ import annotations

from llmops_kit.http.app import serve
from llmops_kit.logging import configure_logging

from llmops_warehouse.adapters.chdb_spool import use_spool_dir
from llmops_warehouse.config import WarehouseSettings
from llmops_warehouse.entrypoints.http import create_app

__all__ = ["GC_THRESHOLDS", "main"]

GC_THRESHOLDS = (3_000_000, 20, 100)
"""The collector's thresholds once started (the kit's: 50,000 young allocations). The consumer holds two batches of
up to ``WAREHOUSE_BATCH_SIZE`` decoded events (hundreds of thousands of objects) while it stores them, so nearly
every young collection walked objects still alive: 12 us of CPU per call stored, 1.5 with a collection per
million allocations (docs/adr/0053). The young count is of objects still alive (a freed one is taken off), and two
batches of 50,000 calls in flight (the lists of their insert columns) passed a million: each such collection walked
them all for 29-376 objects of garbage, 0.14-0.92 s a time, 1.6-6.7 us per call stored; three million is above
what two default batches hold (docs/adr/0067). Acyclic garbage is freed by reference counting either way; the
consumer's cycles are those few hundred per collection."""


def main() -> None:
    settings = WarehouseSettings()
    configure_logging("warehouse", settings.log_level)
    use_spool_dir(settings.chdb_spool_dir, settings.clickhouse_url)
    serve(
        create_app(settings),
        settings.host,
        settings.port,
        gc_thresholds=GC_THRESHOLDS,
        switch_interval_s=settings.switch_interval_ms / 1000,
    )


if __name__ == "__main__":
    main()
