"""Gateway added latency: the inference gateway, the LiteLLM proxy and the Portkey gateway in front of the same
loopback upstream, for plain chat, tool calling and a request translated to an Anthropic-format upstream.

Run with ``make bench-gateway`` (or ``uv run python benchmarks/bench_gateway.py --help``; ``--quick`` for a
short run while developing). It is a benchmark, not a timed test: it measures and reports, it never fails on a
figure.

Set-up. In a temporary directory: a fresh Kafka broker, the loopback upstream (``loopback_upstream.py``: raw asyncio
+ httptools + uvloop; fixed answers: a chat completion with usage, a tool call when the request carries tools, an
Anthropic Messages answer on ``/v1/messages``), ``llmops-inference`` with call recording to that broker (the gateway
as ``llmops up`` runs it: one uvicorn worker; per-key rate limits off, since they would refuse a benchmark's load)
and the LiteLLM proxy (``litellm[proxy]`` pinned in ``benchmarks/litellm-requirements.txt``, in its own virtualenv
``.cache/litellm-venv``; ``--num_workers 1``, master key, no database, no callbacks, telemetry off, the same models
mapped to ``openai/<model>`` and ``anthropic/<model>`` at the upstream) and the Portkey gateway
(``@portkey-ai/gateway`` pinned in ``benchmarks/portkey/package-lock.json``, installed with ``npm ci`` into
``.cache/portkey``; Node.js is needed for this target only; one Node process, ``--headless``,
``NODE_ENV=production``, each request naming provider ``openai`` and the upstream in ``x-portkey-custom-host``).
Each is its own OS process in its own process group.

Scenarios (``gateway_scenarios.py``; ``--scenarios`` picks some). ``chat``: a two-message chat completion.
``tools``: the same conversation offering a ``get_weather`` function tool, ``tool_choice`` auto, answered by the
upstream with a tool call. ``anthropic``: the chat request for a model both Python proxies route to an Anthropic
Messages upstream (the gateway's ``backend: anthropic``, LiteLLM's ``anthropic/<model>``), translated both ways.

Targets. ``direct`` is the upstream itself, ``gateway``, ``litellm`` and ``portkey`` the proxies in front of
it (Portkey in ``chat`` and ``tools``). Within a scenario every proxy gets the same OpenAI-format request with its
own bearer key; ``direct`` gets it too, except in ``anthropic``, where it gets the Anthropic-format request the
gateway would send, so the latency added there is over a native call.

Load. One client process (this one), closed loop: ``c`` senders each with one keep-alive connection send a request,
wait for the whole answer, and send the next. The client is a minimal HTTP/1.1 client on uvloop (the request
pre-encoded, the answer parsed by httptools; ``--client httpx`` swaps in an ``httpx.AsyncClient``), so it costs a
few tens of microseconds of CPU per request and stays far from being the bottleneck at c=16 (its CPU is reported).
An answer counts when it is 200 with choices (``direct`` in ``anthropic``: with content); each sender's first answer
in a measured window is parsed and must be the upstream's (or it counts as a failure): its text, its tool call
(name, arguments, finish reason ``tool_calls``) or its Anthropic text translated (finish reason ``stop``). Latency
is ``time.perf_counter`` around one request on an open connection.

Schedule. Scenario after scenario; per concurrency (``--concurrency``, 1 and 16) the seconds each target gets
(``--duration`` for chat, half of it for ``tools`` and ``anthropic``, which keeps a default run under ten
minutes) are split into ``--rounds`` segments, and the rounds interleave the targets (rotating their order), so
a change in the machine's load affects all of them alike. Each segment starts with ``--warmup`` seconds that are
not counted. Before the first round every target is primed (``--prime`` seconds at the highest concurrency), and
again before each later scenario, for ``--warmup`` seconds (the processes are warm by then, only the scenario's
code path is new).

Figures. Per scenario, target and concurrency: p50/p90/p99/max latency and requests/s (answers counted / measured
seconds). Added latency = the proxy's percentile minus the direct percentile at the same concurrency. CPU seconds of
every process group (utime+stime from ``/proc``) over each measured window give CPU per request, steadier than
latency on a shared machine; "rest of machine" is everything else that ran meanwhile. At the end the call events on
``llmops.calls.recorded`` are counted (the end offsets of a fresh broker) against the gateway calls made in every
scenario, so "recording on" is checked, not assumed (Portkey and LiteLLM record nothing). Verdicts (from the issues,
on plain chat only): against Portkey, the gateway's p50 added latency at c=1 at most Portkey's, its p99 added
latency at c=16 at most Portkey's and its requests/s at c=16 at least Portkey's; against LiteLLM, at most half, at
most half and at least twice. ``--write docs/benchmarks.md`` rewrites the marked section of that file (and appends
to its run history).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import benchkit
import httptools
import httpx
import uvloop
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from benchkit import (
    CLIENT,
    ROOT,
    CpuWindow,
    ensure_pinned_venv,
    fmt,
    git_revision,
    machine_facts,
    md_table,
    met,
    package_version,
    percentile,
    replace_section,
    rest_of_machine,
)
from gateway_scenarios import (
    SCENARIOS,
    UPSTREAM_KEY,
    Endpoint,
    Scenario,
    answer_problem,
    gateway_routes,
    litellm_models,
)
from llmops_kit.auth import generate_key, hash_key
from llmops_kit.infra import LocalKafkaBroker, free_port
from llmops_kit.infra.kafka_broker import kafka_version
from llmops_kit.infra.process import ManagedProcess
from llmops_schemas.v2 import CallRecorded
from rich.console import Console
from rich.table import Table

SECTION_BEGIN = "<!-- bench-gateway:begin (written by benchmarks/bench_gateway.py --write; edits here are lost) -->"
SECTION_END = "<!-- bench-gateway:end -->"
HISTORY_BEGIN = "<!-- bench-gateway:history:begin -->"
HISTORY_END = "<!-- bench-gateway:history:end -->"
HISTORY_KEEP = 30
TARGETS = ("direct", "gateway", "litellm", "portkey")
PROXIES = ("gateway", "litellm", "portkey")
PEERS = ("litellm", "portkey")
REQUEST_TIMEOUT_S = 30.0
LITELLM_VENV = ROOT / ".cache" / "litellm-venv"
LITELLM_REQUIREMENTS = Path(__file__).with_name("litellm-requirements.txt")
PORTKEY_DIR = ROOT / ".cache" / "portkey"
PORTKEY_LOCK = Path(__file__).with_name("portkey")  # package.json + package-lock.json
PORTKEY_SERVER = Path("node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
console = Console() if sys.stdout.isatty() else Console(width=180)


# ------------------------------------------------------------------------------------------- the processes


def ensure_litellm_venv(venv: Path = LITELLM_VENV, requirements: Path = LITELLM_REQUIREMENTS) -> Path:
    """The LiteLLM proxy's virtualenv, synced to the pinned requirements (once per change of the pins).

    ``--compile-bytecode`` as pip does by default: LiteLLM imports a module on every request (its OpenTelemetry
    logger, which fails without ``opentelemetry-sdk``), and without ``.pyc`` files (``PYTHONDONTWRITEBYTECODE``)
    that would be a compile per request that no pip-installed proxy pays.
    """
    ensure_pinned_venv(venv, requirements, compile_bytecode=True)
    return venv / "bin" / "litellm"


def litellm_version(venv: Path = LITELLM_VENV) -> str:
    found = list((venv / "lib").glob("python3*/site-packages/litellm-*.dist-info"))
    return found[0].name.removeprefix("litellm-").removesuffix(".dist-info") if found else "?"


def ensure_portkey(target: Path = PORTKEY_DIR, lock: Path = PORTKEY_LOCK) -> Path:
    """The Portkey gateway's server script, installed from the npm lock with ``npm ci`` (once per change of it).

    Install scripts are skipped (``--ignore-scripts``): the package's only one is ``patch-package``, which has no
    patches to apply in the published package. npm runs in the resolved directory: ``.cache`` may be a symlink,
    and npm treats a prefix reached through one as a linked package.
    """
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the portkey target needs Node.js 18+ with npm on PATH (or leave it out with --targets)")
    files = ("package.json", "package-lock.json")
    digest = hashlib.sha256(b"".join((lock / name).read_bytes() for name in files)).hexdigest()
    target = target.resolve() if target.exists() else target
    marker = target / ".lock.sha256"
    if not ((target / PORTKEY_SERVER).is_file() and marker.is_file() and marker.read_text().strip() == digest):
        console.print(f"installing the Portkey gateway into {target} (pinned in benchmarks/portkey)")
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(lock / name, target / name)
        install = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(install, cwd=target, check=True)
        marker.write_text(digest + "\n")
    return target / PORTKEY_SERVER


def portkey_version(target: Path = PORTKEY_DIR) -> str:
    manifest = target / "node_modules" / "@portkey-ai" / "gateway" / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.is_file() else "?"


def node_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    return "?"


@dataclass
class Stack:
    """Broker, upstream, gateway and LiteLLM proxy in ``workdir``; ``endpoints`` by target name."""

    workdir: Path
    targets: Sequence[str]
    profile_dir: Path | None = None
    gateway_env: dict[str, str] = field(default_factory=dict)
    broker: LocalKafkaBroker | None = None
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def start(self) -> None:
        self.broker = LocalKafkaBroker(self.workdir / "kafka").start()
        upstream = free_port()
        script = str(Path(__file__).with_name("loopback_upstream.py"))
        self._launch("upstream", [sys.executable, script, str(upstream)], upstream, {}, "/health")
        self.processes["upstream"].wait_ready(30)
        self.endpoints["direct"] = Endpoint("direct", upstream, "/v1/chat/completions", UPSTREAM_KEY)
        if "litellm" in self.targets:  # the slowest to start: let it import while the gateway starts
            self.endpoints["litellm"] = self._start_litellm(upstream)
        if "portkey" in self.targets:
            self.endpoints["portkey"] = self._start_portkey(upstream)
        if "gateway" in self.targets:
            self.endpoints["gateway"] = self._start_gateway(upstream)
        if "portkey" in self.targets:
            self.processes["portkey"].wait_ready(60)
        if "litellm" in self.targets:
            self.processes["litellm"].wait_ready(180)

    def _launch(self, name: str, argv: list[str], port: int, env: dict[str, str], ready_path: str) -> None:
        process = ManagedProcess(
            name, argv, log_path=self.workdir / f"{name}.log", env=env, ready_url=f"http://127.0.0.1:{port}{ready_path}"
        )
        process.start()
        self.processes[name] = process

    def _start_gateway(self, upstream: int) -> Endpoint:
        assert self.broker is not None
        key = generate_key()
        keys_file = self.workdir / "api-keys.yaml"
        record = {"id": "bench-gateway", "tenant_id": "bench", "role": "writer", "sha256": hash_key(key)}
        keys_file.write_text(yaml.safe_dump({"keys": [record]}))
        routes_file = self.workdir / "inference-routes.yaml"
        routes_file.write_text(yaml.safe_dump(gateway_routes(upstream)))
        script = str(Path(sys.executable).with_name("llmops-inference"))
        argv = [script]
        if self.profile_dir is not None:
            wrapper = str(Path(__file__).with_name("profile_child.py"))
            argv = [sys.executable, wrapper, str(self.profile_dir / "gateway.prof"), script]
        port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "LLMOPS_API_KEYS_FILE": str(keys_file),
            "LOG_LEVEL": "WARNING",
            "INFERENCE_PORT": str(port),
            "INFERENCE_ROUTES_FILE": str(routes_file),
            "INFERENCE_SPOOL_DIR": str(self.workdir / "inference-spool"),
            "INFERENCE_DEFAULT_APP": "bench",
            "INFERENCE_REQUESTS_PER_MINUTE": "0",  # per-key limits would refuse a benchmark's load
            "INFERENCE_TOKENS_PER_MINUTE": "0",
            **self.gateway_env,
        }
        self._launch("gateway", argv, port, env, "/readyz")
        self.processes["gateway"].wait_ready(120)
        endpoint = Endpoint("gateway", port, "/v1/chat/completions", key)
        wait_for_recording(f"http://127.0.0.1:{port}/readyz", endpoint.headers, 120)
        return endpoint

    def _start_litellm(self, upstream: int) -> Endpoint:
        executable = ensure_litellm_venv()
        key = "sk-bench-" + generate_key().rpartition("_")[2]
        config = {"model_list": litellm_models(upstream), "general_settings": {"master_key": key}}
        config_file = self.workdir / "litellm-config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        env = {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled price map instead of fetching it (no network)
            "LITELLM_TELEMETRY_DISABLED": "true",
            "LITELLM_LOG": "ERROR",  # also uvicorn's level: no access log line per request (nor has the gateway)
            "LITELLM_MODE": "PRODUCTION",  # no .env loading
        }
        port = free_port()
        argv = [str(executable), "--config", str(config_file), "--host", "127.0.0.1", "--port", str(port)]
        self._launch("litellm", [*argv, "--num_workers", "1"], port, env, "/health/liveliness")
        return Endpoint("litellm", port, "/v1/chat/completions", key)

    def _start_portkey(self, upstream: int) -> Endpoint:
        """One Node process, no UI, production mode; every request names the provider and the upstream."""
        script = ensure_portkey()
        port = free_port()
        argv = ["node", str(script), "--headless", f"--port={port}"]
        self._launch("portkey", argv, port, {"NODE_ENV": "production"}, "/")
        headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{upstream}/v1"}
        return Endpoint("portkey", port, "/v1/chat/completions", UPSTREAM_KEY, headers)

    def pgids(self) -> dict[str, int]:
        """Process-group ids (each process leads its own group) by name, the broker included."""
        groups = {name: p.pid for name, p in self.processes.items() if p.pid is not None}
        if self.broker is not None and self.broker.pid is not None:
            groups["kafka"] = self.broker.pid
        return groups

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.broker is not None:
            self.broker.stop()


def wait_for_recording(readyz: str, headers: dict[str, str], timeout_s: float) -> None:
    """Until the gateway says its recorder publishes to Kafka (it serves, spooling, before that).

    ``headers`` carry a key: ``/readyz`` shows its details only to a caller with one.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if httpx.get(readyz, headers=headers, timeout=5).json().get("recording", {}).get("kafka"):
                return
        time.sleep(0.5)
    raise RuntimeError(f"the gateway did not connect to Kafka within {timeout_s:.0f}s")


async def recorded_events(bootstrap: str, topic: str = CallRecorded.topic) -> int:
    """Records on ``topic`` (a fresh broker and an idempotent producer: the sum of the end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (meta,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


# ------------------------------------------------------------------------------------------- the client


class HttpError(Exception):
    """The connection broke or the answer was not HTTP."""


class RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: write a pre-encoded request, await the parsed answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        _, protocol = await asyncio.get_running_loop().create_connection(cls, "127.0.0.1", port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(HttpError("connection closed"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"unparsable answer: {exc}"))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), body, self.parser.should_keep_alive()))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    async def request(self, data: bytes) -> tuple[int, bytes, bool]:
        if self.transport is None:
            raise HttpError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


Send = Callable[[], Awaitable[tuple[int, bytes]]]


class RawSession:
    """A sender's own connection to an endpoint, reopened when the server closes it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.port = endpoint.port
        self.data = endpoint.raw_request()
        self.connection: RawConnection | None = None

    async def send(self) -> tuple[int, bytes]:
        if self.connection is None:
            self.connection = await RawConnection.open(self.port)
        try:
            status, body, keep_alive = await self.connection.request(self.data)
        except BaseException:
            self.close()
            raise
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Sample:
    """What one target answered at one concurrency over its measured windows."""

    latencies_s: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    measured_s: float = 0.0
    cpu: CpuWindow | None = None

    def merge(self, other: Sample) -> None:
        self.latencies_s += other.latencies_s
        self.failures.update(other.failures)
        self.measured_s += other.measured_s
        if other.cpu is not None:
            self.cpu = other.cpu if self.cpu is None else self.cpu + other.cpu

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rps(self) -> float:
        return self.requests / self.measured_s if self.measured_s > 0 else float("nan")

    def q(self, p: float) -> float:
        return percentile(self.latencies_s, p) if self.latencies_s else float("nan")


@dataclass
class Segment:
    """One target at one concurrency for ``warmup_s`` (not counted) then ``measure_s``."""

    endpoint: Endpoint
    concurrency: int
    warmup_s: float
    measure_s: float
    client: str = "raw"
    sent: int = 0  # every request, the warm-up's included

    async def run(self, pids: dict[str, list[int]]) -> Sample:
        sample = Sample()
        start = time.perf_counter()
        measure_from, end = start + self.warmup_s, start + self.warmup_s + self.measure_s
        async with contextlib.AsyncExitStack() as stack:
            sends = await self._senders(stack)
            cpu = asyncio.create_task(self._cpu(pids, measure_from, end))
            await asyncio.gather(*(self._sender(send, measure_from, end, sample) for send in sends))
            sample.cpu = await cpu
        sample.measured_s = self.measure_s
        return sample

    async def _senders(self, stack: contextlib.AsyncExitStack) -> list[Send]:
        if self.client == "raw":
            sessions = [RawSession(self.endpoint) for _ in range(self.concurrency)]
            for session in sessions:
                stack.callback(session.close)
            return [session.send for session in sessions]
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        client = await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_S))
        url, body, headers = self.endpoint.url, self.endpoint.body, self.endpoint.headers

        async def send() -> tuple[int, bytes]:
            response = await client.post(url, content=body, headers=headers)
            return response.status_code, response.content

        return [send] * self.concurrency

    async def _sender(self, send: Send, measure_from: float, end: float, sample: Sample) -> None:
        checked = False  # the first measured answer is parsed (one in the warm-up would go unreported)
        while (started := time.perf_counter()) < end:
            self.sent += 1
            full = not checked and started >= measure_from
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    status, body = await send()
                answered = time.perf_counter()  # before the check: parsing an answer is the client's time
                problem = answer_problem(status, body, full=full, expect=self.endpoint.expect)
                checked = checked or full
            except (OSError, TimeoutError, HttpError, httpx.HTTPError) as exc:
                answered, problem = time.perf_counter(), type(exc).__name__
            if started >= measure_from:
                if problem is None:
                    sample.latencies_s.append(answered - started)
                else:
                    sample.failures[problem] += 1
            if problem is not None:
                await asyncio.sleep(0.01)  # a refusing target must not become a busy loop

    @staticmethod
    async def _cpu(pids: dict[str, list[int]], measure_from: float, end: float) -> CpuWindow:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        before = time.monotonic(), benchkit.cpu_seconds_of(pids)
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        return CpuWindow.between(before, (time.monotonic(), benchkit.cpu_seconds_of(pids)))


# ------------------------------------------------------------------------------------------- the run


@dataclass
class Results:
    """One scenario's samples by target and concurrency."""

    samples: dict[tuple[str, int], Sample] = field(default_factory=dict)

    def sample(self, target: str, concurrency: int) -> Sample:
        return self.samples.setdefault((target, concurrency), Sample())

    def added(self, target: str, concurrency: int, q: float) -> float:
        """The target's ``q`` percentile minus the direct one at the same concurrency, in seconds."""
        direct = self.samples.get(("direct", concurrency))
        own = self.samples.get((target, concurrency))
        return own.q(q) - direct.q(q) if own and direct else float("nan")


@dataclass
class Run:
    """The results of every scenario that ran, the requests sent per target and what the gateway recorded."""

    scenarios: dict[str, Results] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)  # every scenario's, warm-ups included
    recorded: int | None = None  # call events on Kafka at the end
    spooled: int | None = None

    @property
    def chat(self) -> Results:
        """Plain chat, the scenario the verdicts are on (empty when it did not run)."""
        return self.scenarios.get("chat") or Results()


async def run_all(stack: Stack, args: argparse.Namespace) -> Run:
    run = Run()
    pids = benchkit.pids_by_group(stack.pgids())
    for i, name in enumerate(args.scenarios):
        prime_s = args.prime if i == 0 else args.warmup  # later scenarios find the processes warm: prime the new path
        run.scenarios[name] = await run_scenario(stack, SCENARIOS[name], args, prime_s, pids, run.sent)
    if "gateway" in stack.endpoints and stack.broker is not None:
        run.recorded, run.spooled = await check_recording(stack, run.sent["gateway"])
    return run


async def run_scenario(
    stack: Stack,
    scenario: Scenario,
    args: argparse.Namespace,
    prime_s: float,
    pids: dict[str, list[int]],
    sent: Counter[str],
) -> Results:
    """Prime each target for ``prime_s``, then per concurrency the interleaved rounds; ``sent`` counts every request."""
    results = Results()
    endpoints = {t: scenario.endpoint(stack.endpoints[t]) for t in TARGETS if t in stack.endpoints}
    targets = [t for t in endpoints if t in scenario.targets]
    top = max(args.concurrency)

    async def segment(target: str, concurrency: int, warmup_s: float, measure_s: float) -> Sample:
        run = Segment(endpoints[target], concurrency, warmup_s, measure_s, args.client)
        try:
            return await run.run(pids)
        finally:
            sent[target] += run.sent

    console.print(f"[bold]{scenario.name}[/]: priming {', '.join(targets)}: {prime_s:g}s each at {top} concurrent")
    for target in targets:
        await segment(target, top, prime_s, 0.0)
    per_round = args.duration * scenario.share / args.rounds
    for concurrency in args.concurrency:
        console.print(
            f"[bold]{scenario.name}, concurrency {concurrency}[/]: {args.rounds} rounds of {per_round:g}s per "
            f"target (+{args.warmup:g}s warm-up each)"
        )
        for round_ in range(args.rounds):
            order = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
            for target in order:
                sample = await segment(target, concurrency, args.warmup, per_round)
                results.sample(target, concurrency).merge(sample)
                console.print(
                    f"  round {round_ + 1} {target:8} p50 {sample.q(50) * 1e3:7.2f} ms  "
                    f"p99 {sample.q(99) * 1e3:7.2f} ms  {sample.rps:8,.0f} req/s"
                    + (f"  failures: {dict(sample.failures)}" if sample.failures else "")
                )
    return results


async def check_recording(stack: Stack, calls: int, timeout_s: float = 60.0) -> tuple[int, int | None]:
    """The call events on Kafka once they stop growing or reach ``calls``, and the gateway's spool backlog."""
    assert stack.broker is not None
    deadline = time.monotonic() + timeout_s
    count = await recorded_events(stack.broker.bootstrap_servers)
    while count < calls and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        count = await recorded_events(stack.broker.bootstrap_servers)
    spooled = None
    with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
        async with httpx.AsyncClient() as client:
            gateway = stack.endpoints["gateway"]  # /readyz shows the spool only to a caller with a key
            readyz = await client.get(f"http://127.0.0.1:{gateway.port}/readyz", headers=gateway.headers)
            spooled = int(readyz.json()["recording"]["spooled"])
    return count, spooled


# ------------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    target: str
    peer: str
    gateway: float
    other: float
    ok: bool | None  # None: not decidable (a figure is missing, or a target failed requests)
    unit: str

    @property
    def ratio(self) -> float:
        return self.gateway / self.other if self.other else float("nan")


PEER_NAMES = {"litellm": "LiteLLM", "portkey": "Portkey"}
CHECKS: tuple[tuple[str, str, int, float | None, float], ...] = (
    # (peer, label, concurrency, percentile (None: req/s), factor): the gateway's figure against factor x peer's
    ("portkey", "p50 added latency at c=1 <= Portkey's", 1, 50, 1.0),
    ("portkey", "p99 added latency at c=16 <= Portkey's", 16, 99, 1.0),
    ("portkey", "requests/s at c=16 >= Portkey's", 16, None, 1.0),
    ("litellm", "p50 added latency at c=1 <= 1/2 LiteLLM's", 1, 50, 0.5),
    ("litellm", "p99 added latency at c=16 <= 1/2 LiteLLM's", 16, 99, 0.5),
    ("litellm", "requests/s at c=16 >= 2x LiteLLM's", 16, None, 2.0),
)
"""The issues' targets: issue 7 against Portkey, the gateway's first issue against LiteLLM."""


def verdicts(results: Results) -> list[Verdict]:
    """The targets whose peer ran, from the measured figures."""
    out = []
    ran = {target for target, _ in results.samples}
    for peer, label, concurrency, q, factor in CHECKS:
        if peer not in ran:
            continue
        samples = [results.samples.get((t, concurrency)) for t in ("direct", "gateway", peer)]
        failed = any(s is None or s.failures or not s.requests for s in samples)
        if q is None:
            gateway, other = (
                results.samples[(t, concurrency)].rps if not failed else float("nan") for t in ("gateway", peer)
            )
            ok = None if failed else gateway >= factor * other
        else:
            gateway, other = (results.added(t, concurrency, q) * 1e3 for t in ("gateway", peer))
            ok = None if failed else gateway <= factor * other
        out.append(Verdict(label, PEER_NAMES[peer], gateway, other, ok, "ms" if q is not None else "req/s"))
    return out


def verdict_text(ok: bool | None) -> str:
    return "n/a (failed requests or a target missing)" if ok is None else met(ok)


# ------------------------------------------------------------------------------------------- reporting


def machine(args: argparse.Namespace) -> dict[str, str]:
    return {
        **machine_facts(),
        "kafka": kafka_version(),
        "litellm": litellm_version() if "litellm" in used_targets(args) else "-",
        "portkey (node)": f"{portkey_version()} ({node_version()})" if "portkey" in used_targets(args) else "-",
        "gateway: fastapi / pydantic / uvicorn / aiohttp": " / ".join(
            package_version(p) for p in ("fastapi", "pydantic", "uvicorn", "aiohttp")
        ),
        "revision": git_revision(),
    }


LATENCY_HEADER = (
    "scenario",
    "c",
    "target",
    "requests",
    "failed",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "added p50 ms",
    "added p99 ms",
)


def ordered(run: Run) -> list[tuple[str, Results, str, int, Sample]]:
    """Every sample as (scenario, its results, target, concurrency, sample): by scenario, concurrency, target."""
    return [
        (name, results, target, concurrency, s)
        for name, results in run.scenarios.items()
        for (target, concurrency), s in sorted(
            results.samples.items(), key=lambda kv: (kv[0][1], TARGETS.index(kv[0][0]))
        )
    ]


def latency_rows(run: Run) -> list[tuple[str, ...]]:
    rows = []
    for name, results, target, concurrency, s in ordered(run):
        added = (
            [fmt(results.added(target, concurrency, q) * 1e3, digits=2) for q in (50, 99)]
            if target != "direct"
            else ["-", "-"]
        )
        failed = ", ".join(f"{k}: {v}" for k, v in s.failures.items()) or "0"
        rows.append(
            (
                name,
                str(concurrency),
                target,
                f"{s.requests:,}",
                failed,
                fmt(s.rps),
                *(fmt(s.q(q) * 1e3, digits=2) for q in (50, 90, 99, 100)),
                *added,
            )
        )
    return rows


VERDICT_HEADER = ("target (from the issues)", "gateway", "peer", "gateway / peer", "verdict")


def verdict_rows(results: Results) -> list[tuple[str, ...]]:
    digits = {"ms": 2, "req/s": 0}
    return [
        (
            v.target,
            fmt(v.gateway, f" {v.unit}", digits[v.unit]),
            f"{v.peer}: {fmt(v.other, f' {v.unit}', digits[v.unit])}",
            fmt(v.ratio, digits=2),
            verdict_text(v.ok),
        )
        for v in verdicts(results)
    ]


CPU_GROUPS = ("gateway", "litellm", "portkey", "upstream", "kafka", CLIENT)
CPU_HEADER = ("scenario", "c", "target", "wall s", *(f"{g} us/req" for g in CPU_GROUPS), "rest of machine, cores")


def cpu_rows(run: Run) -> list[tuple[str, ...]]:
    """CPU per answered request by process group over the measured windows, and what else ran meanwhile."""
    rows = []
    for name, _, target, concurrency, s in ordered(run):
        if s.cpu is None or not s.requests:
            continue
        per_request = [fmt(s.cpu.seconds[g] / s.requests * 1e6) if g in s.cpu.seconds else "-" for g in CPU_GROUPS]
        rest = rest_of_machine(s.cpu) / s.cpu.wall_s if s.cpu.wall_s else float("nan")
        rows.append((name, str(concurrency), target, fmt(s.cpu.wall_s, digits=1), *per_request, fmt(rest, digits=2)))
    return rows


def recording_rows(run: Run) -> list[tuple[str, str]]:
    if run.recorded is None:
        return []
    calls = run.sent["gateway"]
    state = "one per call" if run.recorded == calls else "MORE than calls" if run.recorded > calls else "FEWER"
    return [
        (f"gateway calls made ({', '.join(run.scenarios)}; warm-ups included)", f"{calls:,}"),
        (f"call events on {CallRecorded.topic}", f"{run.recorded:,} ({state})"),
        ("events in the gateway's spool at the end", str(run.spooled if run.spooled is not None else "?")),
    ]


def run_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    def schedule(scenario: Scenario) -> str:
        seconds = args.duration * scenario.share
        return f"{seconds:g}s per target as {args.rounds} interleaved rounds of {seconds / args.rounds:g}s"

    return [
        *((f"scenario {name}", SCENARIOS[name].summary) for name in args.scenarios),
        (
            "schedule",
            f"per scenario and concurrency ({', '.join(map(str, args.concurrency))}): "
            + "; ".join(f"{name} {schedule(SCENARIOS[name])}" for name in args.scenarios)
            + f"; each round after {args.warmup:g}s of warm-up; every target primed {args.prime:g}s before the "
            f"first scenario, {args.warmup:g}s before each later one",
        ),
        ("client", f"{args.client} (one process, closed loop, one keep-alive connection per sender)"),
        (
            "workers",
            "1 each (gateway: its `serve`, one uvicorn worker; LiteLLM: `--num_workers 1`; Portkey: one Node process)",
        ),
        ("knobs", knobs_of(args)),
    ]


def print_report(env: dict[str, str], run: Run, args: argparse.Namespace) -> None:
    def table(title: str, rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> None:
        out = Table(title=title, show_header=header is not None)
        for column in header or ("", ""):
            out.add_column(column)
        for row in rows:
            out.add_row(*row)
        console.print(out)

    table("Machine", list(env.items()) + run_rows(args))
    table("Latency (one request on an open connection) and throughput", latency_rows(run), LATENCY_HEADER)
    if all(("direct", c) in run.chat.samples for c in (1, 16)):
        table("Targets (plain chat)", verdict_rows(run.chat), VERDICT_HEADER)
    table("CPU per answered request (utime+stime per process group)", cpu_rows(run), CPU_HEADER)
    if run.recorded is not None:
        table("Call recording", recording_rows(run))


def history_row(env: dict[str, str], run: Run, args: argparse.Namespace) -> str:
    def added(results: Results, c: int, q: float, proxies: Sequence[str] = PROXIES) -> str:
        return " / ".join(
            fmt(results.added(t, c, q) * 1e3, digits=2) if (t, c) in results.samples else "-" for t in proxies
        )

    def rps(c: int) -> str:
        return " / ".join(fmt(run.chat.samples[(t, c)].rps) if (t, c) in run.chat.samples else "-" for t in PROXIES)

    side = [run.scenarios.get(name) or Results() for name in ("tools", "anthropic")]
    samples = [s for results in run.scenarios.values() for s in results.samples.values()]
    rest = [rest_of_machine(s.cpu) / s.cpu.wall_s for s in samples if s.cpu and s.cpu.wall_s]
    cells = [
        env["date"],
        env["revision"],
        f"{env['litellm']} / {env.get('portkey (node)', '-').partition(' ')[0]}",
        knobs_of(args),
        added(run.chat, 1, 50),
        added(run.chat, 16, 99),
        rps(16),
        ", ".join(f"{v.peer} {'-' if v.ok is None else ('met' if v.ok else 'not met')}" for v in verdicts(run.chat)),
        f"{max(rest):.2f}" if rest else "-",
        " ; ".join(added(results, 1, 50, ("gateway", "litellm")) for results in side),
    ]
    return "| " + " | ".join(cells) + " |"


HISTORY_HEADER = (
    "date",
    "revision",
    "litellm / portkey",
    "knobs",
    "added p50 ms at c=1 (gateway / LiteLLM / Portkey)",
    "added p99 ms at c=16 (gateway / LiteLLM / Portkey)",
    "req/s at c=16 (gateway / LiteLLM / Portkey)",
    "verdicts (p50, p99, req/s per peer)",
    "rest of machine, cores (max)",
    "tools ; anthropic: added p50 ms at c=1 (gateway / LiteLLM)",
)
"""The first nine columns are plain chat's (rows before the scenarios have only those)."""


def render_section(env: dict[str, str], run: Run, args: argparse.Namespace, history: list[str]) -> str:
    lines = [SECTION_BEGIN, "", f"### Latest run ({env['date']})", "", "#### Machine and run", ""]
    lines += md_table(list(env.items()) + run_rows(args), ("", ""))
    lines += ["", "#### Targets (plain chat)", "", *md_table(verdict_rows(run.chat), VERDICT_HEADER)]
    lines += ["", "#### Latency and throughput", "", *md_table(latency_rows(run), LATENCY_HEADER)]
    lines += ["", "#### CPU per answered request (utime+stime per process group)", ""]
    lines += md_table(cpu_rows(run), CPU_HEADER)
    if run.recorded is not None:
        lines += ["", "#### Call recording", "", *md_table(recording_rows(run), ("", ""))]
    lines += ["", "### Run history (one row per `--write`, newest last)", "", HISTORY_BEGIN]
    lines += md_table([], HISTORY_HEADER) + history[-HISTORY_KEEP:] + [HISTORY_END, "", SECTION_END]
    return "\n".join(lines) + "\n"


def write_doc(path: Path, section: str) -> None:
    """Replace the generated section of ``path`` (appended when the markers are missing); the rest is kept."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    path.write_text(replace_section(text, section, SECTION_BEGIN, SECTION_END))


def previous_history(path: Path) -> list[str]:
    return benchkit.history_rows(path, HISTORY_BEGIN, HISTORY_END)


# ------------------------------------------------------------------------------------------- main


def _concurrencies(text: str) -> list[int]:
    return sorted({int(x) for x in text.split(",") if x.strip()})


def _targets(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = set(names) - set(TARGETS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown targets: {', '.join(sorted(unknown))}")
    return ["direct", *(t for t in TARGETS if t in names and t != "direct")]


def used_targets(args: argparse.Namespace) -> list[str]:
    """The targets asked for that a chosen scenario runs against (Portkey only where a scenario has it)."""
    return [t for t in args.targets if any(t in SCENARIOS[name].targets for name in args.scenarios)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS), help="the requests to measure")
    add(
        "--duration",
        type=float,
        default=24.0,
        help="measured seconds per target per concurrency in chat (tools, anthropic: half)",
    )
    add("--rounds", type=int, default=3, help="interleaved rounds the duration is split into")
    add("--warmup", type=float, default=2.0, help="uncounted seconds before every measured segment")
    add(
        "--prime",
        type=float,
        default=5.0,
        help="uncounted seconds per target before the first round (later scenarios: --warmup)",
    )
    add("--concurrency", type=_concurrencies, default=[1, 16], help="comma-separated, e.g. 1,16")
    add("--targets", type=_targets, default=list(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    add("--client", choices=("raw", "httpx"), default="raw", help="the load generator's HTTP client")
    add("--quick", action="store_true", help="a short run while developing (6s per target, 2 rounds, 1s warm-up)")
    add("--profile", type=Path, metavar="DIR", help="run the gateway under cProfile, writing DIR/gateway.prof")
    add("--env", type=benchkit.env_setting, action="append", default=[], metavar="KEY=VALUE", help="gateway setting")
    add("--keep", action="store_true", help="keep the temporary directory (logs, configs)")
    add("--write", type=Path, metavar="PATH", help="rewrite the generated section of this markdown file")
    args = parser.parse_args(argv)
    args.scenarios = [name for name in SCENARIOS if name in args.scenarios]
    if args.quick:
        args.duration, args.rounds, args.warmup, args.prime = 6.0, 2, 1.0, 2.0
    return args


def knobs_of(args: argparse.Namespace) -> str:
    """The settings of this run that differ from the defaults."""
    defaults = vars(parse_args([]))
    ignored = {"write", "keep", "quick"}
    knobs = [
        f"{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items()
        if k not in ignored and v != defaults[k]
    ]
    return ", ".join(knobs) or "defaults"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = used_targets(args)
    if "litellm" in targets:
        ensure_litellm_venv()  # before the machine facts and the clock start
    if "portkey" in targets:
        ensure_portkey()
    env = machine(args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    profile = args.profile.resolve() if args.profile else None
    stack = Stack(workdir, targets, profile, benchkit.env_of(args.env))
    console.print(f"starting Kafka, the loopback upstream, {', '.join(targets[1:])} in {workdir}")
    try:
        stack.start()
        run = uvloop.run(run_all(stack, args))
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(env, run, args)
    if args.write is not None:
        history = [*previous_history(args.write), history_row(env, run, args)]
        write_doc(args.write, render_section(env, run, args, history))
        console.print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
