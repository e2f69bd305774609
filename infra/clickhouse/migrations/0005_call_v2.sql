-- What llmops.call.recorded.v2 adds to a call. See docs/adr/0015-call-recorded-v2.md and docs/warehouse.md.
--
-- Messages stay parallel arrays; message_contents keeps each message's text (its string content, or its text
-- parts one per line), so search reads text, never JSON. Two more arrays hold what text cannot:
--   message_parts       '' when the content is that string; else {"content": [...parts]} or {"content": null}
--   message_tool_calls  '' when the message has no tool_calls; else {"tool_calls": [...]}
-- tool_arguments holds the arguments of every tool call (messages first, then choices) for search.
-- The first choice's output stays in output (and its finish reason in finish_reason); choice_outputs holds the
-- outputs of the others. choice_finish_reasons has one entry per choice ('' for none), and choice_details the
-- rest of each choice as JSON (tool calls, refusal, logprobs), '' when it has nothing more. Rows written before
-- this migration have no choice arrays and hold at most the one answer of v1 in output and finish_reason.
-- request is the request summary as JSON ('' when none). Arrays written before this migration are empty,
-- which the store reads as "plain text messages without tool calls".

ALTER TABLE ${database}.calls
    ADD COLUMN IF NOT EXISTS message_parts Array(String) CODEC(ZSTD(1)) AFTER message_tool_call_ids,
    ADD COLUMN IF NOT EXISTS message_tool_calls Array(String) CODEC(ZSTD(1)) AFTER message_parts,
    ADD COLUMN IF NOT EXISTS tool_arguments Array(String) CODEC(ZSTD(1)) AFTER message_tool_calls,
    ADD COLUMN IF NOT EXISTS choice_outputs Array(Nullable(String)) CODEC(ZSTD(1)) AFTER finish_reason,
    ADD COLUMN IF NOT EXISTS choice_finish_reasons Array(LowCardinality(String)) AFTER choice_outputs,
    ADD COLUMN IF NOT EXISTS choice_details Array(String) CODEC(ZSTD(1)) AFTER choice_finish_reasons,
    ADD COLUMN IF NOT EXISTS request String DEFAULT '' CODEC(ZSTD(1)) AFTER parameters,
    ADD COLUMN IF NOT EXISTS cached_prompt_tokens Nullable(UInt64) AFTER total_tokens,
    ADD COLUMN IF NOT EXISTS cache_write_tokens Nullable(UInt64) AFTER cached_prompt_tokens,
    ADD COLUMN IF NOT EXISTS reasoning_tokens Nullable(UInt64) AFTER cache_write_tokens;
