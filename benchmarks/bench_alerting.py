"""Alert latency: from an event on Kafka to the notifier's call, with 100 rules at 1,000 events/s (issue 11:
p95 under 5 s).

Starts a Kafka broker (Maven Central jars in .cache, as `llmops up` does), one `llmops-alerting` process and, in
this process, a local PagerDuty-format receiver (on loopback, allowed by ``ALERTING_ALLOWED_NETWORKS``). Through
the API it sets one PagerDuty notifier and 100 drift rules, one per app. Then it publishes drift reports at
``--rate`` events/s for ``--duration`` seconds, spread over the 100 apps; ``--flip`` of them change an app's
verdict (drifted / not drifted), so each of those fires or resolves one alert and makes one notifier call, the
others only confirm a state (deduplicated). The latency of a notification is the receiver's arrival time minus
the time the producer handed its event to Kafka (the event's id is in the call's ``custom_details``), both read
from this machine's clock. CPU seconds per process group and for the whole machine are read from ``/proc``, so
a busy host shows up beside the figures.

``--write docs/benchmarks.md`` replaces the section between the ``bench-alerting`` markers of that file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import benchkit
import httpx
import yaml
from benchkit import CpuWindow, fmt, md_table, met, percentile
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker
from llmops_kit.infra.ports import free_port
from llmops_kit.infra.process import ManagedProcess
from llmops_kit.kafka.producer import EventProducer
from llmops_schemas import CloudEvent
from llmops_schemas.v1 import DriftReported, TimeWindow

TARGET_P95_S = 5.0
APPS = 100
BEGIN = "<!-- bench-alerting:begin (written by benchmarks/bench_alerting.py --write; edits here are lost) -->"
END = "<!-- bench-alerting:end -->"


class Receiver:
    """A PagerDuty-format receiver: notes when each call arrived, by the event that caused it."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.calls = 0
        self.changed = asyncio.Event()
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = json.loads(await reader.readexactly(length))
                self.arrived.setdefault(body["payload"]["custom_details"]["source_event_id"], time.time())
                self.calls += 1
                self.changed.set()
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def start(self) -> asyncio.Server:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return server


class Service:
    """A broker and one alerting process in a temporary directory, with one admin key."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.key = generate_key()
        self.port = free_port()
        self.broker = LocalKafkaBroker(workdir / "kafka")
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        self.broker.start()
        keys = self.workdir / "api-keys.yaml"
        entry = {"id": "bench-admin", "tenant_id": "bench", "role": "admin", "sha256": hash_key(self.key)}
        keys.write_text(yaml.safe_dump({"keys": [entry]}))
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "LLMOPS_API_KEYS_FILE": str(keys),
            "LOG_LEVEL": "WARNING",
            "ALERTING_PORT": str(self.port),
            "ALERTING_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "ALERTING_SECRETS_JSON": json.dumps({"pd": "B" * 32}),
        }
        script = str(Path(sys.executable).with_name("llmops-alerting"))
        self.process = ManagedProcess(
            "alerting", [script], log_path=self.workdir / "alerting.log", env=env, ready_url=f"{self.url}/readyz"
        )
        self.process.start()
        self.process.wait_ready(timeout_s=180)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pgids(self) -> dict[str, int]:
        groups = {"kafka": self.broker.pid} if self.broker.pid is not None else {}
        if self.process is not None and self.process.pid is not None:
            groups["alerting"] = self.process.pid
        return groups

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.broker.stop()


def report_event(app: str, drifted: bool, at: dt.datetime) -> CloudEvent[DriftReported]:
    data = DriftReported(
        report_id=uuid.uuid4().hex,
        app=app,
        feature="prompt_length",
        statistic="psi",
        value=0.4 if drifted else 0.01,
        threshold=0.2,
        drifted=drifted,
        window=TimeWindow(start=at - dt.timedelta(minutes=5), end=at),
        baseline=TimeWindow(start=at - dt.timedelta(days=7), end=at - dt.timedelta(days=1)),
        sample_size=500,
        baseline_sample_size=5000,
        computed_at=at,
    )
    return CloudEvent.wrap(data, source="/bench", tenant_id="bench")


async def configure(service: Service, receiver: Receiver) -> None:
    headers = {"Authorization": f"Bearer {service.key}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=30) as api:
        notifier = {"kind": "pagerduty", "url": f"http://127.0.0.1:{receiver.port}/v2/enqueue", "secret_ref": "pd"}
        (await api.put("/v1/notifiers/pd", json=notifier)).raise_for_status()
        for n in range(APPS):
            rule = {"name": f"drift app-{n}", "kind": "drift", "app": f"app-{n}", "notifiers": ["pd"]}
            (await api.put(f"/v1/rules/drift-{n}", json=rule)).raise_for_status()


async def wait_for_all(receiver: Receiver, expected: set[str], timeout_s: float) -> None:
    """Until every expected notification arrived, or ``timeout_s`` passed (the report then shows the missing)."""
    deadline = time.monotonic() + timeout_s
    while not expected <= receiver.arrived.keys() and time.monotonic() < deadline:
        receiver.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.changed.wait(), max(0.0, deadline - time.monotonic()))


async def load(service: Service, receiver: Receiver, args: argparse.Namespace) -> dict[str, float]:
    """Publish at ``--rate`` for ``--duration``; wait for the notifications; latencies and CPU."""
    producer = EventProducer(service.broker.bootstrap_servers, service="bench")
    await producer.start()
    state = dict.fromkeys(range(APPS), False)
    sent: dict[str, float] = {}
    rng = random.Random(7)
    tick = 0.1
    per_tick = int(args.rate * tick)
    before = benchkit.cpu_snapshot(service.pgids())
    began = time.monotonic()
    published = 0
    try:
        while time.monotonic() - began < args.duration:
            now = dt.datetime.now(dt.UTC)
            batch, flips = [], []
            for _ in range(per_tick):
                app = rng.randrange(APPS)
                if rng.random() < args.flip:
                    state[app] = not state[app]
                    batch.append(report_event(f"app-{app}", state[app], now))
                    flips.append(batch[-1].id)
                else:
                    batch.append(report_event(f"app-{app}", state[app], now))
            await producer.publish_many(batch)
            handed = time.time()
            sent.update(dict.fromkeys(flips, handed))
            published += len(batch)
            await asyncio.sleep(max(0.0, began + (published / args.rate) - time.monotonic()))
        elapsed = time.monotonic() - began
        await wait_for_all(receiver, set(sent), timeout_s=60)
    finally:
        await producer.stop()
    window = CpuWindow.between(before, benchkit.cpu_snapshot(service.pgids()))
    latencies = [receiver.arrived[e] - t for e, t in sent.items() if e in receiver.arrived]
    measured = latencies or [float("nan")]
    return {
        "published": published,
        "rate": published / elapsed,
        "notifications": len(sent),
        "delivered": len(latencies),
        "calls": receiver.calls,
        "p50": percentile(measured, 50),
        "p95": percentile(measured, 95),
        "p99": percentile(measured, 99),
        "max": max(measured),
        "alerting_cores": window.seconds.get("alerting", 0.0) / window.wall_s,
        "kafka_cores": window.seconds.get("kafka", 0.0) / window.wall_s,
        "rest_cores": benchkit.rest_of_machine(window) / window.wall_s,
    }


def report(r: dict[str, float], args: argparse.Namespace) -> list[str]:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [BEGIN, "", f"## Latest run ({when})", "", args.note, ""]
    lines += [
        f"- target: p95 from event to notifier call < {TARGET_P95_S:.0f} s with {APPS} rules at "
        f"{args.rate:,.0f} events/s: **{met(r['p95'] < TARGET_P95_S and r['delivered'] == r['notifications'])}**",
        f"- knobs: {args.duration:.0f} s of load, {args.flip:.0%} of the events change an app's verdict "
        f"(each one alert change and one notifier call)",
        f"- machine: {', '.join(f'{k} {v}' for k, v in benchkit.machine_facts().items())}",
        "",
    ]
    header = (
        "events/s",
        "events",
        "notifications",
        "delivered",
        "calls received",
        "p50",
        "p95",
        "p99",
        "max",
        "alerting cores",
        "Kafka cores",
        "rest of machine (cores)",
    )
    row = (
        f"{r['rate']:,.0f}",
        f"{r['published']:,.0f}",
        f"{r['notifications']:,.0f}",
        f"{r['delivered']:,.0f}",
        f"{r['calls']:,.0f}",
        fmt(r["p50"] * 1000, " ms"),
        fmt(r["p95"] * 1000, " ms"),
        fmt(r["p99"] * 1000, " ms"),
        fmt(r["max"] * 1000, " ms"),
        f"{r['alerting_cores']:.2f}",
        f"{r['kafka_cores']:.2f}",
        f"{r['rest_cores']:.2f}",
    )
    return [*lines, *md_table([row], header), "", END]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=1_000.0, help="events per second")
    parser.add_argument("--flip", type=float, default=0.05, help="share of events that change an app's verdict")
    parser.add_argument("--note", default="", help="a sentence on the conditions, written above the figures")
    parser.add_argument("--write", type=Path, metavar="PATH", help="rewrite the bench-alerting section of this file")
    return parser.parse_args(argv)


async def run(service: Service, args: argparse.Namespace) -> dict[str, float]:
    receiver = Receiver()
    server = await receiver.start()
    async with server:
        await configure(service, receiver)
        return await load(service, receiver, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as folder:
        service = Service(Path(folder))
        try:
            service.start()
            result = asyncio.run(run(service, args))
        finally:
            service.stop()
    section = report(result, args)
    print("\n".join(section))
    if args.write:
        text = args.write.read_text()
        args.write.write_text(benchkit.replace_section(text, "\n".join(section), BEGIN, END))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
