"""Where the time of one call goes, stage by stage, in-process (the companion of ``bench_ingest.py``).

``bench_ingest.py`` measures the platform as a user sees it; this script explains its figures. It runs the
services' own code paths in one process, without HTTP and without competing processes, on ``--calls`` demo
calls in batches of ``--batch`` (ingest) and ``--insert-batch`` (warehouse), and reports microseconds per call:

ingest   decode the HTTP body (``--shape`` v2, the default: read straight into the call structs,
         ``decode_v2_body``; v1: ``wire.decode_json`` + ``extract_calls``), ``prepare_batch`` (validation as
         the derived struct, pydantic for what it refuses; envelope; serialisation for the size check; with
         ``--decoder pydantic``, pydantic validates every record, as it does what the struct refuses), then
         ``publish_encoded`` to a real local broker (batches filled per partition, waits for ``acks=all``), and the
         response body.
warehouse  fetch the events back with a consumer (``getmany``), decode each record as the warehouse does (the
         struct derived from the pydantic model, ``parse_event`` for what it refuses: ``decode_call``; with
         ``--decoder pydantic``, ``parse_event(expect=CallRecorded)`` as before ADR 0014), and
         ``ClickHouseEventStore.insert_calls`` into embedded chDB (dedup query, pivot to columns, insert).

A second table splits the Python-heavy stages, ``prepare_record`` and the warehouse's decoding, into their parts
(the events there are v2 events as ``prepare_record`` publishes them).

CPU is this thread's (``time.thread_time``): chDB's own threads (merges, its insert pool) would otherwise land
in whichever stage happens to run beside them. The garbage collector is tuned as the services tune it once they
have started (``llmops_kit.http.gc_tuning``), or the figures would include full collections the services do not
pay (with the default settings, validation measured here cost about twice as much).
``--profile`` also prints the top functions of each CPU stage by cProfile's cumulative time.
``--linger-ms`` and ``--max-batch-bytes`` try producer settings (the kit's producer uses linger 5 ms and
512 KiB batches). Nothing is written anywhere but a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import io
import json
import math
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from llmops_cli.demo import demo_calls
from llmops_ingest.adapters.redaction import NoopRedactor
from llmops_ingest.call_structs import decode_v2_body, derived_call, encode_call_event, struct_of
from llmops_ingest.handlers import (
    Accepted,
    IngestContext,
    RecordRules,
    check_started_at,
    prepare_batch,
    prepare_record,
    validate_call,
)
from llmops_ingest.wire import decode_json, extract_calls
from llmops_kit.http.gc_tuning import tune_after_startup
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.kafka.producer import EventProducer
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.fastcodec import reads_exactly
from llmops_schemas.ids import deterministic_uuid7
from llmops_schemas.registry import _strip_unknown, parse_event
from llmops_schemas.v2 import CallRecorded
from llmops_schemas.v2.calls import v1_data_as_v2
from llmops_warehouse.adapters.clickhouse_client import connect
from llmops_warehouse.adapters.clickhouse_store import ClickHouseEventStore
from llmops_warehouse.migrations import apply_migrations
from rich.console import Console
from rich.table import Table

console = Console()


@dataclass
class Stages:
    """Accumulated wall seconds per stage, and (with ``profile``) one cProfile per stage."""

    profile: bool
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    profiles: dict[str, cProfile.Profile] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        profiler = self.profiles.setdefault(name, cProfile.Profile()) if self.profile else None
        start, start_cpu = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            yield
        finally:
            if profiler is not None:
                profiler.disable()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - start_cpu


def bodies(calls: int, batch: int, shape: str = "v2") -> list[bytes]:
    """Request bodies of ``batch`` demo calls in ``shape`` (v2, as docs/ingest.md documents them, or v1)."""
    reshape = v1_data_as_v2 if shape == "v2" else dict
    records = [reshape(c) for c in demo_calls(calls, seed=3, prefix=f"stages-{time.time_ns()}")]
    return [json.dumps({"calls": records[i : i + batch]}).encode() for i in range(0, calls, batch)]


async def ingest_stages(stages: Stages, producer: EventProducer, payloads: list[bytes], decoder: str) -> None:
    for body in payloads:
        with stages.timed("ingest: decode body"):
            # as the entrypoint reads a body: a body of valid v2 calls straight into the structs (ADR 0063)
            derived = decoder == "derived" and reads_exactly(body)
            calls = decode_v2_body(body) if derived else None
            validated = calls is not None
            if calls is None:
                calls = extract_calls(decode_json(body))
        context = IngestContext(
            tenant_id="stages",
            source="/services/ingest",
            now=datetime.now(UTC),
            redactor=NoopRedactor(),
            derived=derived,
        )
        with stages.timed(f"ingest: prepare_batch ({decoder}: validate+envelope)"):
            outcome = prepare_batch(calls, context, validated=validated)
        with stages.timed("ingest: publish_encoded (wall includes the acks)"):
            await producer.publish_encoded([a.event for a in outcome.accepted])
        with stages.timed("ingest: response body"):
            _response(outcome.accepted)


def _response(accepted: list[Accepted]) -> bytes:
    return json.dumps({"accepted": [a.summary() for a in accepted], "rejected": []}).encode()


async def fetch_all(bootstrap: str, expected: int, stages: Stages) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        CallRecorded.topic, bootstrap_servers=bootstrap, group_id="stages", auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        with stages.timed("warehouse: fetch (getmany)"):
            while len(values) < expected:
                for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                    values.extend(r.value or b"" for r in records)
    finally:
        await consumer.stop()
    return values


def _call_decoder(kind: str) -> Callable[[bytes], Any]:
    """How the warehouse decodes a call record: ``derived`` (decode_call) or ``pydantic`` (before ADR 0014)."""
    if kind == "pydantic":
        return lambda value: parse_event(value, expect=CallRecorded)
    from llmops_warehouse.call_events import decode_call  # absent before ADR 0014: imported only when used

    return lambda value: decode_call(value, CallRecorded.topic)


def warehouse_stages(stages: Stages, values: list[bytes], workdir: Path, batch: int, decoder: str) -> None:
    client = connect(f"chdb://{workdir / 'clickhouse'}")
    apply_migrations(client)
    store = ClickHouseEventStore(client)
    decode = _call_decoder(decoder)
    for i in range(0, len(values), batch):
        with stages.timed(f"warehouse: decode ({decoder})"):
            events = [decode(v) for v in values[i : i + batch]]
        with stages.timed("warehouse: insert_calls (dedup+columns+insert)"):
            store.insert_calls(events)


def report(stages: Stages, calls: int) -> None:
    table = Table(title=f"{calls:,} calls: time per call by stage")
    for column in ("stage", "wall s", "wall us/call", "cpu us/call", "calls/s per core (cpu)"):
        table.add_column(column)
    for name, seconds in stages.seconds.items():
        cpu = stages.cpu[name] / calls
        rate = f"{1 / cpu:,.0f}" if cpu > 0 else "-"
        table.add_row(name, f"{seconds:.2f}", f"{seconds / calls * 1e6:,.0f}", f"{cpu * 1e6:,.0f}", rate)
    console.print(table)
    for name, profiler in stages.profiles.items():
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
        console.print(f"[bold]{name}[/]\n{out.getvalue()}")


async def run(args: argparse.Namespace, workdir: Path, stages: Stages) -> list[bytes]:
    broker = LocalKafkaBroker(workdir / "kafka").start()
    try:
        await ensure_topics(broker.bootstrap_servers, TopicCatalog.load(), [CallRecorded.topic])
        producer = EventProducer(broker.bootstrap_servers, service="stages", linger_ms=args.linger_ms)
        if args.max_batch_bytes:
            producer._producer._message_accumulator._batch_size = args.max_batch_bytes
        await producer.start()
        try:
            await ingest_stages(stages, producer, bodies(args.calls, args.batch, args.shape), args.decoder)
        finally:
            await producer.stop()
        return await fetch_all(broker.bootstrap_servers, args.calls, stages)
    finally:
        broker.stop()


def _per_call_us(fn: Callable[[Any], Any], inputs: Sequence[Any], repeat: int = 3) -> tuple[float, list[Any]]:
    """CPU microseconds per input of ``fn``, the best of ``repeat`` passes (as timeit does: the least disturbed)."""
    best, outputs = math.inf, []
    for _ in range(repeat):
        start = time.thread_time()
        outputs = [fn(item) for item in inputs]
        best = min(best, time.thread_time() - start)
    return best / len(inputs) * 1e6, outputs


def micro_costs(count: int, decoder: str) -> list[tuple[str, float]]:
    """CPU microseconds per call of each part of ingest's ``prepare_record`` and the warehouse's ``parse_event``."""
    records = list(demo_calls(count, seed=5, prefix="micro"))
    now = datetime.now(UTC)
    context = IngestContext(tenant_id="micro", source="/services/ingest", now=now, redactor=NoopRedactor())
    rows: list[tuple[str, float]] = []

    def measure(name: str, fn: Callable[[Any], Any], inputs: Sequence[Any]) -> list[Any]:
        us, outputs = _per_call_us(fn, inputs)
        rows.append((name, us))
        return outputs

    derived = dataclasses.replace(context, derived=True)
    measure(
        "ingest: prepare_record, derived struct (as the entrypoints run it)",
        lambda r: prepare_record(r, 0, derived),
        records,
    )
    measure(
        "ingest: prepare_record, pydantic (when the struct refuses)", lambda r: prepare_record(r, 0, context), records
    )
    structs = measure(
        "  derived_call (the strict struct; a v1-shaped record, reshaped)",
        lambda r: derived_call(v1_data_as_v2(r)),
        records,
    )
    calls = measure("  validate_call(record) (pydantic)", validate_call, records)
    measure("  struct_of(pydantic's call) (what a record only pydantic accepts adds)", struct_of, calls)
    measure("  check_started_at", lambda c: check_started_at(c.started_at, now, RecordRules()), structs)
    measure(
        "  deterministic_uuid7 (event id)",
        lambda c: deterministic_uuid7(int(c.started_at.timestamp() * 1000), "micro", c.call_id),
        structs,
    )
    measure(
        "  encode_call_event (envelope validated, msgspec encoding)",
        lambda c: encode_call_event(c, event_id="e", source="/s", tenant_id="micro", trace_id=None, key_id=None),
        structs,
    )
    measure(
        "  before: CloudEvent.wrap + to_json_bytes (pydantic)",
        lambda c: CloudEvent.wrap(c, source="/s", tenant_id="micro").to_json_bytes(),
        calls,
    )
    values = [a.value for a in (prepare_record(r, 0, derived) for r in records) if isinstance(a, Accepted)]
    measure(f"warehouse: decode ({decoder}), as the consumer decodes", _call_decoder(decoder), values)
    measure("warehouse: parse_event(expect=...)", lambda v: parse_event(v, expect=CallRecorded), values)
    measure("warehouse: parse_event, general path", parse_event, values)
    documents = measure("  json.loads", json.loads, values)
    datas = [d["data"] for d in documents]
    stripped = measure("  _strip_unknown (tolerant reading)", lambda d: _strip_unknown(CallRecorded, d), datas)
    measure("  CallRecorded.model_validate(data)", CallRecorded.model_validate, stripped)
    measure(
        "  CloudEvent[CallRecorded].model_validate(document) (all at once)",
        CloudEvent[CallRecorded].model_validate,
        documents,
    )
    if decoder == "derived":
        _derived_micro_costs(measure, values, records)
    return rows


def _derived_micro_costs(
    measure: Callable[[str, Callable[[Any], Any], Sequence[Any]], list[Any]], values: list[bytes], records: list[Any]
) -> None:
    """The derived decoder's parts (ADR 0014), and the columns built from its structs."""
    from llmops_schemas.fastcodec import event_decoder, to_struct
    from llmops_warehouse.call_columns import call_values

    structs = measure("  derived decoder alone (event_decoder(...).decode)", event_decoder(CallRecorded).decode, values)
    parsed = [parse_event(v, expect=CallRecorded) for v in values]
    measure("  to_struct(pydantic event) (what a refused record adds)", to_struct, parsed)
    measure("warehouse: insert columns from the struct (call_values)", lambda s: call_values([s]), structs)
    measure("warehouse: insert columns from a pydantic event (converted)", lambda e: call_values([e]), parsed)


def report_micro(rows: list[tuple[str, float]]) -> None:
    table = Table(title="CPU per call of the parts (in-process, no profiler)")
    table.add_column("part")
    table.add_column("us/call", justify="right")
    for name, us in rows:
        table.add_row(name, f"{us:,.1f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="calls per HTTP request (ingest)")
    parser.add_argument("--shape", choices=("v2", "v1"), default="v2", help="the calls' record shape")
    parser.add_argument("--insert-batch", type=int, default=5000, help="events per insert (WAREHOUSE_BATCH_SIZE)")
    parser.add_argument("--linger-ms", type=int, default=5)
    parser.add_argument("--max-batch-bytes", type=int, default=0, help="batch size in bytes (0: the kit's)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--decoder", choices=("derived", "pydantic"), default="derived", help="how the warehouse decodes calls"
    )
    args = parser.parse_args()
    stages = Stages(profile=args.profile)
    tune_after_startup()
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        values = asyncio.run(run(args, Path(tmp), stages))
        warehouse_stages(stages, values, Path(tmp), args.insert_batch, args.decoder)
    report(stages, args.calls)
    report_micro(micro_costs(min(args.calls, 5000), args.decoder))


if __name__ == "__main__":
    main()
