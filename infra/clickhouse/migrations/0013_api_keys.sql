-- llmops.api_key.state_changed.v1: every change of a tenant's API keys (llmops.governance.keys, compacted),
-- kept as append-only history like every compacted topic (docs/adr/0008-warehouse-event-tables.md), so that
-- the key in force at any moment can be found later (docs/governance.md). The payload holds a key's SHA-256,
-- never the key. The envelope columns are 0004's.
CREATE TABLE IF NOT EXISTS ${database}.api_keys
(
    event_id     UUID,
    tenant_id    LowCardinality(String),
    event_type   LowCardinality(String),
    time         DateTime64(3, 'UTC'),
    source       LowCardinality(String),
    key_id       String,
    subject      String,
    trace_id     String,
    record_key   String,
    deleted      Bool,
    payload      String CODEC(ZSTD(1)),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
PRIMARY KEY (tenant_id, time)
ORDER BY (tenant_id, time, event_id)
TTL toDateTime(time) + INTERVAL 400 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
