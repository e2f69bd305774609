"""drift-detection streaming benchmark: recorded calls per second folded into the windows by one faust worker.

Run with ``KAFKA_BOOTSTRAP_SERVERS=<broker> uv run python benchmarks/bench_drift_stream.py --calls 20000``
against a broker that has the catalog's topics (``make run``'s, or any). It publishes ``--calls`` calls of one
run (unique tenants, so they land on every partition), then starts a fresh worker (its own consumer group,
reading from the start: it folds whatever the topic held before as well, and the figure counts only this run's
calls) and times from its start until every call of the run is in its window; CPU seconds of this process over
the same span, and the same figures once the worker is folding (its start left out). ``--sample-rate`` of the
calls (0.05, as the service's default) get a prompt embedding from a stand-in for the gateway: a child process
answering 384 numbers per text after ``--embed-ms`` (20 ms), reached by the kit's real gateway client over HTTP,
so its CPU is not the worker's (no model server here). ``--fold-nothing`` replaces the fold with one that only
counts the run's calls: the cost of the Kafka client and faust alone. It measures and reports; it never fails
on a figure (target: 10,000 calls/s per worker).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from llmops_drift_detection.config import DriftDetectionSettings  # noqa: E402
from llmops_drift_detection.embeddings import PromptEmbedder  # noqa: E402
from llmops_drift_detection.metrics import EMBEDDINGS  # noqa: E402
from llmops_drift_detection.references import References  # noqa: E402
from llmops_drift_detection.stream import DriftStream  # noqa: E402
from llmops_kit.kafka.messages import ConsumedMessage  # noqa: E402
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


_GATEWAY = """
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
delay = float(sys.argv[1])
row = [(j % 17) / 17 for j in range(384)]
class Answer(BaseHTTPRequestHandler):
    def do_POST(self):
        texts = json.loads(self.rfile.read(int(self.headers["content-length"])))["input"]
        time.sleep(delay)
        body = json.dumps({"data": [{"index": i, "embedding": row} for i in range(len(texts))]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer.request_queue_size = 128  # a fold's requests come at once: the default 5 drops SYNs (1 s)
server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _embedder(
    rate: float, delay_s: float, settings: DriftDetectionSettings
) -> tuple[PromptEmbedder, PlatformClient, subprocess.Popen[str]]:
    """Embeddings from a stand-in gateway in a child process: ``delay_s`` per request, 384 numbers per text; the
    client bounded as the service bounds it (requests in flight, timeout, prompt length)."""
    child = subprocess.Popen([sys.executable, "-c", _GATEWAY, str(delay_s)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    port = int(child.stdout.readline())
    client = PlatformClient(
        "gateway", f"http://127.0.0.1:{port}", "key", attempts=1, max_in_flight=settings.embedding_max_in_flight
    )
    embedder = PromptEmbedder(
        GatewayClient(client), rate=rate, model="local-embedder", timeout_s=settings.embedding_timeout_s,
        backoff_s=settings.embedding_backoff_s, max_chars=settings.embedding_max_chars,
    )  # fmt: skip
    return embedder, client, child


async def main(count: int, bootstrap: str, rate: float, delay_s: float, fold_nothing: bool) -> None:
    run = uuid.uuid4().hex[:8]
    producer = EventProducer(bootstrap, service="bench")
    await producer.start()
    await producer.publish_many(_calls(run, count))
    settings = DriftDetectionSettings(
        kafka_bootstrap_servers=bootstrap, app_id=f"drift-detection-bench-{run}", window_s=86_400,
        max_calls_per_window=100_000,
    )  # fmt: skip
    embedder, gateway, child = _embedder(rate, delay_s, settings)
    await gateway.start()
    references = References("previous_window", 30)
    stream = DriftStream(settings, out=producer, dead_letters=producer, references=references, embedder=embedder)
    seen = [0]
    if fold_nothing:  # only counted: what the worker costs without the fold
        marker = run.encode()

        async def count_only(messages: Sequence[ConsumedMessage]) -> None:
            seen[0] += sum(marker in message.value for message in messages)

        stream.fold_batch = count_only  # type: ignore[method-assign]
        stream.app.fold_route = replace(stream.app.fold_route, fold=count_only)  # type: ignore[type-var]
    wall, cpu = time.monotonic(), time.process_time()
    await stream.start()
    tenants = {f"bench-{run}-{i % 12}" for i in range(count)}
    held, first = 0, None
    while held < count:
        await asyncio.sleep(0.1)  # polling the index (cheap): the figure is the time until every call is held
        held = seen[0] if fold_nothing else stream.entries.calls_held(tenants)
        if held and first is None:  # the worker is up and folding: from here on, the steady rate
            first = (held, time.monotonic(), time.process_time())
    elapsed, used = time.monotonic() - wall, time.process_time() - cpu
    assert first is not None
    steady = count - first[0]
    steady_s, steady_cpu = time.monotonic() - first[1], time.process_time() - first[2]
    await stream.stop()
    await gateway.stop()
    child.terminate()
    await producer.stop()
    embedded = {outcome: EMBEDDINGS.labels(outcome)._value.get() for outcome in ("embedded", "failed", "timeout")}
    print(
        f"{count:,} calls of this run folded in {elapsed:.1f} s wall ({count / elapsed:,.0f} calls/s, worker start "
        f"and the topic's earlier calls included), {used:.1f} CPU s ({used / count * 1e6:,.0f} CPU µs per call); "
        f"once folding: {steady:,} calls in {steady_s:.1f} s ({steady / steady_s:,.0f} calls/s), "
        f"{steady_cpu / steady * 1e6:,.0f} CPU µs per call; embeddings (sample {rate}): {embedded}"
        + ("; fold: nothing (counted only)" if fold_nothing else "")
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--sample-rate", type=float, default=0.05)
    parser.add_argument("--embed-ms", type=float, default=20.0)
    parser.add_argument("--fold-nothing", action="store_true", help="count the calls only: faust and Kafka alone")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    asyncio.run(main(args.calls, bootstrap, args.sample_rate, args.embed_ms / 1000, args.fold_nothing))
