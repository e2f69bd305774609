-- llmops.drift.reported.v2: a drift check of one window, scoped by prompt version as well as app and model
-- (docs/adr/0040-drift-reports-v2.md). v1 reports are upcast on reading and stored as v2 (no prompt: '' and 0).
ALTER TABLE ${database}.drift_reports ADD COLUMN IF NOT EXISTS prompt_name LowCardinality(String) DEFAULT '' AFTER model;

ALTER TABLE ${database}.drift_reports ADD COLUMN IF NOT EXISTS prompt_version UInt32 DEFAULT 0 AFTER prompt_name;
