-- Who produced each call and whose traffic it is. See docs/adr/0008-warehouse-event-tables.md.
--
-- source and key_id: the envelope's producer (e.g. //llmops/inference vs //llmops/ingest) and the id of the
-- API key it accepted the call under ('' when none), so a gateway-recorded call can be told from one
-- submitted through ingest, and cost can be booked per key.
-- origin: 'platform' for calls the platform makes itself (judges, offline runs), set by the gateway from
-- the calling key's role; rows written before this migration are the applications' ('application').

ALTER TABLE ${database}.calls
    ADD COLUMN IF NOT EXISTS origin LowCardinality(String) DEFAULT 'application' AFTER metadata,
    ADD COLUMN IF NOT EXISTS source LowCardinality(String) DEFAULT '' AFTER origin,
    ADD COLUMN IF NOT EXISTS key_id String DEFAULT '' AFTER source;

-- The rollup keeps application and platform traffic apart (metrics exclude the platform's by default).
-- The column joins the end of the sorting key in the same ALTER, which ClickHouse allows only for a new
-- column without a default: rows rolled up before this migration hold '' there, which the store reads as
-- 'application' (all traffic was the applications' then).
ALTER TABLE ${database}.calls_per_minute
    ADD COLUMN IF NOT EXISTS origin LowCardinality(String),
    MODIFY ORDER BY (tenant_id, minute, app, environment, model, origin);

-- The view that feeds the rollup now groups by origin too. Migrations run before the consumer starts, so
-- no insert falls between the DROP and the CREATE.
DROP VIEW IF EXISTS ${database}.calls_per_minute_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.calls_per_minute_mv TO ${database}.calls_per_minute AS
SELECT
    tenant_id,
    toDateTime(toStartOfMinute(started_at), 'UTC') AS minute,
    app,
    environment,
    model,
    origin,
    countState() AS calls,
    sumState(toUInt64(status = 'error')) AS errors,
    sumState(ifNull(prompt_tokens, toUInt64(0))) AS prompt_tokens,
    sumState(ifNull(completion_tokens, toUInt64(0))) AS completion_tokens,
    sumState(ifNull(total_tokens, toUInt64(0))) AS total_tokens,
    quantilesState(0.5, 0.95, 0.99)(latency_ms) AS latency_ms
FROM ${database}.calls
GROUP BY tenant_id, minute, app, environment, model, origin;
