"""Cost benchmark: CPU per cost event of the pricer, stage by stage, in one process.

Run with ``uv run python benchmarks/bench_cost.py`` (``--calls``, ``--rounds``). It measures and reports; it
never fails on a figure.

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
import gc
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops_cost.entrypoints.consumer import read_call  # noqa: E402
from llmops_cost.handlers import Pricer  # noqa: E402
from llmops_cost.prices import PriceBook, load_catalog  # noqa: E402
from llmops_cost.tokens import TokenCounter  # noqa: E402
from llmops_inference.adapters.budgets import LedgerBudgets  # noqa: E402
from llmops_inference.ports import CallContext  # noqa: E402
from llmops_kit.budgets import BudgetLedger  # noqa: E402
from llmops_kit.kafka.messages import ConsumedMessage  # noqa: E402
from llmops_kit.kafka.producer import EncodedEvent  # noqa: E402
from llmops_schemas import CloudEvent  # noqa: E402
from llmops_schemas.v1 import BudgetConfigured, BudgetScope  # noqa: E402
from llmops_schemas.v2 import CallRecorded  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budgets", type=int, default=20)
    parser.add_argument("--checks", type=int, default=50_000)
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
    costs = [pricer.price(read_call(m)) for m in messages]
    timings = sorted(_budget_checks(costs, args.budgets, args.checks))
    p50, p99 = timings[len(timings) // 2], timings[int(len(timings) * 0.99)]
    print(f"budget check, {args.budgets} budgets, {args.checks} checks: p50 {p50:.1f} us, p99 {p99:.1f} us")


if __name__ == "__main__":
    main()
