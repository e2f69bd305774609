-- Per-minute rollup of calls, fed by a materialized view on every insert into calls.
-- Summary and time-series queries read this table with the -Merge combinators.
-- See docs/adr/0004-clickhouse-storage.md.

CREATE TABLE IF NOT EXISTS ${database}.calls_per_minute
(
    tenant_id         LowCardinality(String),
    minute            DateTime('UTC'),
    app               LowCardinality(String),
    environment       LowCardinality(String),
    model             LowCardinality(String),
    calls             AggregateFunction(count),
    errors            AggregateFunction(sum, UInt64),
    prompt_tokens     AggregateFunction(sum, UInt64),
    completion_tokens AggregateFunction(sum, UInt64),
    total_tokens      AggregateFunction(sum, UInt64),
    latency_ms        AggregateFunction(quantiles(0.5, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant_id, minute, app, environment, model)
TTL minute + INTERVAL 400 DAY DELETE
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.calls_per_minute_mv TO ${database}.calls_per_minute AS
SELECT
    tenant_id,
    toDateTime(toStartOfMinute(started_at), 'UTC') AS minute,
    app,
    environment,
    model,
    countState() AS calls,
    sumState(toUInt64(status = 'error')) AS errors,
    sumState(ifNull(prompt_tokens, toUInt64(0))) AS prompt_tokens,
    sumState(ifNull(completion_tokens, toUInt64(0))) AS completion_tokens,
    sumState(ifNull(total_tokens, toUInt64(0))) AS total_tokens,
    quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM ${database}.calls
GROUP BY tenant_id, minute, app, environment, model;
