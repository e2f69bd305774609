"""`llmops up` for real: Kafka, ingest, warehouse, model server and gateway as processes, the demo, the CLI
against them, Ctrl-C.

Two runs on one data dir: the first sends 200 demo calls to ingest and 20 chat completions through the gateway
(a prompt version labelled production, an A/B experiment over the Triton model); after Ctrl-C nothing of it is
left (no process in the children's process groups, no port answering); the second reuses the data dir (same
keys, the first run's calls still there, a new prompt version, the first experiment stopped for a new one) and
ends with 440 calls.

Supervision: the warehouse killed with SIGKILL while calls stream in through ingest is named with its cause and
restarted, the platform keeps running, and every accepted call is stored exactly once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from llmops_cli.demo import demo_calls
from llmops_cli.erasure_demo import ERASURE_CALLS
from llmops_cli.platform import EMBEDDING_MODEL
from llmops_cli.policy_demo import POLICY_APP
from llmops_kit.infra import free_port

from tests.fixtures.kafka import run_sync

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LLMOPS = str(Path(sys.executable).with_name("llmops"))
READY_TIMEOUT_S = 300
GATEWAY_CALLS = 20  # llmops_cli.up.GATEWAY_DEMO_CALLS
TOOL_CALLS = 2  # the tool-calling round trip: the model's tool call, then its answer with the tool's result
JUDGED_CALLS = 1  # the judge demo's call (app llmops-judge-demo), whose judge call is platform traffic
BUDGET_CALLS = 1  # llmops_cli.cost_demo: one call of app budget-demo, refused by its 0 USD budget (recorded)
JUDGE_CALLS = 1  # that judge call through the gateway (platform traffic: listed, not in the metrics)
PII_CALLS = 1  # the PII demo's call (app llmops-demo-pii), stored redacted
RUN_CALLS = 2 * 5  # the offline-run demo: two runs of a five-example dataset (platform traffic, app "default")
# The judge-drift demo: two runs over a ten-question anchor set, each answer then judged (platform traffic).
JUDGE_DRIFT_CALLS = 2 * 10 * 2
CHILDREN = {
    "kafka", "ingest", "warehouse", "model-server", "demo-upstream", "inference", "feedback", "evaluation", "cost",
    "alerting", "governance-audit", "drift-detection",
}  # fmt: skip
STOP_TIMEOUT_S = 60
CLI_SETTINGS = {"LLMOPS_DATA_DIR", "LLMOPS_INGEST_URL", "LLMOPS_WAREHOUSE_URL", "LLMOPS_API_KEY"}
STREAM_BATCH = 50
STREAM_PAUSE_S = 0.02
STREAM_MAX_CALLS = 50_000


@dataclass
class UpProcess:
    """A running ``llmops up``, its output collected line by line by a reader thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.output:
            if self.proc.poll() is not None:
                time.sleep(0.5)  # let the reader drain
                pytest.fail(f"llmops up exited with {self.proc.returncode} before {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {text!r} from llmops up within {timeout_s}s:\n{self.output}")
            time.sleep(0.2)


@dataclass
class Session:
    data_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    started: list[UpProcess] = field(default_factory=list)

    def args(self) -> list[str]:
        return [arg for name, port in self.ports.items() for arg in (f"--{name}-port", str(port))]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def up(self, demo_calls: int) -> UpProcess:
        proc = subprocess.Popen(
            [LLMOPS, "up", "--demo-calls", str(demo_calls), *self.args()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,  # like a terminal: Ctrl-C is sent to llmops, the children have their own groups
        )
        self.started.append(UpProcess(proc))
        return self.started[-1]

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LLMOPS, *args], capture_output=True, text=True, env={**self.env, **env}, timeout=60, check=False
        )

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads((self.data_dir / "up.json").read_text())
        return state


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    ports: dict[str, int] = {}
    for name in (
        "kafka",
        "kafka-controller",
        "ingest",
        "warehouse",
        "inference",
        "demo-upstream",
        "feedback",
        "evaluation",
        "cost",
        "alerting",
        "governance-audit",
    ):
        while (port := free_port()) in ports.values():
            pass
        ports[name] = port
    # the model server's gRPC and metrics ports follow its HTTP port: three free in a row
    port = free_port()
    while any(p in ports.values() or not _free(p) for p in range(port, port + 3)):
        port = free_port()
    ports["model-server"] = port
    # a broker of its own (not KAFKA_BOOTSTRAP_SERVERS), and none of the CLI's settings from outside
    env = {k: v for k, v in os.environ.items() if k not in CLI_SETTINGS and not k.startswith("KAFKA_BOOTSTRAP")}
    env = {k: v for k, v in env.items() if k != "COLUMNS"}  # output to a pipe must not wrap without it
    env |= {"LLMOPS_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    session = Session(tmp_path / "data", ports, env)
    try:
        yield session
    finally:
        for up in session.started:  # a failed test must not leave a platform behind
            children: dict[str, int] = {}
            with contextlib.suppress(FileNotFoundError, ValueError):
                children = session.state()["children"]
            if up.proc.poll() is None:
                up.proc.send_signal(signal.SIGINT)
                try:
                    up.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    up.proc.kill()
            for pid in children.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _total_calls(session: Session, key: str) -> int:
    result = session.cli(
        "metrics", "--group-by", "none", "--since", "2h", "--json", "--warehouse-url", session.url("warehouse"),
        "--api-key", key,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sum(row["calls"] for row in json.loads(result.stdout)["items"])


def _policy_demo_calls(session: Session) -> int:
    """The calls of the policy demo's app (how many were admitted before the gateway read the policy varies)."""
    listed = session.cli("calls", "--app", POLICY_APP, "--limit", "100", "--json")
    assert listed.returncode == 0, listed.stderr
    return len(json.loads(listed.stdout)["items"])


def _ctrl_c(session: Session, up: UpProcess, *, twice: bool = False) -> None:
    """SIGINT, as Ctrl-C sends it: exit 0 in bounded time, no child process group left, no port answering.

    ``twice``: an impatient second Ctrl-C while it is stopping changes nothing.
    """
    children = session.state()["children"]
    assert set(children) == CHILDREN
    assert all(_group_alive(pid) for pid in children.values())
    started = time.monotonic()
    up.proc.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.5)
        up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(STOP_TIMEOUT_S) == 0, up.output
    assert time.monotonic() - started < STOP_TIMEOUT_S
    time.sleep(0.5)  # let the reader drain
    assert "stopped." in up.output
    assert {name: pid for name, pid in children.items() if _group_alive(pid)} == {}
    ports = [*session.ports.values(), session.ports["model-server"] + 1, session.ports["model-server"] + 2]
    assert [port for port in ports if _answers(port)] == []
    assert not (session.data_dir / "up.json").exists()


def test_up_serves_the_cli_stops_on_ctrl_c_and_reuses_its_data_dir(session: Session) -> None:
    first = session.up(demo_calls=200)
    first.wait_for("press Ctrl-C to stop", READY_TIMEOUT_S)
    assert "demo: 200 calls accepted, 0 rejected" in first.output
    assert f"gateway: {GATEWAY_CALLS} chat completions answered, 0 failed" in first.output
    assert "feedback: a thumbs-up on chatcmpl-" in first.output  # an end user's, with the answer's token
    assert " calls queryable" not in first.output  # every call queryable in time
    assert "prompt demo-assistant v1 labelled production" in first.output
    assert re.search(r"replay rp-[0-9a-f]+ \(completed\): [1-9][0-9]* stored calls of", first.output), first.output
    assert re.search(r"keys: k-[0-9a-f]+ \(analyst\) .* revoked: refused by the warehouse", first.output), first.output
    assert re.search(r"retention: \S+'s calls kept 30 days \(policy demo-calls-retention\)", first.output), first.output
    erased = rf"erasure: demo-subject-\d+ erased \({ERASURE_CALLS} calls, \d+ rows in all"
    assert re.search(erased, first.output), first.output
    assert re.search(r"│ warehouse +│ calls +│", first.output), first.output  # the receipt's table
    assert session.url("inference") + "/v1" in first.output and "from openai import OpenAI" in first.output
    curl = f'curl -s -H "Authorization: Bearer $(jq -r .reader {session.data_dir}/credentials.json)" \\'
    assert curl in [line.strip() for line in first.lines], first.output  # a pipe gets whole lines, not wrapped
    keys = json.loads((session.data_dir / "credentials.json").read_text())
    base = 200 + GATEWAY_CALLS + TOOL_CALLS + JUDGED_CALLS + PII_CALLS + BUDGET_CALLS + ERASURE_CALLS
    assert "stored: Hi, I'm [PERSON] ([EMAIL], [PHONE]). Please refund card [CREDIT_CARD]" in first.output
    assert "budget: budget-demo's call refused, 429 insufficient_quota" in first.output, first.output
    assert re.search(r"cost: \d+ calls priced", first.output), first.output
    assert 'tool calling: demo-tools called get_weather({"city": "Lisbon"}), then answered' in first.output
    judge_drift = r"judge drift: demo-judge re-scored 10 anchor answers with local-judge, paired with baseline run"
    assert re.search(judge_drift, first.output), first.output
    assert "offline runs: demo-faq@1 with prompt demo-runs" in first.output
    assert "gate on llmops-demo-refusal (max drop 0.1): passed" in first.output, first.output
    assert "drift injected -> PagerDuty-format trigger" in first.output, first.output
    assert "resolve under the same dedup_key (True)" in first.output, first.output
    _assert_quality_loop_shown(first.output)

    # the gateway's calls: their prompt and experiment variant recorded, the two variants both used
    items = json.loads(session.cli("calls", "--app", "llmops-demo", "--limit", "100", "--json").stdout)["items"]
    gateway = [c for c in items if c["model"] == "opticks-gpt2"]
    assert len(gateway) == GATEWAY_CALLS
    assert {c["prompt"]["name"] for c in gateway} == {"demo-assistant"}
    assert {c["experiment"]["variant"] for c in gateway} == {"warm", "cool"}
    assert all(c["usage"]["completion_tokens"] > 0 for c in gateway)
    # the tool round trip, recorded with the tool call and the tool's result
    tools = sorted((c for c in items if c["model"] == "demo-tools"), key=lambda c: len(c["messages"]))
    assert len(tools) == TOOL_CALLS
    assert tools[0]["choices"][0]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tools[1]["messages"][-1]["role"] == "tool" and "Lisbon" in tools[1]["choices"][0]["output"]

    # the policy demo's calls: the ones admitted until the gateway had read the policy, then the one refused
    policy_calls = _policy_demo_calls(session)
    assert policy_calls >= 1
    total = base + policy_calls

    # the CLI against the URLs and the writer key of credentials.json
    metrics = session.cli(
        "metrics", "--group-by", "none", "--warehouse-url", session.url("warehouse"), "--api-key", keys["writer"]
    )
    assert metrics.returncode == 0, metrics.stderr
    row = next(line for line in metrics.stdout.splitlines() if "(all)" in line)
    assert row.split("│")[2].strip() == str(total)
    assert _total_calls(session, keys["writer"]) == total

    # no flags at all: the URLs come from the running up's up.json, the key from credentials.json
    table = session.cli("calls", "--limit", "5")
    assert table.returncode == 0, table.stderr
    # One row per call, each starting with its time: the ids vary (demo-<seed>-<n>, chatcmpl-..., embd-...).
    rows = [line for line in table.stdout.splitlines() if re.match(r"\s*│ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │", line)]
    assert len(rows) == 5, table.stdout
    assert "more: repeat with --cursor " in table.stdout
    first_page = json.loads(session.cli("calls", "--limit", "150", "--json").stdout)
    cursor = first_page["next_cursor"]
    second_page = json.loads(session.cli("calls", "--limit", "150", "--json", "--cursor", cursor).stdout)
    listed = first_page["items"] + second_page["items"]
    # drift-detection embeds a sample of prompts (by a hash of the random call ids): platform traffic, any number
    embedded = [c for c in listed if c["model"] == EMBEDDING_MODEL]
    assert all(c["origin"] == "platform" for c in embedded), embedded
    ids = [c["call_id"] for c in listed if c["model"] != EMBEDDING_MODEL]
    # every origin is listed; the erasure demo's calls are gone (the per-minute rollup, `total`, still counts them)
    assert len(ids) == len(set(ids)) == total + RUN_CALLS + JUDGE_CALLS + JUDGE_DRIFT_CALLS - ERASURE_CALLS
    assert second_page["next_cursor"] is None

    _ctrl_c(session, first)

    second = session.up(demo_calls=200)
    second.wait_for("press Ctrl-C to stop", READY_TIMEOUT_S)
    assert json.loads((session.data_dir / "credentials.json").read_text()) == keys
    assert _total_calls(session, keys["writer"]) == 2 * base + _policy_demo_calls(session)
    assert "demo: 200 calls accepted" in second.output
    assert "prompt demo-assistant v2 labelled production" in second.output
    assert f"gateway: {GATEWAY_CALLS} chat completions answered, 0 failed" in second.output
    _ctrl_c(session, second, twice=True)


def _assert_quality_loop_shown(output: str) -> None:
    """Each piece of issue 9's demo has its line: online scores, a judge score, an offline run with a gate
    (asserted by the caller), an A/B verdict, a review queue item and a preference export."""
    online = re.search(r"online scores: (\d+) of (\d+) gateway calls of llmops-demo scored", output)
    assert online and online[1] == online[2] == str(GATEWAY_CALLS + TOOL_CALLS), output
    assert "online scores of llmops-demo by evaluator" in output and "llmops-demo-answer-length" in output
    assert re.search(r"judge: local-judge scored call chatcmpl-\S+ [1-5]/5 with rubric demo-rubric v1", output), output
    verdict = re.search(r"A/B verdict on demo-temperature-\d+: (\w+) on error_rate \(calls: control warm (\d+), "
                        r"cool (\d+)\)", output)  # fmt: skip
    assert verdict and int(verdict[2]) + int(verdict[3]) >= GATEWAY_CALLS, output
    assert verdict[1] == "keep_running"  # 20 calls are far below the 100 per arm the sequential test waits for
    assert "variant cool (" in output and "p always-valid" in output  # the verdict's table
    assert "review queue demo-review-" in output and "reviewed (off-topic, corrected)" in output
    assert "preference export: " in output  # the review's correction, read back through the warehouse


@dataclass
class CallStream:
    """Batches of demo calls posted to ingest one after another from a thread, until stopped."""

    url: str
    key: str
    accepted: int = 0
    failures: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        records = list(demo_calls(STREAM_MAX_CALLS, seed=int(time.time())))
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            for start in range(0, len(records), STREAM_BATCH):
                try:
                    response = client.post("/v1/calls", json={"calls": records[start : start + STREAM_BATCH]})
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    return
                if response.status_code != 202:
                    self.failures.append(f"{response.status_code}: {response.text[:300]}")
                    return
                self.accepted += len(response.json()["accepted"])
                if self.stopped.wait(STREAM_PAUSE_S):  # paced, so a loaded 2-core host keeps up
                    return

    def stop(self) -> int:
        self.stopped.set()
        self.thread.join(60)
        assert self.failures == []
        return self.accepted


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s}s: {what}")
        time.sleep(0.2)


async def _consumer_lag(bootstrap: str, group: str) -> int:
    """Records of the group's partitions not yet committed (its side effect, the insert, comes first)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets(list(committed))
        return sum(ends[tp] - meta.offset for tp, meta in committed.items())
    finally:
        await consumer.stop()
        await admin.close()


def test_a_killed_warehouse_is_restarted_and_nothing_is_lost(session: Session) -> None:
    up = session.up(demo_calls=0)
    up.wait_for("press Ctrl-C to stop", READY_TIMEOUT_S)
    keys = json.loads((session.data_dir / "credentials.json").read_text())
    state = session.state()
    stream = CallStream(session.url("ingest"), keys["writer"])
    _wait_until(lambda: stream.accepted >= 500, "500 calls accepted", 60)

    os.killpg(state["children"]["warehouse"], signal.SIGKILL)
    up.wait_for("warehouse died (killed by SIGKILL); last log lines:", 30)
    up.wait_for("restarting warehouse in 1s (restart 1 of at most 5)", 5)
    up.wait_for("✓ warehouse restarted", READY_TIMEOUT_S)
    after_restart = stream.accepted
    _wait_until(lambda: stream.accepted >= after_restart + 500, "500 more calls accepted after the restart", 60)
    accepted = stream.stop()

    assert up.proc.poll() is None, up.output  # the platform kept running
    assert session.state()["children"]["warehouse"] != state["children"]["warehouse"]  # up.json has the new pid
    bootstrap = state["kafka_bootstrap_servers"]
    seen: dict[str, int] = {}  # the last look, for the failure message: a loss and a slow catch-up read differently

    def stored_and_committed() -> bool:
        seen["stored"] = _total_calls(session, keys["reader"])
        seen["lag"] = run_sync(_consumer_lag(bootstrap, "warehouse"))
        return seen["stored"] >= accepted and seen["lag"] == 0

    try:
        _wait_until(stored_and_committed, f"{accepted} calls stored and every record committed", 240)
    except pytest.fail.Exception:
        pytest.fail(f"not within 240s: {accepted} calls stored and every record committed; last look: {seen}")
    assert _total_calls(session, keys["reader"]) == accepted  # the rollup would count a duplicate twice

    embedded = httpx.post(
        session.url("inference") + "/v1/embeddings",
        json={"model": "local-embedder", "input": ["Where is my parcel?"]},
        headers={"Authorization": f"Bearer {keys['writer']}"},
        timeout=60,
    )
    assert embedded.status_code == 200, embedded.text
    assert len(embedded.json()["data"][0]["embedding"]) == 384
    _ctrl_c(session, up)
