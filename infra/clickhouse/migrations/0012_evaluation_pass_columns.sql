-- llmops.evaluation.scored.v2: the items of each pass as parallel arrays (one element per item, in the pass's
-- order) beside the payload, so scores are read per call, per app and metric over time, per run or replay with
-- array functions (ARRAY JOIN, has, arrayFilter) instead of parsing every payload (docs/adr/0032).
-- The warehouse writes these columns from the decoded pass (llmops_warehouse.pass_columns); the payload stays
-- the read API's document. Rows stored before this migration compute them from their payload (the DEFAULT
-- expressions, also for a v1 payload, which is one item), at read time until a merge writes them.
-- Absent optional values: '' for strings, 0 for the judge prompt version, NULL for numbers and `passed`.
ALTER TABLE ${database}.evaluation_scores
    -- each item's JSON, as the DEFAULTs below read it (computed, never stored; a v1 payload is one item)
    ADD COLUMN IF NOT EXISTS payload_items Array(String)
        ALIAS if(event_type = 'llmops.evaluation.scored.v1', [payload], JSONExtractArrayRaw(payload, 'scores')) AFTER payload,
    ADD COLUMN IF NOT EXISTS replay_id String DEFAULT JSONExtractString(payload, 'replay_id') AFTER run_id,
    ADD COLUMN IF NOT EXISTS example_id String DEFAULT JSONExtractString(payload, 'example_id') AFTER replay_id,
    ADD COLUMN IF NOT EXISTS compared_call_id String DEFAULT JSONExtractString(payload, 'compared_call_id') AFTER example_id,
    ADD COLUMN IF NOT EXISTS judged_at DateTime64(3, 'UTC')
        DEFAULT parseDateTime64BestEffortOrZero(JSONExtractString(payload, 'judged_at'), 3, 'UTC') AFTER compared_call_id,
    ADD COLUMN IF NOT EXISTS score_ids Array(String)
        DEFAULT arrayMap(i -> if(JSONHas(i, 'score_id'), JSONExtractString(i, 'score_id'), JSONExtractString(payload, 'evaluation_id')), payload_items) AFTER judged_at,
    ADD COLUMN IF NOT EXISTS score_evaluators Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'evaluator', 'name'), payload_items) AFTER score_ids,
    ADD COLUMN IF NOT EXISTS score_evaluator_versions Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'evaluator', 'version'), payload_items) AFTER score_evaluators,
    ADD COLUMN IF NOT EXISTS score_kinds Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'evaluator', 'kind'), payload_items) AFTER score_evaluator_versions,
    ADD COLUMN IF NOT EXISTS score_judge_models Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'evaluator', 'judge_model'), payload_items) AFTER score_kinds,
    ADD COLUMN IF NOT EXISTS score_judge_prompts Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'evaluator', 'judge_prompt'), payload_items) AFTER score_judge_models,
    ADD COLUMN IF NOT EXISTS score_judge_prompt_versions Array(UInt32)
        DEFAULT arrayMap(i -> toUInt32(JSONExtractUInt(i, 'evaluator', 'judge_prompt_version')), payload_items) AFTER score_judge_prompts,
    ADD COLUMN IF NOT EXISTS score_metrics Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'metric'), payload_items) AFTER score_judge_prompt_versions,
    ADD COLUMN IF NOT EXISTS score_outcomes Array(String)
        DEFAULT arrayMap(i -> if(JSONHas(i, 'outcome'), JSONExtractString(i, 'outcome'), 'scored'), payload_items) AFTER score_metrics,
    ADD COLUMN IF NOT EXISTS score_values Array(Nullable(Float64))
        DEFAULT arrayMap(i -> JSONExtract(i, 'score', 'Nullable(Float64)'), payload_items) AFTER score_outcomes,
    ADD COLUMN IF NOT EXISTS score_mins Array(Nullable(Float64))
        DEFAULT arrayMap(i -> JSONExtract(i, 'score_min', 'Nullable(Float64)'), payload_items) AFTER score_values,
    ADD COLUMN IF NOT EXISTS score_maxes Array(Nullable(Float64))
        DEFAULT arrayMap(i -> JSONExtract(i, 'score_max', 'Nullable(Float64)'), payload_items) AFTER score_mins,
    ADD COLUMN IF NOT EXISTS score_labels Array(String)
        DEFAULT arrayMap(i -> JSONExtractString(i, 'label'), payload_items) AFTER score_maxes,
    ADD COLUMN IF NOT EXISTS score_passed Array(Nullable(Bool))
        DEFAULT arrayMap(i -> JSONExtract(i, 'passed', 'Nullable(Bool)'), payload_items) AFTER score_labels,
    ADD COLUMN IF NOT EXISTS score_latencies_ms Array(Nullable(Float64))
        DEFAULT arrayMap(i -> JSONExtract(i, 'latency_ms', 'Nullable(Float64)'), payload_items) AFTER score_passed,
    ADD COLUMN IF NOT EXISTS score_costs_usd Array(Nullable(Float64))
        DEFAULT arrayMap(i -> JSONExtract(i, 'cost_usd', 'Nullable(Float64)'), payload_items) AFTER score_latencies_ms;

ALTER TABLE ${database}.evaluation_scores ADD INDEX IF NOT EXISTS idx_replay_id replay_id TYPE bloom_filter(0.01) GRANULARITY 1;

ALTER TABLE ${database}.evaluation_scores ADD INDEX IF NOT EXISTS idx_score_metrics score_metrics TYPE bloom_filter(0.01) GRANULARITY 1;
