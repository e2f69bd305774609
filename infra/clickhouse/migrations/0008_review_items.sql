-- llmops.review.item_updated.v1: every change to an item of a review queue (llmops.review.items, compacted):
-- the item's whole state after the change (enqueued, assigned, claimed, released, reviewed), so this table is
-- the history of each item and the latest row per record_key its state (docs/feedback.md).
-- The envelope columns are 0004's; call_id is the call under review.
CREATE TABLE IF NOT EXISTS ${database}.review_items
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
    call_id      String,
    payload      String CODEC(ZSTD(1)),
    ingested_at  DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_call_id call_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
PRIMARY KEY (tenant_id, time)
ORDER BY (tenant_id, time, event_id)
TTL toDateTime(time) + INTERVAL 400 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
