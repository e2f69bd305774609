"""drift-detection streaming benchmark: recorded calls per second folded into the windows by one faust worker.

Run with ``KAFKA_BOOTSTRAP_SERVERS=<broker> uv run python benchmarks/bench_drift_stream.py --calls 20000``
against a broker that has the catalog's topics (``make run``'s, or any). It publishes ``--calls`` calls of one
run (unique tenants, so they land on every partition), then starts a fresh worker (its own consumer group,
reading from the start: it folds whatever the topic held before as well, and the figure counts only this run's
calls) and times from its start until every call of the run is in its window; CPU seconds of this process over
the same span, and the same figures once the worker is folding (its start left out). ``--sample-rate`` of the
calls (0.05, as the service's default) get a prompt embedding from a stand-in for the gateway (the kit's real
gateway client over an in-process transport answering 384 numbers per text after ``--embed-ms``, 20 ms: no
model server here). It measures and reports; it never fails on a figure (target: 10,000 calls/s per worker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from llmops_drift_detection.config import DriftDetectionSettings  # noqa: E402
from llmops_drift_detection.embeddings import PromptEmbedder  # noqa: E402
from llmops_drift_detection.metrics import EMBEDDINGS  # noqa: E402
from llmops_drift_detection.references import References  # noqa: E402
from llmops_drift_detection.stream import DriftStream  # noqa: E402
from llmops_kit.kafka.producer import EventProducer  # noqa: E402
from llmops_kit.platform_client import GatewayClient, PlatformClient  # noqa: E402
from llmops_schemas import CloudEvent  # noqa: E402
from llmops_schemas.v2 import CallRecorded  # noqa: E402


def _calls(run: str, count: int) -> list[CloudEvent[CallRecorded]]:
    now = datetime.now(UTC)
    return [
        CloudEvent.wrap(
            CallRecorded.model_validate({
                "call_id": f"{run}-{i}", "app": f"app-{i % 5}", "model": ("gpt-4o-mini", "gpt-4o")[i % 2],
                "provider": "openai", "messages": [{"role": "user", "content": "Where is my parcel?" * (1 + i % 4)}],
                "choices": [{"output": "It left the warehouse.", "finish_reason": "stop"}], "started_at": now,
                "latency_ms": 100.0 + i % 300,
                "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
            }),
            source="/bench", tenant_id=f"bench-{run}-{i % 12}",
        )
        for i in range(count)
    ]  # fmt: skip


def _embedder(rate: float, delay_s: float) -> tuple[PromptEmbedder, PlatformClient]:
    """Embeddings from a stand-in gateway: ``delay_s`` per request, 384 numbers per text."""

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(delay_s)
        texts = json.loads(request.content)["input"]
        data = [{"index": i, "embedding": [(i + j) % 17 / 17 for j in range(384)]} for i in range(len(texts))]
        return httpx.Response(200, json={"data": data})

    client = PlatformClient("gateway", "http://gateway", "key", transport=httpx.MockTransport(answer), attempts=1)
    embedder = PromptEmbedder(
        GatewayClient(client), rate=rate, model="local-embedder", timeout_s=2, backoff_s=30, max_chars=2000
    )
    return embedder, client


async def main(count: int, bootstrap: str, rate: float, delay_s: float) -> None:
    run = uuid.uuid4().hex[:8]
    producer = EventProducer(bootstrap, service="bench")
    await producer.start()
    await producer.publish_many(_calls(run, count))
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=bootstrap, app_id=f"drift-detection-bench-{run}", window_s=86_400,
        max_calls_per_window=100_000,
    )  # fmt: skip
    embedder, gateway = _embedder(rate, delay_s)
    await gateway.start()
    references = References("previous_window", 30)
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=references, embedder=embedder)
    wall, cpu = time.monotonic(), time.process_time()
    await stream.start()
    tenants = {f"bench-{run}-{i % 12}" for i in range(count)}
    held, first = 0, None
    while held < count:
        await asyncio.sleep(0.1)  # polling the index (cheap): the figure is the time until every call is held
        held = stream.entries.calls_held(tenants)
        if held and first is None:  # the worker is up and folding: from here on, the steady rate
            first = (held, time.monotonic(), time.process_time())
    elapsed, used = time.monotonic() - wall, time.process_time() - cpu
    assert first is not None
    steady = count - first[0]
    steady_s, steady_cpu = time.monotonic() - first[1], time.process_time() - first[2]
    await stream.stop()
    await gateway.stop()
    await producer.stop()
    embedded = {outcome: EMBEDDINGS.labels(outcome)._value.get() for outcome in ("embedded", "failed", "timeout")}
    print(
        f"{count:,} calls of this run folded in {elapsed:.1f} s wall ({count / elapsed:,.0f} calls/s, worker start "
        f"and the topic's earlier calls included), {used:.1f} CPU s ({used / count * 1e6:,.0f} CPU µs per call); "
        f"once folding: {steady:,} calls in {steady_s:.1f} s ({steady / steady_s:,.0f} calls/s), "
        f"{steady_cpu / steady * 1e6:,.0f} CPU µs per call; embeddings (sample {rate}): {embedded}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--sample-rate", type=float, default=0.05)
    parser.add_argument("--embed-ms", type=float, default=20.0)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    asyncio.run(main(args.calls, bootstrap, args.sample_rate, args.embed_ms / 1000))
