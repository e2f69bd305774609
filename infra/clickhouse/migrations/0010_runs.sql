-- llmops.evaluation.run_updated.v1: offline runs' status and progress (llmops.evaluations.runs, compacted),
-- and the run_id of the scores a run produced, so one run's scores are read without a scan of every score
-- (docs/adr/0028-datasets-and-offline-runs.md).
CREATE TABLE IF NOT EXISTS ${database}.runs
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
    run_id       String,
    payload      String CODEC(ZSTD(1)),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
PRIMARY KEY (tenant_id, time)
ORDER BY (tenant_id, time, event_id)
TTL toDateTime(time) + INTERVAL 400 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;

ALTER TABLE ${database}.evaluation_scores ADD COLUMN IF NOT EXISTS run_id String DEFAULT '' AFTER call_id;

ALTER TABLE ${database}.evaluation_scores ADD INDEX IF NOT EXISTS idx_run_id run_id TYPE bloom_filter(0.01) GRANULARITY 1;
