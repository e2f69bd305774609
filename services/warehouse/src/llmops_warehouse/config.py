"""Warehouse settings: ``WAREHOUSE_*`` plus the shared ``KAFKA_BOOTSTRAP_SERVERS`` and ``CLICKHOUSE_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from llmops_kit.settings import ServiceSettings, fetch_partition_bytes_field
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from llmops_warehouse.retention.mapping import TABLE_DATASET

__all__ = ["DEVELOPMENT_ERASURE_KEY", "WarehouseSettings"]

DEVELOPMENT_ERASURE_KEY = b"llmops-development-erasure-key"
"""The ledger's key when ``WAREHOUSE_ERASURE_KEY`` is unset: fine on a laptop, never in production (compose and
Helm set a key of their own)."""


class WarehouseSettings(ServiceSettings):
    """How the warehouse reaches Kafka and ClickHouse, and how it batches inserts."""

    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8002, ge=0, le=65535)
    clickhouse_url: str = Field(
        default_factory=lambda: f"chdb://{Path('.data/clickhouse').resolve()}",
        validation_alias=AliasChoices("CLICKHOUSE_URL", "clickhouse_url"),
        description="chdb:///abs/path (embedded engine, one process per path) or http(s)://host:8123",
    )
    clickhouse_user: str = Field(default="default", validation_alias=AliasChoices("CLICKHOUSE_USER", "clickhouse_user"))
    clickhouse_password: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("CLICKHOUSE_PASSWORD", "clickhouse_password")
    )
    native_codec: Literal["python", "rust", "rust_strict"] = Field(
        default="rust",
        description=(
            "How ClickHouse's Native blocks are encoded and decoded: 'rust', clickhouse-connect's compiled codec "
            "(types it lacks go to the Python one); 'rust_strict', an error instead; 'python', the Python codec "
            "alone (docs/adr/0067)"
        ),
    )
    database: str = Field(default="llmops", pattern=r"^[a-z_][a-z0-9_]*$")
    consumer_group: str = "warehouse"
    batch_size: int = Field(
        default=50_000,
        ge=1,
        le=100_000,
        description=(
            "Most events per insert: reached only while the consumer lags (a batch is otherwise what arrived "
            "within batch_wait_ms); larger inserts cost ClickHouse less per event and leave fewer parts to "
            "merge (docs/adr/0022, docs/adr/0061)"
        ),
    )
    fetch_partition_bytes: int = fetch_partition_bytes_field(
        "a lagging warehouse fills a 50,000-call batch in a few fetches, which costs the broker a fraction"
    )
    batch_wait_ms: int = Field(default=250, ge=1, le=60_000, description="Longest wait to fill a batch")
    switch_interval_ms: float = Field(
        default=20.0,
        gt=0,
        le=100,
        description=(
            "How long a thread may hold the interpreter lock while another waits (CPython's default: 5 ms): the "
            "consumer's event loop and its writer thread both run Python, and each hand-over costs both of them "
            "(docs/adr/0071)"
        ),
    )
    chdb_spool_dir: str = Field(
        default="auto",
        min_length=1,
        description=(
            "Embedded chDB only: where each insert's block is spooled before the engine reads it. 'auto': /dev/shm "
            "when it is a writable RAM-backed directory with 1 GiB free, else the system's temporary directory; "
            "'system': the system's temporary directory; else a directory path (docs/adr/0062)"
        ),
    )
    query_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="Server-side time limit of one query (ClickHouse max_execution_time)"
    )
    query_max_threads: int = Field(
        default=1,
        ge=1,
        le=256,
        description="ClickHouse threads one query may use (max_threads): the rest stay for inserts",
    )
    query_workers: int = Field(default=8, ge=1, le=64, description="Queries that run at once, beside the inserts")
    max_queries_per_key: int = Field(default=4, ge=1, le=64, description="Queries one API key may have in flight")
    search_max_days: int = Field(default=7, ge=1, le=400, description="Longest window a full-text search may span")
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description=(
            "Default retention in days per table for tenants without a retention policy for its data set, as "
            'JSON, e.g. {"calls": 30}; unnamed tables keep llmops_warehouse.retention.mapping.DEFAULT_DAYS'
        ),
    )
    retention_policies_wait_s: float = Field(
        default=30.0, ge=0, le=600, description="Longest wait at start for the retention policies before consuming"
    )
    retention_restamp_interval_s: float = Field(
        default=60.0, gt=0, le=86_400, description="How often stored rows are re-stamped after a retention change"
    )
    retention_restamp_per_run: int = Field(
        default=4, ge=1, le=1_000, description="Most (tenant, table) re-stamping mutations one run issues"
    )

    @field_validator("retention_days")
    @classmethod
    def _known_tables(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - TABLE_DATASET.keys())
        if unknown:
            raise ValueError(f"no retention for tables {unknown}; tables: {', '.join(sorted(TABLE_DATASET))}")
        if any(not 1 <= days <= 36_500 for days in value.values()):
            raise ValueError("retention days must be from 1 to 36500")
        return value

    erasure_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key of the erasure ledger's subject digests (HMAC-SHA256, 16 bytes at least); unset: a development "
            "key, with a warning at start (docs/adr/0043). Changing it orphans the ledger: keep it like a password"
        ),
    )
    erasure_merge_bound_s: int = Field(
        default=86_400,
        ge=60,
        description="Time allowed for ClickHouse to rewrite the parts of erased rows (part of every purge deadline)",
    )
    erasure_skew_s: int = Field(
        default=300,
        ge=0,
        le=86_400,
        description="Rows of an erased subject up to this long after the erasure are still dropped (clock skew)",
    )

    erasure_refresh_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often a replica re-reads the erasure ledger for requests another replica processed",
    )

    def erasure_key_bytes(self) -> bytes:
        """The ledger's digest key (the development key when unset)."""
        if self.erasure_key is None:
            return DEVELOPMENT_ERASURE_KEY
        return self.erasure_key.get_secret_value().encode()
