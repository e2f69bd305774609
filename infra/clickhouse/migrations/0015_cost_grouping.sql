-- Cost records carry what costs are grouped by (llmops.cost.recorded.v2, docs/adr/0037): the prompt and its
-- version and the experiment, as filter columns of the generic read (GET /v1/events/cost_records?prompt_name=...).
-- The variant and the key stay in the payload (the cost report groups by them after the filtered read).
-- Rows written before this migration hold '' and 0: v1 records did not carry them.

ALTER TABLE ${database}.cost_records
    ADD COLUMN IF NOT EXISTS prompt_name LowCardinality(String) DEFAULT '' AFTER call_id,
    ADD COLUMN IF NOT EXISTS prompt_version UInt32 DEFAULT 0 AFTER prompt_name,
    ADD COLUMN IF NOT EXISTS experiment_id String DEFAULT '' AFTER prompt_version;
