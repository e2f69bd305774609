-- llmops.evaluation.dataset_example.v1 and llmops.evaluation.dataset_version.v1: the evaluation service's
-- datasets (llmops.evaluations.datasets, compacted), one row per example and one per immutable version,
-- kept as append-only history like every compacted topic (docs/adr/0028-datasets-and-offline-runs.md).
-- The envelope columns are 0004's.
CREATE TABLE IF NOT EXISTS ${database}.dataset_examples
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

CREATE TABLE IF NOT EXISTS ${database}.dataset_versions
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
