"""Feedback API throughput: feedback events accepted per second by one feedback process (issue 9: >= 5,000/s).

Starts a Kafka broker (Maven Central jars in .cache, as `llmops up` does) and one `llmops-feedback` process, then
runs two phases, each for ``--duration`` seconds:

* **batch**: ``--concurrency`` async senders POST ``/v1/feedback/batch`` bodies of ``--batch-size`` items (a mix
  of thumbs, ratings, labels, comments and corrections, each with its own ``feedback_id``);
* **single**: the same senders POST one item per request to ``/v1/feedback``, as end users' pages do.

"Accepted" means answered 202 after Kafka acknowledged every event (``acks=all``, idempotent producer), so the
rate is of events on the log. CPU seconds are read from ``/proc`` per process group (the feedback process, the
broker, this client) and for the whole machine, so a busy host shows up beside the rate: CPU per event is the
steadier figure on a shared machine.

``--write docs/benchmarks.md`` replaces the section between the ``bench-feedback`` markers of that file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import benchkit
import httpx
import yaml
from benchkit import CpuWindow, fmt, md_table, met
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.infra.ports import free_port
from llmops_kit.infra.process import ManagedProcess

TARGET = 5_000.0
BEGIN = "<!-- bench-feedback:begin (written by benchmarks/bench_feedback.py --write; edits here are lost) -->"
END = "<!-- bench-feedback:end -->"
KINDS = (
    {"kind": "thumbs", "value": 1},
    {"kind": "rating", "value": 4, "comment": "Helpful, a bit long."},
    {"kind": "label", "label": "off-topic"},
    {"kind": "thumbs", "value": 0},
    {"kind": "correction", "correction": "Click 'Forgot password' on the sign-in page, then follow the e-mail."},
)


def item(batch: str, n: int, given_at: str) -> dict[str, object]:
    return {"feedback_id": f"bench-{batch}-{n}", "call_id": f"call-{batch}-{n % 97}", "given_at": given_at,
            "user_id": f"user-{n % 13}", **KINDS[n % len(KINDS)]}  # fmt: skip


def bodies(count: int, size: int) -> list[bytes]:
    """``count`` pre-encoded bodies of ``size`` items (one item: a bare object), every feedback id unique."""
    given_at = dt.datetime.now(dt.UTC).isoformat()
    encoded = []
    for _ in range(count):
        batch = uuid.uuid4().hex[:12]
        items = [item(batch, n, given_at) for n in range(size)]
        encoded.append(json.dumps(items[0] if size == 1 else {"items": items}).encode())
    return encoded


class Service:
    """A broker and one feedback process in a temporary directory, with one reviewer key."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.key = generate_key()
        self.port = free_port()
        self.broker = LocalKafkaBroker(workdir / "kafka")
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        self.broker.start()
        keys = self.workdir / "api-keys.yaml"
        entry = {"id": "bench-reviewer", "tenant_id": "bench", "role": "reviewer", "sha256": hash_key(self.key)}
        keys.write_text(yaml.safe_dump({"keys": [entry]}))
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers, "LLMOPS_API_KEYS_FILE": str(keys),
               "LOG_LEVEL": "WARNING", "FEEDBACK_PORT": str(self.port)}  # fmt: skip
        script = str(Path(sys.executable).with_name("llmops-feedback"))
        self.process = ManagedProcess("feedback", [script], log_path=self.workdir / "feedback.log", env=env,
                                      ready_url=f"{self.url}/readyz")  # fmt: skip
        self.process.start()
        self.process.wait_ready(timeout_s=120)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pgids(self) -> dict[str, int]:
        groups = {"kafka": self.broker.pid} if self.broker.pid is not None else {}
        if self.process is not None and self.process.pid is not None:
            groups["feedback"] = self.process.pid
        return groups

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.broker.stop()


async def phase(
    service: Service, path: str, payloads: list[bytes], size: int, concurrency: int, args: argparse.Namespace
) -> dict[str, float]:
    """Send for ``--duration`` seconds; events accepted per second, refused requests, CPU per event."""
    headers = {"Authorization": f"Bearer {service.key}", "Content-Type": "application/json"}
    accepted = errors = 0
    stop = time.monotonic() + args.duration
    cursor = iter(range(10**12))

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal accepted, errors
        while time.monotonic() < stop:
            body = payloads[next(cursor) % len(payloads)]
            response = await client.post(path, content=body, headers=headers)
            if response.status_code == 202:
                accepted += len(response.json()["accepted"]) if size > 1 else 1
            else:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    before = benchkit.cpu_snapshot(service.pgids())
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    window = CpuWindow.between(before, benchkit.cpu_snapshot(service.pgids()))
    per_event = {k: v / max(accepted, 1) * 1e6 for k, v in window.seconds.items()}
    return {"rate": accepted / elapsed, "accepted": accepted, "errors": errors, "elapsed": elapsed,
            "feedback_cores": window.seconds.get("feedback", 0.0) / elapsed,
            "us_feedback": per_event.get("feedback", 0.0), "us_kafka": per_event.get("kafka", 0.0),
            "us_client": per_event.get(benchkit.CLIENT, 0.0),
            "rest_cores": benchkit.rest_of_machine(window) / elapsed}  # fmt: skip


def report(results: dict[str, dict[str, float]], args: argparse.Namespace, note: str) -> list[str]:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        (name, f"{r['rate']:,.0f}", f"{r['accepted']:,.0f}", str(int(r["errors"])), fmt(r["us_feedback"], " us"),
         f"{1e6 / r['us_feedback']:,.0f}" if r["us_feedback"] else "-", f"{r['feedback_cores']:.2f}",
         fmt(r["us_kafka"], " us"), fmt(r["us_client"], " us"), f"{r['rest_cores']:.2f}")
        for name, r in results.items()
    ]  # fmt: skip
    best = max(r["rate"] for r in results.values())
    lines = [BEGIN, "", f"## Latest run ({when})", "", note, ""]
    lines += [f"- target: >= {TARGET:,.0f} feedback events/s accepted per process: **{met(best >= TARGET)}** "
              f"(best phase {best:,.0f}/s)",
              f"- knobs: {args.duration:.0f} s per phase, concurrency {args.concurrency} (batch) and "
              f"{args.single_concurrency} (single), batch size {args.batch_size}",
              f"- machine: {', '.join(f'{k} {v}' for k, v in benchkit.machine_facts().items())}", ""]  # fmt: skip
    header = ("phase", "events/s", "accepted", "refused", "CPU/event feedback", "events/s per feedback core",
              "feedback cores", "CPU/event Kafka", "CPU/event client", "rest of machine (cores)")  # fmt: skip
    return [*lines, *md_table(rows, header), "", END]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="senders in flight (the per-key limit is 16)")
    parser.add_argument("--single-concurrency", type=int, default=16, help="senders in flight, single items")
    parser.add_argument("--batch-size", type=int, default=200, help="items per batch request")
    parser.add_argument("--note", default="", help="a sentence on the conditions, written above the figures")
    parser.add_argument("--write", type=Path, metavar="PATH", help="rewrite the bench-feedback section of this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as folder:
        service = Service(Path(folder))
        try:
            service.start()
            batches, singles = bodies(64, args.batch_size), bodies(20_000, 1)
            batch = phase(service, "/v1/feedback/batch", batches, args.batch_size, args.concurrency, args)
            results = {"batch": asyncio.run(batch)}
            single = phase(service, "/v1/feedback", singles, 1, args.single_concurrency, args)
            results["single"] = asyncio.run(single)
        finally:
            service.stop()
    section = report(results, args, args.note)
    print("\n".join(section))
    if args.write:
        text = args.write.read_text()
        args.write.write_text(benchkit.replace_section(text, "\n".join(section), BEGIN, END))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
