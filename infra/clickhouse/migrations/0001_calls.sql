-- One row per llmops.call.recorded.v1 event. See docs/adr/0004-clickhouse-storage.md.
--
-- ${database} is replaced by llmops_warehouse.migrations with the configured database name.
-- Statements end with ';' at the end of a line (the migration runner splits there).
--
-- Conventions: an optional identifier the contract requires to be non-empty when present is stored
-- as '' for "absent" (no Nullable overhead); optional numbers and the optional output are Nullable.
-- Messages are stored as parallel arrays (role/content/name/tool_call_id), so text search looks at
-- message contents only, never at JSON keys. Retention: 90 days after started_at, whole daily partitions.

CREATE TABLE IF NOT EXISTS ${database}.calls
(
    event_id              UUID,
    tenant_id             LowCardinality(String),
    call_id               String,
    trace_id              String,
    app                   LowCardinality(String),
    environment           LowCardinality(String),
    user_id               String,
    session_id            String,
    model                 LowCardinality(String),
    provider              LowCardinality(String),
    message_roles         Array(LowCardinality(String)),
    message_contents      Array(String) CODEC(ZSTD(1)),
    message_names         Array(String),
    message_tool_call_ids Array(String),
    output                Nullable(String) CODEC(ZSTD(1)),
    finish_reason         LowCardinality(String),
    parameters            String CODEC(ZSTD(1)),
    prompt_tokens         Nullable(UInt64),
    completion_tokens     Nullable(UInt64),
    total_tokens          Nullable(UInt64),
    latency_ms            Float64,
    ttft_ms               Nullable(Float64),
    status                LowCardinality(String),
    error_type            LowCardinality(String),
    error_message         String,
    error_code            LowCardinality(String),
    prompt_name           LowCardinality(String),
    prompt_version        UInt32,
    prompt_label          LowCardinality(String),
    experiment_id         String,
    experiment_variant    LowCardinality(String),
    is_shadow             Bool,
    tags                  Array(String),
    metadata              Map(String, String),
    started_at            DateTime64(3, 'UTC'),
    received_at           DateTime64(3, 'UTC'),
    ingested_at           DateTime64(3, 'UTC') DEFAULT now64(3),

    -- get_call looks calls up by call_id, and trace views by trace_id, across the whole retention.
    INDEX idx_call_id call_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 1
    -- No text-search skip index by default: an ngram bloom filter over messages+output costs about half of
    -- the insert throughput. infra/clickhouse/optional/text_search_index.sql adds one (see the ADR).
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(started_at)
PRIMARY KEY (tenant_id, started_at)
ORDER BY (tenant_id, started_at, event_id)
TTL toDateTime(started_at) + INTERVAL 90 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;
