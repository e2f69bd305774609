-- Optional: a skip index that lets text search (GET /v1/calls?text=...) skip granules that cannot contain
-- the searched text. NOT applied by the migration runner: it roughly halves insert throughput on 2 cores
-- (measured on chDB, see docs/adr/0004-clickhouse-storage.md), and it only pays off for rare needles
-- (ids, error strings) on tenants with a lot of data. Apply by hand, replacing ${database}:
--
--     clickhouse-client --multiquery < text_search_index.sql
--
-- The expression MUST stay identical to the one the store searches with
-- (llmops_warehouse.adapters.clickhouse_store._SEARCH_EXPRESSION), or the index is never used.

--
-- Migration 0005 widened the search to every choice's output and to tool arguments: an idx_text built with the
-- earlier expression (message_contents and output only) is never used any more; DROP INDEX idx_text first.

ALTER TABLE ${database}.calls
    ADD INDEX IF NOT EXISTS idx_text lowerUTF8(concat(arrayStringConcat(message_contents, '\n'), '\n', ifNull(output, ''), '\n', arrayStringConcat(arrayMap(o -> ifNull(o, ''), choice_outputs), '\n'), '\n', arrayStringConcat(tool_arguments, '\n')))
    TYPE ngrambf_v1(3, 65536, 2, 0) GRANULARITY 1;

-- Builds the index for parts written before it existed (runs as a background mutation).
ALTER TABLE ${database}.calls MATERIALIZE INDEX idx_text;
