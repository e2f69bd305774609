-- Retention per table and per tenant (docs/adr/0049-retention-per-tenant.md, docs/governance.md "Retention").
--
-- Every table the warehouse writes rows into gets a per-row expires_at, stamped at insert from the tenant's
-- retention policy for the table's data set (llmops_warehouse.retention), and its TTL deletes on it. The
-- column's default is the table's former TTL (calls 90 days, the rest 400), so rows stored before this
-- migration, and rows of a writer that does not stamp, keep the retention they had.
--
-- ttl_only_drop_parts = 0: a daily part mixes tenants with different retentions, so expired rows are deleted
-- row by row (a TTL merge rewrites the part) instead of waiting for the part's last row.
-- merge_with_ttl_timeout = 3600: a partition with expired rows is TTL-merged at most an hour after the
-- previous TTL merge of it (the default is 4 h): an expired row is physically gone within about an hour.
-- calls_per_minute (counts, no content) keeps its 400-day table TTL.

-- data set 'calls'
ALTER TABLE ${database}.calls ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(started_at) + INTERVAL 90 DAY;
ALTER TABLE ${database}.calls MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.calls MODIFY TTL expires_at DELETE;

-- data set 'evaluations'
ALTER TABLE ${database}.evaluation_scores ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.evaluation_scores MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.evaluation_scores MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.runs ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.runs MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.runs MODIFY TTL expires_at DELETE;

-- data set 'feedback'
ALTER TABLE ${database}.feedback ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.feedback MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.feedback MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.review_items ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.review_items MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.review_items MODIFY TTL expires_at DELETE;

-- data set 'datasets'
ALTER TABLE ${database}.dataset_examples ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.dataset_examples MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.dataset_examples MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.dataset_versions ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.dataset_versions MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.dataset_versions MODIFY TTL expires_at DELETE;

-- data set 'costs'
ALTER TABLE ${database}.cost_records ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.cost_records MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.cost_records MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.budget_events ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.budget_events MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.budget_events MODIFY TTL expires_at DELETE;

-- data set 'drift'
ALTER TABLE ${database}.drift_reports ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.drift_reports MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.drift_reports MODIFY TTL expires_at DELETE;

-- data set 'alerts'
ALTER TABLE ${database}.alerts ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.alerts MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.alerts MODIFY TTL expires_at DELETE;

-- data set 'audit'
ALTER TABLE ${database}.audit_records ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.audit_records MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.audit_records MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.audit_chain ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.audit_chain MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.audit_chain MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.audit_digests ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.audit_digests MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.audit_digests MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.api_keys ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.api_keys MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.api_keys MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.erasure_requests ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.erasure_requests MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.erasure_requests MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.erasure_receipts ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.erasure_receipts MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.erasure_receipts MODIFY TTL expires_at DELETE;

-- data set 'config'
ALTER TABLE ${database}.evaluator_configs ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.evaluator_configs MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.evaluator_configs MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.budget_configs ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.budget_configs MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.budget_configs MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.prices ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.prices MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.prices MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.prompt_versions ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.prompt_versions MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.prompt_versions MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.prompt_label_moves ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.prompt_label_moves MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.prompt_label_moves MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.experiments ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.experiments MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.experiments MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.policies ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.policies MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.policies MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.review_queues ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.review_queues MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.review_queues MODIFY TTL expires_at DELETE;
ALTER TABLE ${database}.verdict_policies ADD COLUMN IF NOT EXISTS expires_at DateTime('UTC') DEFAULT toDateTime(time) + INTERVAL 400 DAY;
ALTER TABLE ${database}.verdict_policies MODIFY SETTING ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600;
ALTER TABLE ${database}.verdict_policies MODIFY TTL expires_at DELETE;

-- The retention each (tenant, table) was last re-stamped to (llmops_warehouse.retention.restamp): the
-- re-stamper compares it with the policies in force and moves the expiry of stored rows when they differ.
CREATE TABLE IF NOT EXISTS ${database}.retention_stamps
(
    tenant_id   LowCardinality(String),
    table_name  LowCardinality(String),
    days        UInt32,
    stamped_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(stamped_at)
ORDER BY (tenant_id, table_name);
