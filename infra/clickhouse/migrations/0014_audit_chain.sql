-- llmops.audit.chained.v1 and llmops.audit.digest.v1: the governance-audit service's hash chain of the audit
-- trail and its signed digests (docs/adr/0034-audit-chain.md, docs/governance.md). The envelope columns are
-- 0004's; `time` is the chained audit entry's own envelope time, so a replayed chain lands on the same rows.
-- `llmops audit verify` reads both through GET /v1/events/{table} and recomputes the chain; the payload keeps
-- the exact canonical text that was hashed, so nothing is re-serialised on the way.
CREATE TABLE IF NOT EXISTS ${database}.audit_chain
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

CREATE TABLE IF NOT EXISTS ${database}.audit_digests
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
