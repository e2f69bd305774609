-- Erasure (docs/adr/0043-erasure-ledger.md): the ledger of processed requests and the calls they erased,
-- consulted on every insert so that replaying the topics from their start does not bring a subject back.
-- The subject is kept only as a keyed digest (HMAC-SHA256 under WAREHOUSE_ERASURE_KEY), never its value.
-- No TTL: the ledger must outlive every copy of the data it suppresses (Kafka retention, backups, replays).

CREATE TABLE IF NOT EXISTS ${database}.erasure_ledger
(
    tenant_id       LowCardinality(String),
    request_id      String,
    subject_type    LowCardinality(String),
    subject_digest  String,
    -- rows naming the subject from before this time are dropped on insert; later ones are new data
    cutoff          DateTime64(3, 'UTC'),
    receipt_id      UUID,
    counts          Map(String, UInt64),
    purge_deadline  DateTime64(3, 'UTC'),
    completed_at    DateTime64(3, 'UTC'),
    recorded_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY (tenant_id, request_id);

-- Each warehouse replica re-reads what was recorded since its last look (recorded_at), so a request processed
-- by one replica screens the inserts of every other within WAREHOUSE_ERASURE_REFRESH_S.
-- The ids of the calls each request erased (also the ones that arrived after it, from before its cutoff): rows
-- of any table that refer to them are dropped on insert, and the services holding state read them through
-- GET /v1/erasures/{request_id}/calls.
CREATE TABLE IF NOT EXISTS ${database}.erased_calls
(
    tenant_id   LowCardinality(String),
    request_id  String,
    call_id     String,
    recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (tenant_id, request_id, call_id);

-- Receipts and requests are read per request (GET /v1/events/erasure_receipts?request_id=...).
ALTER TABLE ${database}.erasure_receipts
    ADD COLUMN IF NOT EXISTS request_id String DEFAULT JSONExtractString(payload, 'request_id') AFTER payload;

ALTER TABLE ${database}.erasure_requests
    ADD COLUMN IF NOT EXISTS request_id String DEFAULT JSONExtractString(payload, 'request_id') AFTER payload;

-- Requests stored before this migration hold the subject's value in plain text: it goes (the warehouse now
-- stores the keyed digest in its place, which cannot be computed here without the key).
ALTER TABLE ${database}.erasure_requests
    UPDATE payload = replaceRegexpOne(payload, '"subject_value":"(?:[^"\\\\]|\\\\.)*"', '"subject_value":"erased-by-migration-0019"')
    WHERE position(payload, '"subject_value":"hmac-sha256:') = 0;
