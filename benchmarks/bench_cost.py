"""Cost benchmark: CPU per cost event of the pricer, stage by stage, in one process.

Run with ``uv run python benchmarks/bench_cost.py`` (``--calls``, ``--rounds``). It measures and reports; it
never fails on a figure.

``--kafka`` adds the figure with Kafka in the loop: a fresh broker (tmp dir) holds ``--kafka-calls`` calls on
``llmops.calls.recorded`` (produced before anything is timed), and the service's own consumer loop
(``build_consumer``: aiokafka fetch, ``read_call``, pricing, the producer's send with ``acks=all``, the commit)
prices them in this process. Timed from the first batch's costs acknowledged to the last's, so the group join
is left out; events/s in wall time and CPU per event (``time.process_time``: every thread of this process, the
broker's JVM excluded). ``--profile`` writes the loop's cProfile (cumulative, top 30) to stdout.

What is timed is what the cost service's consumer does per record between Kafka's fetch and Kafka's send:
read the call event (``read_call``: the derived msgspec struct, pydantic for what it refuses), price it (catalog lookup,
decimal arithmetic, the ``llmops.cost.recorded.v2`` event) and encode the cost record (``EncodedEvent``, what the
producer sends). Calls are built and serialised before anything is timed; half carry usage, a quarter none (offline
token estimate with the model's BPE encoding), a quarter name a model the catalog lacks (unpriced).

Budget check. What the gateway adds before each call: ``LedgerBudgets.check`` (the kit's ledger; no I/O) for a
tenant with ``--budgets`` budgets (a tenant-wide one, the rest per app, key and model), with the spend of
``--calls`` cost events counted and reservations settled as calls finish; wall time per check, p50 and p99.

CPU time (``time.process_time``) rather than wall time: this host is shared, and CPU per event is the figure that
says how many events one process can price (events/s per process = 1 / CPU per event). The median of
``--rounds`` rounds is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops_cost.config import CostSettings  # noqa: E402
from llmops_cost.entrypoints.consumer import build_consumer, read_call  # noqa: E402
from llmops_cost.handlers import Pricer  # noqa: E402
from llmops_cost.prices import PriceBook, PriceStore, load_catalog  # noqa: E402
from llmops_cost.tokens import TokenCounter  # noqa: E402
from llmops_inference.adapters.budgets import LedgerBudgets  # noqa: E402
from llmops_inference.ports import CallContext  # noqa: E402
from llmops_kit.budgets import BudgetLedger  # noqa: E402
from llmops_kit.http.gc_tuning import tune_after_startup  # noqa: E402
from llmops_kit.infra import LocalKafkaBroker  # noqa: E402
from llmops_kit.kafka.messages import ConsumedMessage  # noqa: E402
from llmops_kit.kafka.producer import EncodedEvent, EventProducer  # noqa: E402
from llmops_kit.kafka.topics import TopicCatalog, ensure_topics  # noqa: E402
from llmops_schemas import CloudEvent  # noqa: E402
from llmops_schemas.v1 import BudgetConfigured, BudgetScope  # noqa: E402
from llmops_schemas.v2 import CallRecorded, CostRecorded  # noqa: E402

START = datetime(2026, 3, 14, tzinfo=UTC)


def _call(i: int) -> bytes:
    kind = i % 4
    data: dict[str, Any] = {
        "call_id": f"call-{i:07d}",
        "app": f"app-{i % 5}",
        "model": "no-such-model" if kind == 3 else ("gpt-4o-mini", "gpt-4o", "claude-haiku-4-5")[i % 3],
        "provider": "openai",
        "messages": [{"role": "user", "content": f"Where is parcel {i}? It was due on Tuesday."}],
        "choices": [{"output": "It left the depot this morning and arrives tomorrow.", "finish_reason": "stop"}],
        "started_at": (START + timedelta(milliseconds=i)).isoformat(),
        "latency_ms": 812.5,
        "prompt": {"name": "support-answer", "version": 3},
        "experiment": {"experiment_id": "exp-tone", "variant": "concise"},
    }
    if kind != 2:
        data["usage"] = {"prompt_tokens": 120 + i % 50, "completion_tokens": 30, "total_tokens": 150 + i % 50}
    event = CloudEvent.wrap(CallRecorded.model_validate(data), source="/services/ingest", tenant_id="acme")
    return event.to_json_bytes()


def _round(messages: list[ConsumedMessage], pricer: Pricer) -> dict[str, float]:
    gc.collect()
    t0 = time.process_time()
    calls = [read_call(m) for m in messages]
    t1 = time.process_time()
    costs = [pricer.price(c) for c in calls]
    t2 = time.process_time()
    for cost in costs:
        EncodedEvent.of(cost)
    t3 = time.process_time()
    n = len(messages)
    return {"decode": (t1 - t0) / n, "price": (t2 - t1) / n, "encode": (t3 - t2) / n, "total": (t3 - t0) / n}


def _budget(i: int) -> BudgetConfigured:
    kind, value = [("tenant", None), ("app", f"app-{i % 5}"), ("api_key", f"key-{i}"), ("model", "gpt-4o-mini")][i % 4]
    return BudgetConfigured(
        budget_id=f"b{i}", name=f"b{i}", scope=BudgetScope(kind=kind, value=value), period="monthly",  # type: ignore[arg-type]
        limit=Decimal(10**9), action="block", version=1, updated_by="bench", updated_at=START,
    )  # fmt: skip


def _budget_checks(costs: list[Any], budgets: int, checks: int) -> list[float]:
    ledger = BudgetLedger()
    for i in range(budgets):
        ledger.put("acme", _budget(i))
    for cost in costs:
        ledger.record("acme", cost.id, cost.data.model_copy(update={"call_started_at": datetime.now(UTC)}))
    guard = LedgerBudgets(ledger)

    async def run() -> list[float]:
        timings = []
        for i in range(checks):
            context = CallContext(tenant_id="acme", key_id="key-1", app=f"app-{i % 5}", endpoint="chat",
                                  call_id=f"bench-{i}")  # fmt: skip
            t0 = time.perf_counter_ns()
            await guard.check(context, "gpt-4o-mini")
            timings.append((time.perf_counter_ns() - t0) / 1e3)
            ledger.record("acme", f"settle-{i}", SimpleNamespace(  # the call's cost event settles it
                call_id=f"bench-{i}", cost=Decimal("0.0001"), app=context.app, model="gpt-4o-mini", key_id="key-1",
                user_id=None, call_started_at=datetime.now(UTC)))  # fmt: skip
        return timings

    return asyncio.run(run())


class _Counted:
    """The loop's publisher: the real producer, with the time and CPU at each batch's acknowledgement."""

    def __init__(self, producer: EventProducer, total: int) -> None:
        self.producer, self.total, self.published = producer, total, 0
        self.first: tuple[float, float, int] | None = None
        self.last: tuple[float, float] = (0.0, 0.0)
        self.done = asyncio.Event()
        self.sending_s = 0.0
        """Wall time inside the producer's publish (encoding, queueing, waiting for acks=all)."""

    async def publish_many(self, events: Sequence[CloudEvent[Any]], *, topic: str | None = None) -> None:
        started = time.perf_counter()
        await self.producer.publish_many(events, topic=topic)
        self.sending_s += time.perf_counter() - started
        self.published += len(events)
        mark = (time.perf_counter(), time.process_time())
        if self.first is None:
            self.first = (*mark, self.published)
        self.last = mark
        if self.published >= self.total:
            self.done.set()

    async def publish_encoded(self, events: Sequence[EncodedEvent]) -> None:
        await self.producer.publish_encoded(events)


async def _through_kafka(raw: list[bytes], batch: int, profile: bool) -> dict[str, float]:
    """Calls on a real broker -> the cost service's consumer loop -> cost events acknowledged (see the docstring)."""
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        broker = LocalKafkaBroker(Path(tmp) / "kafka").start()
        try:
            bootstrap = broker.bootstrap_servers
            await ensure_topics(bootstrap, TopicCatalog.load(), [CallRecorded.topic, CostRecorded.topic])
            feeder = EventProducer(bootstrap, service="bench-feed")
            await feeder.start()
            header = (("ce_type", CallRecorded.event_type.encode()),)
            for i in range(0, len(raw), 5_000):
                await feeder.send_many((CallRecorded.topic, b"acme", v, header) for v in raw[i : i + 5_000])
            await feeder.stop()
            settings = CostSettings(
                kafka_bootstrap_servers=bootstrap, consumer_group=f"bench-{uuid.uuid4().hex[:8]}", batch_size=batch
            )
            book = PriceBook(load_catalog())
            store = PriceStore(book)
            store.mark_caught_up()
            pricer = Pricer(book, TokenCounter(), settings.source, lambda: datetime.now(UTC))
            producer = EventProducer(bootstrap, service="cost")
            out = _Counted(producer, len(raw))
            loop = build_consumer(settings, store, pricer, out, producer)  # type: ignore[arg-type]
            pricer.price(read_call(ConsumedMessage(CallRecorded.topic, 0, 0, b"acme", raw[0], (), 0)))  # warm
            tune_after_startup()  # as the service's process does once it started
            profiler = cProfile.Profile() if profile else None
            await producer.start()
            await loop.start()
            if profiler is not None:
                profiler.enable()
            await asyncio.wait_for(out.done.wait(), timeout=600)
            if profiler is not None:
                profiler.disable()
            await loop.stop()
            await producer.stop()
        finally:
            broker.stop()
    assert out.first is not None
    wall0, cpu0, before = out.first
    events = out.published - before
    wall, cpu = out.last[0] - wall0, out.last[1] - cpu0
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
        print(text.getvalue())
    return {
        "events": events, "wall_s": wall, "rate": events / wall, "cpu_us": cpu / events * 1e6,
        "sending": out.sending_s / (out.last[0] - wall0 + 1e-9),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budgets", type=int, default=20)
    parser.add_argument("--checks", type=int, default=50_000)
    parser.add_argument("--kafka", action="store_true", help="also measure with a broker in the loop")
    parser.add_argument("--kafka-calls", type=int, default=100_000)
    parser.add_argument("--kafka-batch", type=int, default=CostSettings().batch_size)
    parser.add_argument("--profile", action="store_true", help="cProfile the loop of the --kafka run")
    parser.add_argument("--skip-budget", action="store_true", help="leave out the budget check")
    args = parser.parse_args()
    raw = [_call(i) for i in range(args.calls)]
    messages = [ConsumedMessage("llmops.calls.recorded", 0, i, b"acme", v, (), 0) for i, v in enumerate(raw)]
    pricer = Pricer(PriceBook(load_catalog()), TokenCounter(), "/services/cost", lambda: datetime.now(UTC))
    _round(messages[:1000], pricer)  # warm: imports, caches, the BPE encodings
    rounds = [_round(messages, pricer) for _ in range(args.rounds)]
    median = {stage: statistics.median(r[stage] for r in rounds) for stage in rounds[0]}
    print(f"{args.calls} calls x {args.rounds} rounds, median CPU per event:")
    for stage, seconds in median.items():
        print(f"  {stage:7s} {seconds * 1e6:7.1f} us")
    print(f"  => {1 / median['total']:,.0f} cost events/s per process (CPU-bound, before Kafka's client)")
    if args.kafka:
        found = asyncio.run(_through_kafka([_call(i) for i in range(args.kafka_calls)], args.kafka_batch, args.profile))
        print(
            f"with Kafka in the loop ({found['events']:,.0f} calls, batches of {args.kafka_batch}): "
            f"{found['rate']:,.0f} cost events/s wall, {found['cpu_us']:.1f} us CPU per event "
            f"(=> {1e6 / found['cpu_us']:,.0f}/s per process if it had a core to itself); "
            f"{found['sending']:.0%} of the time in the producer's publish (encode, send, acks)"
        )
    if args.skip_budget:
        return
    costs = [pricer.price(read_call(m)) for m in messages]
    timings = sorted(_budget_checks(costs, args.budgets, args.checks))
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    print(f"budget check, {args.budgets} budgets, {args.checks} checks: p50 {p50:.1f} us, p99 {p99:.1f} us")


if __name__ == "__main__":
    main()
