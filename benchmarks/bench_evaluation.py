"""Evaluation benchmarks: online heuristic scoring from Kafka to stored scores, and a replay of stored calls.

Run with ``make bench-evaluation`` (or ``uv run python benchmarks/bench_evaluation.py --help``). It measures and
reports; it never fails on a figure.

Set-up. A fresh Kafka broker (tmp dir), ``llmops-warehouse`` (embedded chDB in the tmp dir) and
``llmops-evaluation`` start as separate OS processes. One tenant has an admin key; the evaluation service reads
the warehouse with a service key. ``--calls`` call events (demo calls with answers, v2, one tenant and app) are
built and serialised before anything is timed.

Phase A, online scoring. The default heuristic set (one evaluator of each of the six heuristic kinds) is
configured for the app, then the calls are published to ``llmops.calls.recorded`` as fast as the broker takes
them. Scored: the evaluation consumer group's committed offsets on the calls topic (it commits after the scores
were acknowledged). Stored: the warehouse group's committed offsets on ``llmops.evaluations.scored`` (it commits
after the insert), polled every 250 ms, until every call's pass is stored; then the passes are counted through
``GET /v1/events/evaluation_scores`` (queryable). Rate = calls / (first publish -> all stored).

Phase C, a backlog (run last). The evaluation process is stopped, ``--calls`` new calls are published and the
warehouse stores them, then the evaluation process starts again and scores the backlog from Kafka while the
warehouse stores only its passes: what one scoring process does from Kafka to stored scores when the warehouse is
not also storing the calls at the same moment (on this 2-core host, A's three processes share two cores). Its
rate and CPU count from the evaluation group's first commit after the restart (the process's start-up and its
first batch apart) to the last pass stored.

Phase B, replay. The same calls, now stored, are replayed through one heuristic (``length``) from the warehouse:
``POST /v1/replays`` at an unlimited rate and batches of 1,000, until the replay is ``completed`` and the
warehouse has stored every replayed pass. Rate = calls / (POST -> all stored).

CPU. Each process's utime+stime (``/proc``, per process group) over each phase, per call: steadier than rates on a
shared machine. The broker's JIT compiler threads are shown apart too (``kafka JIT``, a part of ``kafka``): the
broker starts seconds before phase A and its JVM compiles through that phase (about 2.4 s of CPU, more than half
of the broker's share there, even after 10,000 calls of warm-up; little in the later phases: docs/adr/0059), a
start-up cost that a broker in service has paid. ``--write docs/benchmarks.md`` rewrites the marked section of
that file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchkit
import httpx
import yaml
from aiokafka.admin import AIOKafkaAdminClient
from benchkit import CpuWindow, git_revision, machine_facts, md_table, met, replace_section
from llmops_cli.demo import demo_calls
from llmops_kit.auth import ANY_TENANT, SERVICE_ROLE, generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker, free_port
from llmops_kit.infra.process import ManagedProcess
from llmops_kit.kafka.producer import EncodedEvent, EventProducer
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v1 import CallRecorded as CallRecordedV1
from llmops_schemas.v2 import CallRecorded, EvaluationScored

SECTION_BEGIN = (
    "<!-- bench-evaluation:begin (written by benchmarks/bench_evaluation.py --write; edits here are lost) -->"
)
SECTION_END = "<!-- bench-evaluation:end -->"
TENANT, APP = "bench", "bench-app"
JIT = "kafka JIT"
"""The key of the broker JVM's compiler threads' CPU in a snapshot: a part of ``kafka``, not a group of its own."""
TARGET_ONLINE = 5_000.0
TARGET_REPLAY_S = 60.0
DEFAULT_SET: dict[str, dict[str, Any]] = {
    "answer-length": {"kind": "length", "params": {"min_chars": 1, "max_chars": 2000}},
    "answer-json": {"kind": "json", "params": {"schema": {"type": "object"}}},
    "answer-regex": {"kind": "regex", "params": {"must": [r"\w+"], "must_not": ["(?i)as an ai language model"]}},
    "refusal": {"kind": "refusal"},
    "polite": {"kind": "banned_terms", "params": {"terms": ["stupid", "idiot"]}},
    "no-secrets": {"kind": "secrets"},
}
"""One evaluator of each heuristic kind: what `llmops up` configures (length, refusal, secrets) and the rest."""
ANSWER = "Your parcel left our warehouse this morning; it should arrive within two working days. "


@dataclass
class Platform:
    """Broker, warehouse and evaluation processes in ``workdir``."""

    workdir: Path
    profile_dir: Path | None = None
    admin: str = field(default_factory=generate_key)
    service: str = field(default_factory=generate_key)
    broker: LocalKafkaBroker | None = None
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self.broker = LocalKafkaBroker(self.workdir / "kafka").start()
        keys = self.workdir / "api-keys.yaml"
        records = [
            {"id": "bench-admin", "tenant_id": TENANT, "role": "admin", "sha256": hash_key(self.admin)},
            {"id": "bench-evaluation", "tenant_id": ANY_TENANT, "role": SERVICE_ROLE, "sha256": hash_key(self.service)},
        ]
        keys.write_text(yaml.safe_dump({"keys": records}))
        common = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "LLMOPS_API_KEYS_FILE": str(keys), "LOG_LEVEL": "WARNING"}
        warehouse = {"CLICKHOUSE_URL": f"chdb://{self.workdir / 'clickhouse'}", "WAREHOUSE_CONSUMER_GROUP": "wh-bench"}
        self._start("warehouse", {**common, **warehouse})
        evaluation = {
            "EVALUATION_CONSUMER_GROUP": "evaluation-bench",
            "LLMOPS_WAREHOUSE_URL": self.url("warehouse"),
            "LLMOPS_SERVICE_KEY": self.service,
            "EVALUATION_BATCH_SIZE": "1000",
        }
        self._start("evaluation", {**common, **evaluation})

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None
        return self.broker.bootstrap_servers

    def _start(self, name: str, env: dict[str, str]) -> None:
        port = self.ports[name] = free_port()
        script = str(Path(sys.executable).with_name(f"llmops-{name}"))
        argv = [script]
        if self.profile_dir is not None and name == "evaluation":
            argv = [
                sys.executable,
                str(Path(__file__).with_name("profile_child.py")),
                str(self.profile_dir / f"{name}.prof"),
                script,
            ]
        process = ManagedProcess(
            name,
            argv,
            log_path=self.workdir / f"{name}.log",
            env={**env, f"{name.upper()}_PORT": str(port)},
            ready_url=f"http://127.0.0.1:{port}/readyz",
        )
        process.start()
        self.processes[name] = process
        process.wait_ready(timeout_s=180)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def pgids(self) -> dict[str, int]:
        groups = {name: p.pid for name, p in self.processes.items() if p.pid is not None}
        if self.broker is not None and self.broker.pid is not None:
            groups["kafka"] = self.broker.pid
        return groups

    def snapshot(self) -> benchkit.Snapshot:
        """Every process group's CPU seconds, and (under :data:`JIT`) those of the broker's compiler threads."""
        at, seconds = benchkit.cpu_snapshot(self.pgids())
        broker = [self.broker.pid] if self.broker is not None and self.broker.pid is not None else []
        threads = benchkit.cpu_seconds_by_thread(broker)
        seconds[JIT] = sum(v for name, v in threads.items() if "CompilerThre" in name)  # "C2 CompilerThre", "C1 ..."
        return at, seconds

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.broker is not None:
            self.broker.stop()


def call_events(count: int) -> tuple[list[CloudEvent[CallRecorded]], list[EncodedEvent]]:
    """``count`` demo calls of the benchmark's tenant and app, answered, as v2 events and serialised."""
    events = []
    for i, record in enumerate(demo_calls(count, prefix=f"bench-{uuid.uuid4().hex[:6]}")):
        record |= {"app": APP, "output": ANSWER + f"Reference {i}.", "finish_reason": "stop"}
        record.pop("error", None)
        record["status"] = "ok"
        v1 = CloudEvent.wrap(CallRecordedV1.model_validate(record), source="/bench", tenant_id=TENANT)
        events.append(CloudEvent.wrap(CallRecorded.from_v1(v1.data), source="/bench", tenant_id=TENANT, event_id=v1.id))
    return events, [EncodedEvent.of(e) for e in events]


async def committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


async def wait_committed(admin: AIOKafkaAdminClient, group: str, topic: str, target: int, timeout_s: float) -> float:
    """Poll every 250 ms until ``group`` committed ``target`` records of ``topic``; returns that moment."""
    deadline = time.monotonic() + timeout_s
    while await committed(admin, group, topic) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not commit {target} records of {topic} in {timeout_s:.0f}s")
        await asyncio.sleep(0.25)
    return time.monotonic()


async def count_passes(client: httpx.AsyncClient, url: str, headers: dict[str, str], replay_id: str | None) -> int:
    """Passes stored for the tenant (online ones, or one replay's), counted through the query API."""
    found, cursor = 0, None
    while True:
        params: dict[str, Any] = {
            "limit": 1000,
            "start": "2000-01-01T00:00:00Z",
            **({"cursor": cursor} if cursor else {}),
        }
        page = (await client.get(f"{url}/v1/events/evaluation_scores", params=params, headers=headers)).json()
        found += sum(1 for item in page["items"] if item["data"].get("replay_id") == replay_id)
        if not (cursor := page.get("next_cursor")):
            return found


@dataclass
class Phase:
    name: str
    calls: int
    wall_s: float
    window: CpuWindow
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0

    def cpu_us(self) -> dict[str, float]:
        """CPU us per call: ``all`` the processes, each group, and :data:`JIT` (counted in ``kafka`` already)."""
        groups = {k: v / self.calls * 1e6 for k, v in self.window.seconds.items() if k not in (benchkit.MACHINE, JIT)}
        return {"all": sum(groups.values()), **groups, JIT: self.window.seconds.get(JIT, 0.0) / self.calls * 1e6}


async def online(platform: Platform, events: list[CloudEvent[CallRecorded]], encoded: list[EncodedEvent]) -> Phase:
    headers = {"Authorization": f"Bearer {platform.admin}"}
    async with httpx.AsyncClient(timeout=60) as client:
        for name, spec in DEFAULT_SET.items():
            response = await client.put(
                f"{platform.url('evaluation')}/v1/evaluators/{name}", json={**spec, "app": APP}, headers=headers
            )
            response.raise_for_status()
    producer = EventProducer(platform.bootstrap, service="bench")
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await producer.start()
    await admin.start()
    try:
        before = platform.snapshot()
        started = time.monotonic()
        for i in range(0, len(events), 2000):
            await producer.publish_encoded(encoded[i : i + 2000])
        published = time.monotonic()
        scored = await wait_committed(admin, "evaluation-bench", CallRecorded.topic, len(events), 900)
        stored = await wait_committed(admin, "wh-bench", EvaluationScored.topic, len(events), 900)
        after = platform.snapshot()
    finally:
        await admin.close()
        await producer.stop()
    async with httpx.AsyncClient(timeout=60) as client:
        queryable = await count_passes(client, platform.url("warehouse"), headers, None)
    extra = {
        "published in": f"{published - started:.1f} s",
        "scored (evaluation committed) after": f"{scored - started:.1f} s ({len(events) / (scored - started):,.0f}/s)",
        "passes queryable": f"{queryable:,} of {len(events):,}",
    }
    return Phase("online", len(events), stored - started, CpuWindow.between(before, after), extra)


async def first_progress(admin: AIOKafkaAdminClient, group: str, topic: str, beyond: int) -> tuple[float, int]:
    """Poll every 50 ms until ``group`` committed more than ``beyond`` records of ``topic``: (that moment, count)."""
    deadline = time.monotonic() + 300
    while (count := await committed(admin, group, topic)) <= beyond:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} committed nothing of {topic} beyond {beyond} in 300s")
        await asyncio.sleep(0.05)
    return time.monotonic(), count


async def backlog(platform: Platform, encoded: list[EncodedEvent]) -> Phase:
    evaluation = platform.processes["evaluation"]
    evaluation.stop()
    producer = EventProducer(platform.bootstrap, service="bench")
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await producer.start()
    await admin.start()
    try:
        scored_before = await committed(admin, "evaluation-bench", CallRecorded.topic)
        stored_before = await committed(admin, "wh-bench", EvaluationScored.topic)
        calls_total = await committed(admin, "wh-bench", CallRecorded.topic) + len(encoded)
        for i in range(0, len(encoded), 2000):
            await producer.publish_encoded(encoded[i : i + 2000])
        await wait_committed(admin, "wh-bench", CallRecorded.topic, calls_total, 900)
        started = time.monotonic()
        evaluation.start()
        first, first_count = await first_progress(admin, "evaluation-bench", CallRecorded.topic, scored_before)
        before = platform.snapshot()
        stored = await wait_committed(admin, "wh-bench", EvaluationScored.topic, stored_before + len(encoded), 900)
        after = platform.snapshot()
    finally:
        await admin.close()
        await producer.stop()
    evaluation.wait_ready(timeout_s=60)
    steady_calls = scored_before + len(encoded) - first_count
    extra = {
        "process start -> first commit": f"{first - started:.1f} s ({first_count - scored_before:,} calls, uncounted)",
        "process start -> all stored": f"{stored - started:.1f} s",
    }
    return Phase("backlog", steady_calls, stored - first, CpuWindow.between(before, after), extra)


async def wait_replay(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The replay's state once it is no longer running (polled every 250 ms, as a user's progress bar does)."""
    state: dict[str, Any] = (await client.get(url, headers=headers)).json()
    while state["status"] == "running":
        await asyncio.sleep(0.25)
        state = (await client.get(url, headers=headers)).json()
    return state


async def replay(platform: Platform, calls: int) -> Phase:
    headers = {"Authorization": f"Bearer {platform.admin}"}
    body = {
        "replay_id": "rp-bench",
        "evaluators": [{"name": "replayed-length", "kind": "length", "params": {"max_chars": 500}}],
        "start": "2000-01-01T00:00:00Z",
        "end": "2100-01-01T00:00:00Z",
        "app": APP,
        "rate_limit_per_s": 50_000,
        "batch_size": 1000,
    }
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    await admin.start()
    url = platform.url("evaluation")
    try:
        stored_before = await committed(admin, "wh-bench", EvaluationScored.topic)
        async with httpx.AsyncClient(timeout=60) as client:
            before = platform.snapshot()
            started = time.monotonic()
            (await client.post(f"{url}/v1/replays", json=body, headers=headers)).raise_for_status()
            state = await wait_replay(client, f"{url}/v1/replays/rp-bench", headers)
            completed = time.monotonic()
            stored = await wait_committed(
                admin, "wh-bench", EvaluationScored.topic, stored_before + state["scored"], 900
            )
            after = platform.snapshot()
            queryable = await count_passes(client, platform.url("warehouse"), headers, "rp-bench")
    finally:
        await admin.close()
    extra = {
        "replay status": f"{state['status']}, {state['processed']:,} read, {state['scored']:,} judged",
        "completed (scores published) after": f"{completed - started:.1f} s",
        "passes queryable": f"{queryable:,} of {calls:,}",
    }
    return Phase("replay", calls, stored - started, CpuWindow.between(before, after), extra)


def rows(phase: Phase, target: str, ok: bool) -> list[tuple[str, str]]:
    us = phase.cpu_us()
    parts = ", ".join(f"{k} {v:,.0f}" for k, v in us.items() if k not in ("all", JIT))
    without_jit = f"{us[JIT]:,.0f} us (all processes without it: {us['all'] - us[JIT]:,.0f} us)"
    return [
        ("calls", f"{phase.calls:,}"),
        ("first call -> all stored", f"{phase.wall_s:.1f} s"),
        ("rate", f"{phase.rate:,.0f} calls/s"),
        ("target", f"{target} {met(ok)}"),
        ("CPU per call, all processes", f"{us['all']:,.0f} us ({parts})"),
        ("of which the broker's JIT compiler", without_jit),
        (
            "evaluation process alone",
            f"{us.get('evaluation', 0):,.0f} us/call -> {1e6 / max(us.get('evaluation', 1), 1):,.0f} calls/s a core",
        ),
        *phase.extra.items(),
    ]


def rate_rows(phase: Phase) -> list[tuple[str, str]]:
    """An online or backlog phase's rows, judged against the calls/s target."""
    return rows(phase, f">= {TARGET_ONLINE:,.0f} calls/s", phase.rate >= TARGET_ONLINE)


def replay_rows_of(phase: Phase) -> list[tuple[str, str]]:
    """The replay phase's rows, judged against the time target."""
    return rows(phase, f"< {TARGET_REPLAY_S:.0f} s", phase.wall_s < TARGET_REPLAY_S)


def render(env: dict[str, str], a: Phase, b: Phase, c: Phase) -> str:
    online_rows, replay_rows, backlog_rows = rate_rows(a), replay_rows_of(b), rate_rows(c)
    lines = [
        SECTION_BEGIN,
        "",
        f"### Latest run ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        "Online heuristic scoring (six heuristics per call, Kafka -> stored, queryable scores):",
        "",
        *md_table(online_rows, ("measure", "value")),
        "",
        "Replay of the stored calls through one heuristic (warehouse -> scores stored):",
        "",
        *md_table(replay_rows, ("measure", "value")),
        "",
        "A backlog scored by a restarted evaluation process (Kafka -> stored scores; the calls stored before):",
        "",
        *md_table(backlog_rows, ("measure", "value")),
        "",
        *md_table(list(env.items()), ("machine", "")),
        "",
        SECTION_END,
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000, help="Calls scored online, then replayed")
    parser.add_argument("--write", type=Path, help="Rewrite the marked section of this markdown file")
    parser.add_argument(
        "--profile", type=Path, help="Run the evaluation service under cProfile, writing DIR/evaluation.prof"
    )
    return parser.parse_args(argv)


async def run(platform: Platform, calls: int) -> tuple[Phase, Phase, Phase]:
    events, encoded = call_events(calls)
    _, more = call_events(calls)
    a = await online(platform, events, encoded)
    print(*(f"{k}: {v}" for k, v in rate_rows(a)), sep="\n", flush=True)
    b = await replay(platform, calls)
    print(*(f"{k}: {v}" for k, v in replay_rows_of(b)), sep="\n", flush=True)
    c = await backlog(platform, more)
    print(*(f"{k}: {v}" for k, v in rate_rows(c)), sep="\n", flush=True)
    return a, b, c


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = {**machine_facts(), "revision": git_revision(), "cores": str(os.cpu_count())}
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as tmp:
        platform = Platform(Path(tmp), args.profile)
        try:
            platform.start()
            a, b, c = asyncio.run(run(platform, args.calls))
        finally:
            platform.stop()
    section = render(env, a, b, c)
    if args.write:
        text = args.write.read_text()
        args.write.write_text(replace_section(text, section, SECTION_BEGIN, SECTION_END))
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
