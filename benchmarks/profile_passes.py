"""CPU per stored evaluation pass in the warehouse, in process: decode as the consumer does, insert as the store does.

``bench_evaluation.py`` measures online scoring end to end; this script isolates the warehouse's share of a pass
(docs/adr/0032). It builds ``--passes`` ``llmops.evaluation.scored.v2`` records shaped as the default heuristic set
writes them (seven items from six heuristics), then, in one process, decodes each with the warehouse's router
(``Router.decode``, as the consumer does) and stores them with ``ClickHouseEventStore.insert_events`` in inserts of
``--insert-batch`` into a fresh embedded chDB (dedup query, columns, insert). It reports microseconds per pass:
the decoding and the inserts on this thread (``time.thread_time``), and the whole process (``time.process_time``,
chDB's insert and merge threads included) from the first decode until chDB's merges are idle.

It only uses what the warehouse had before ADR 0032, so the code before it can be measured with the same script:
``PYTHONPATH=<old checkout's src folders> LLMOPS_CLICKHOUSE_MIGRATIONS=<its migrations> python profile_passes.py``.
``--variant defaults`` inserts the envelope and payload only (ClickHouse computes the item columns from the
payload, migration 0012's DEFAULT expressions); ``--variant no-payload`` stores '' as payload (what keeping the
payload costs); ``--variant insert-merge`` inserts with ClickHouse's insert-time merge on (what the event tables'
inserts paid before docs/adr/0059's amendment). Nothing is written anywhere but a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmops_kit.http.gc_tuning import tune_after_startup
from llmops_kit.kafka.consumer import ConsumedMessage
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import EvaluationScored
from llmops_warehouse.adapters import clickhouse_store
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.entrypoints.consumer import Router
from llmops_warehouse.events import StoredEvent
from llmops_warehouse.migrations import apply_migrations
from llmops_warehouse.tables import TABLES

HEURISTICS = (
    ("answer-length", "length"), ("answer-json", "json_valid"), ("answer-json", "json_schema"),
    ("answer-regex", "regex"), ("refusal", "refusal"), ("polite", "banned_terms"), ("no-secrets", "secrets"),
)  # fmt: skip
START = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def records(count: int) -> list[bytes]:
    """``count`` passes of the default heuristic set over distinct calls, as the evaluation service publishes them."""
    out = []
    for n in range(count):
        items = [
            {
                "score_id": str(uuid.uuid4()),
                "evaluator": {"name": name, "version": "1+3f2a9c1d0e4b", "kind": "heuristic"},
                "metric": metric,
                "score": float(n % 3 != 0),
                "score_min": 0.0,
                "score_max": 1.0,
                "passed": n % 3 != 0,
                "explanation": None if n % 3 else "the answer is not JSON",
                "latency_ms": 0.012 * (i + 1),
            }
            for i, (name, metric) in enumerate(HEURISTICS)
        ]
        at = START + timedelta(milliseconds=7 * n)
        data = {"evaluation_id": str(uuid.uuid4()), "call_id": f"call-{n}", "app": "support-bot", "scores": items}
        payload = EvaluationScored.model_validate({**data, "judged_at": at})
        event = CloudEvent.wrap(payload, source="/services/evaluation", tenant_id="acme", subject=f"call-{n}")
        event = event.model_copy(update={"time": at})
        out.append(event.to_json_bytes())
    return out


def _idle(client: Any) -> None:
    while client.query("SELECT count() FROM system.merges").result_rows[0][0]:
        time.sleep(0.05)


def measure(values: list[bytes], batch: int, variant: str) -> dict[str, float]:
    """Microseconds per pass: decoding, inserting (this thread), the whole process until merges are idle."""
    if variant == "defaults":
        clickhouse_store.SCORES_TABLE = ""  # type: ignore[attr-defined]  # the generic row insert
    if variant == "insert-merge":
        clickhouse_store._EVENT_INSERT_SETTINGS = clickhouse_store._WRITE_SETTINGS
    if variant == "no-payload":
        StoredEvent.payload_json = lambda self: ""  # type: ignore[method-assign]
    router = Router(tables=TABLES, compacted=frozenset())
    topic = EvaluationScored.topic
    with tempfile.TemporaryDirectory() as workdir:
        client = connect(f"chdb://{Path(workdir) / 'engine'}")
        apply_migrations(client, database="bench")
        store = ClickHouseEventStore(client, "bench")
        process, decode_cpu, insert_cpu = time.process_time(), 0.0, 0.0
        for start in range(0, len(values), batch):
            cpu = time.thread_time()
            events: list[Any] = [
                router.decode(ConsumedMessage(topic, 0, start + i, b"acme", raw, (), 0))
                for i, raw in enumerate(values[start : start + batch])
            ]
            decode_cpu += time.thread_time() - cpu
            cpu = time.thread_time()
            store.insert_events(events)
            insert_cpu += time.thread_time() - cpu
        _idle(client)
        total = time.process_time() - process
        stored = client.query("SELECT count() FROM bench.evaluation_scores").result_rows[0][0]
        assert stored == len(values), stored
    scale = 1e6 / len(values)
    return {"decode": decode_cpu * scale, "insert": insert_cpu * scale, "process": total * scale}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=40_000)
    parser.add_argument("--insert-batch", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", choices=("as-built", "defaults", "no-payload", "insert-merge"), default="as-built")
    args = parser.parse_args()
    tune_after_startup()
    values = records(args.passes)
    for _ in range(args.rounds):
        figures = measure(values, args.insert_batch, args.variant)
        rounded = {name: round(us, 1) for name, us in figures.items()}
        print(json.dumps({"variant": args.variant, "passes": args.passes, **rounded}))


if __name__ == "__main__":
    main()
