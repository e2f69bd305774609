-- llmops.evaluation.verdict_policy_set.v1: the evaluation service's verdict policies
-- (llmops.evaluations.policies, compacted), kept as append-only history like every compacted topic
-- (docs/adr/0008-warehouse-event-tables.md, docs/evaluation.md). The envelope columns are 0004's.
CREATE TABLE IF NOT EXISTS ${database}.verdict_policies
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
    experiment_id String,
    payload      String CODEC(ZSTD(1)),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
PRIMARY KEY (tenant_id, time)
ORDER BY (tenant_id, time, event_id)
TTL toDateTime(time) + INTERVAL 400 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
