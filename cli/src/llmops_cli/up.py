"""`llmops up`: the whole platform on this machine, a demo workload, and where to look.

Runs in the foreground until Ctrl-C (SIGINT) or SIGTERM, then stops the services (they drain and commit)
and the broker, and exits 0. With ``once`` it stops right after the demo and the tour instead. Either way
nothing is left running when it returns. While it runs, ``<data>/up.json`` holds its pid, the URLs and the
children's pids; the other commands read the URLs from it.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from llmops_kit.auth import SERVICE_ROLE
from llmops_kit.feedback_tokens import TOKEN_HEADER
from llmops_kit.infra import KafkaBrokerError
from llmops_kit.infra.process import ProcessError
from rich.console import Console
from rich.markup import escape

from llmops_cli.alert_demo import run_alert_demo
from llmops_cli.audit_demo import run_audit_demo
from llmops_cli.client import ApiError, PlatformClient
from llmops_cli.config import STATE_FILE, CliConfig, read_running_state
from llmops_cli.cost_demo import run_cost_demo, set_demo_budget
from llmops_cli.demo import DEMO_APPS, demo_calls
from llmops_cli.demo_runs import run_offline_demo
from llmops_cli.drift_demo import run_drift_demo, show_drift_windows
from llmops_cli.erasure_demo import run_erasure_demo
from llmops_cli.judge_demo import run_judge_demo
from llmops_cli.judge_drift_demo import run_judge_drift_demo
from llmops_cli.keys_demo import run_keys_demo
from llmops_cli.pii_demo import run_pii_demo
from llmops_cli.platform import (
    DEV_TENANT,
    EMBEDDING_MODEL,
    GATEWAY_MODEL,
    JUDGE_MODEL,
    TOOLS_MODEL,
    LocalPlatform,
    PlatformPorts,
    ensure_dev_keys,
)
from llmops_cli.policy_demo import run_policy_demo
from llmops_cli.render import table
from llmops_cli.retention_demo import run_retention_demo
from llmops_cli.review_demo import run_review_demo
from llmops_cli.sending import SendError, send_records
from llmops_cli.supervisor import supervise
from llmops_cli.verdict_demo import show_online_scores, show_verdict

__all__ = ["run_up"]

QUERYABLE_TIMEOUT_S = 60.0
GATEWAY_DEMO_CALLS = 20
DEMO_APP = "llmops-demo"
DEMO_PROMPT = "demo-assistant"
_GATEWAY_QUESTIONS = (
    "How do I reset my password?",
    "Which plan includes single sign-on?",
    "Where is my parcel?",
    "Can I change my delivery address?",
)

_Handler = Callable[[int, FrameType | None], Any] | int | None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _signals(handler: _Handler) -> Iterator[None]:
    """SIGINT and SIGTERM handled by ``handler`` inside the block, restored after it."""
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_up(data_dir: Path, *, ports: PlatformPorts, demo_calls: int, once: bool, console: Console) -> int:
    """Start everything, send the demo, print the tour; stop cleanly on Ctrl-C. Returns an exit code."""
    if (running := read_running_state(data_dir)) is not None:
        console.print(
            f"[red]error:[/red] another `llmops up` (pid {running['pid']}) is using {data_dir}: stop it first "
            f"(or remove {data_dir / STATE_FILE} if that process is not llmops)"
        )
        return 1
    if len({ports.kafka, ports.kafka_controller, ports.ingest, ports.warehouse}) < 4:
        console.print(f"[red]error:[/red] the four ports must differ: {ports}")
        return 1
    if len(set(ports.all())) < len(ports.all()):
        console.print(
            f"[red]error:[/red] the model server's ports ({ports.model_server}-{ports.model_server_metrics}: HTTP, "
            f"gRPC, metrics) and the gateway's ({ports.inference}) must differ from each other and the rest: {ports}"
        )
        return 1
    platform = LocalPlatform(data_dir, ports)
    if busy := platform.busy_ports():
        console.print(
            f"[red]error:[/red] already in use: {', '.join(busy)} (another `llmops up` or docker compose?); "
            "pick free ports with those options"
        )
        return 1
    with _signals(_interrupt):
        try:
            return _run(platform, data_dir, demo_calls=demo_calls, once=once, console=console)
        except KeyboardInterrupt:
            console.print("\ninterrupted")
            return 0
        except (KafkaBrokerError, ProcessError, ApiError, httpx.HTTPError) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            return 1
        finally:
            with _signals(signal.SIG_IGN), console.status("stopping..."):  # a second Ctrl-C must not orphan
                platform.stop()
                (data_dir / STATE_FILE).unlink(missing_ok=True)
            console.print("stopped.")


def _run(platform: LocalPlatform, data_dir: Path, *, demo_calls: int, once: bool, console: Console) -> int:
    keys_file, keys = ensure_dev_keys(data_dir)
    with console.status("starting Apache Kafka (first run fetches it from Maven Central)..."):
        platform.start_kafka()
    created = platform.apply_topic_catalog()
    console.print(f"[green]✓[/green] Kafka at {platform.bootstrap_servers} ({len(created)} topics created)")
    with console.status("starting ingest, warehouse, model server (loads the models), then the gateway..."):
        platform.start_services(keys_file, keys[SERVICE_ROLE])
    console.print(f"[green]✓[/green] ingest at {platform.url('ingest')}, warehouse at {platform.url('warehouse')}")
    console.print(
        f"[green]✓[/green] model server at {platform.url('model-server')} (gRPC :{platform.ports.model_server_grpc}), "
        f"gateway at {platform.url('inference')}/v1 (models {GATEWAY_MODEL}, {EMBEDDING_MODEL})"
    )
    _write_state(platform, data_dir)
    if demo_calls:
        _configure_demo_evaluators(platform, keys, console)
        config = CliConfig(platform.url("ingest"), platform.url("warehouse"), keys["writer"])
        with PlatformClient(config) as client:
            _run_demo(client, demo_calls, console)
            run_pii_demo(client, console)
        run_drift_demo(console)
        show_drift_windows(platform.url("drift-detection"), keys["admin"], console)
        _run_replay_demo(platform, keys, console)
        set_demo_budget(platform.url("cost"), keys, console)  # the gateways have it by the end of the demo
        _run_gateway_demo(platform, keys, console)
        run_judge_demo(platform, keys, console)
        run_judge_drift_demo(platform, keys, TOOLS_MODEL, console)
        run_alert_demo(platform.url("alerting"), platform.bootstrap_servers, DEV_TENANT, DEMO_APP, keys["admin"],
                       console, _checked)  # fmt: skip
        run_offline_demo(platform.url("inference"), platform.url("evaluation"), keys["admin"], GATEWAY_MODEL,
                         [f"{DEMO_APP}-refusal", f"{DEMO_APP}-answer-length"], console)  # fmt: skip
        run_cost_demo(platform.url("cost"), platform.url("inference"), keys, console)
        run_keys_demo(platform.url("governance-audit"), platform.url("warehouse"), keys["admin"], console, _checked)
        run_policy_demo(platform.url("governance-audit"), platform.url("inference"), keys["admin"], TOOLS_MODEL,
                        console, _checked)  # fmt: skip
        run_audit_demo(platform.url("warehouse"), data_dir, keys["admin"], DEV_TENANT, console)
        run_retention_demo(platform.bootstrap_servers, platform.url("warehouse"), keys["admin"], DEV_TENANT, console)
        with PlatformClient(config) as client:
            run_erasure_demo(client, platform.url("governance-audit"), keys["admin"], console, _checked)
    _print_tour(platform, data_dir, console, once=once)
    if once:
        return 0
    console.print(f"\n[bold]running[/bold] (pid {os.getpid()}) - press Ctrl-C to stop")
    return supervise(platform, console, on_restart=lambda: _write_state(platform, data_dir))


def _write_state(platform: LocalPlatform, data_dir: Path) -> None:
    state = {
        "pid": os.getpid(),
        "ingest_url": platform.url("ingest"),
        "warehouse_url": platform.url("warehouse"),
        "inference_url": platform.url("inference"),
        "feedback_url": platform.url("feedback"),
        "evaluation_url": platform.url("evaluation"),
        "cost_url": platform.url("cost"),
        "alerting_url": platform.url("alerting"),
        "drift_detection_url": platform.url("drift-detection"),
        "governance_url": platform.url("governance-audit"),
        "model_server_url": platform.url("model-server"),
        "kafka_bootstrap_servers": platform.bootstrap_servers,
        "children": platform.pids(),
    }
    (data_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


def _stored_calls(client: PlatformClient) -> tuple[int, list[dict[str, Any]]]:
    try:
        items = client.summary(start="1970-01-01T00:00:00Z", group_by="model").get("items", [])
    except ApiError:
        return -1, []
    return sum(int(r.get("calls", 0)) for r in items), items


def _run_demo(client: PlatformClient, count: int, console: Console) -> None:
    before, _ = _stored_calls(client)
    records = list(demo_calls(count, seed=int(time.time())))
    try:
        result = send_records(client, records, batch_size=250, console=console)
    except SendError as exc:
        raise exc.cause from exc
    console.print(f"[green]✓[/green] demo: {result.accepted} calls accepted, {len(result.rejected)} rejected")
    expected = max(before, 0) + result.accepted
    deadline = time.monotonic() + QUERYABLE_TIMEOUT_S
    with console.status("waiting for the calls to become queryable in ClickHouse..."):
        while (stored := _stored_calls(client))[0] < expected and time.monotonic() < deadline:
            time.sleep(0.5)
    total, items = stored
    if total < expected:
        console.print(f"[yellow]only {max(total, 0)} of {expected} calls queryable after {QUERYABLE_TIMEOUT_S:.0f}s[/]")
    console.print(table("stored calls by model", items, ("group", "calls", "errors", "total_tokens", "latency_p95_ms")))


DEMO_EVALUATORS: dict[str, dict[str, Any]] = {
    "answer-length": {"kind": "length", "params": {"min_chars": 1, "max_chars": 2000}},
    "refusal": {"kind": "refusal"},
    "no-secrets": {"kind": "secrets"},
    "answer-language": {"kind": "language"},
}
"""The heuristics `llmops up` configures for every demo app, so the demo's calls get online scores."""


def _run_replay_demo(platform: LocalPlatform, keys: dict[str, str], console: Console) -> None:
    """Replay the last hour's stored calls of one demo app through a stricter length limit than production's."""
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    now = datetime.now(UTC)
    body = {
        "evaluators": [{"name": "short-answers", "kind": "length", "params": {"max_chars": 300}}],
        "start": datetime.fromtimestamp(now.timestamp() - 3600, UTC).isoformat(),
        "end": now.isoformat(),
        "app": DEMO_APPS[0],
    }
    with httpx.Client(base_url=platform.url("evaluation"), timeout=30) as evaluation:
        response = evaluation.post("/v1/replays", headers=admin, json=body)
        if response.status_code != 201:  # e.g. a data dir made before the evaluation service had a service key
            console.print(f"[yellow]replay demo skipped: {response.status_code} {escape(response.text[:200])}[/]")
            return
        replay = response.json()
        deadline = time.monotonic() + QUERYABLE_TIMEOUT_S
        while replay["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            replay = _checked(evaluation.get(f"/v1/replays/{replay['replay_id']}", headers=admin), "the replay")
    console.print(
        f"[green]✓[/green] replay {replay['replay_id']} ({replay['status']}): {replay['scored']} stored calls of "
        f"{DEMO_APPS[0]} re-scored by short-answers, beside their online scores (`uv run llmops evals replay list`)"
    )


def _configure_demo_evaluators(platform: LocalPlatform, keys: dict[str, str], console: Console) -> None:
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    with httpx.Client(base_url=platform.url("evaluation"), timeout=30) as evaluation:
        for app in (*DEMO_APPS, DEMO_APP):
            for name, spec in DEMO_EVALUATORS.items():
                response = evaluation.put(f"/v1/evaluators/{app}-{name}", headers=admin, json={**spec, "app": app})
                _checked(response, f"configuring the demo evaluator {app}-{name}")
    console.print(f"[green]✓[/green] evaluators {', '.join(DEMO_EVALUATORS)} score every demo app's calls")


def _checked(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise ApiError(f"{what}: HTTP {response.status_code}: {response.text[:500]}", response.status_code)
    body: dict[str, Any] = response.json()
    return body


def _run_gateway_demo(platform: LocalPlatform, keys: dict[str, str], console: Console) -> None:
    """A prompt version labelled production, an A/B test of two parameter sets, chat calls through the gateway.

    Then it waits until the warehouse has every one of those calls and prints them by model and variant.
    """
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    writer = {"Authorization": f"Bearer {keys['writer']}", "X-LLMOps-App": DEMO_APP}
    stamp = int(time.time())
    with httpx.Client(base_url=platform.url("inference"), timeout=60) as gateway:
        version = _checked(
            gateway.post(
                f"/v1/prompts/{DEMO_PROMPT}/versions",
                headers=admin,
                json={
                    "template": [
                        {"role": "system", "content": "You are the helpful support assistant of {{ shop }}."},
                        {"role": "user", "content": "{{ question }}"},
                    ],
                    "variables": [{"name": "shop", "default": "Acme"}, {"name": "question"}],
                    "model": GATEWAY_MODEL,
                    "parameters": {"max_tokens": 16},
                    "description": f"llmops up demo ({stamp})",
                },
            ),
            "creating the demo prompt version",
        )["version"]
        _checked(
            gateway.put(f"/v1/prompts/{DEMO_PROMPT}/labels/production", headers=admin, json={"version": version}),
            "labelling it production",
        )
        running = _checked(gateway.get("/v1/experiments", params={"status": "running"}, headers=admin), "experiments")
        for old in running.get("items", []):  # a previous run's: only one running experiment may take these calls
            if old.get("app") == DEMO_APP:
                _checked(gateway.post(f"/v1/experiments/{old['experiment_id']}/stop", headers=admin), "stopping")
        experiment = _checked(
            gateway.post(
                "/v1/experiments",
                headers=admin,
                json={
                    "experiment_id": f"demo-temperature-{stamp}",
                    "name": "warm vs cool sampling",
                    "app": DEMO_APP,
                    "kind": "ab",
                    "control": "warm",
                    "variants": [
                        {"name": "warm", "weight": 0.5, "model": GATEWAY_MODEL, "parameters": {"temperature": 0.9}},
                        {"name": "cool", "weight": 0.5, "model": GATEWAY_MODEL, "parameters": {"temperature": 0.2}},
                    ],
                },
            ),
            "creating the demo experiment",
        )
        console.print(
            f"[green]✓[/green] prompt {DEMO_PROMPT} v{version} labelled production, "
            f"A/B experiment {experiment['experiment_id']} running"
        )
        call_ids, failed = [], 0
        answered: httpx.Response | None = None
        with console.status(f"sending {GATEWAY_DEMO_CALLS} chat completions through the gateway..."):
            for i in range(GATEWAY_DEMO_CALLS):
                question = _GATEWAY_QUESTIONS[i % len(_GATEWAY_QUESTIONS)]
                response = gateway.post(
                    "/v1/chat/completions",
                    headers=writer,
                    json={
                        "model": GATEWAY_MODEL,
                        "messages": [],
                        "prompt": {"name": DEMO_PROMPT, "label": "production", "variables": {"question": question}},
                        "user": f"demo-user-{stamp}-{i}",
                        "max_tokens": 16,
                        "seed": i,
                    },
                )
                if response.status_code == 200:
                    call_ids.append(response.json()["id"])
                    answered = response
                else:
                    failed += 1
        console.print(f"[green]✓[/green] gateway: {len(call_ids)} chat completions answered, {failed} failed")
        if answered is not None:
            _end_user_feedback(platform, answered, console)
        call_ids += _tool_round_trip(gateway, writer, console)
    _show_gateway_calls(platform, keys["reader"], set(call_ids), console)
    show_online_scores(platform.url("warehouse"), keys["reader"], DEMO_APP, set(call_ids), console)
    show_verdict(platform.url("evaluation"), keys["reader"], experiment["experiment_id"], console)
    run_review_demo(platform.url("feedback"), keys, call_ids[:3], stamp, console, _checked)


def _end_user_feedback(platform: LocalPlatform, answer: httpx.Response, console: Console) -> None:
    """A thumbs-up on one answer, as an end user's page gives it: with the answer's feedback token, no key."""
    item = {
        "feedback_id": f"demo-{uuid.uuid4()}",
        "call_id": answer.json()["id"],
        "kind": "thumbs",
        "value": 1,
        "given_at": datetime.now(UTC).isoformat(),
    }
    headers = {TOKEN_HEADER: answer.headers.get(TOKEN_HEADER, "")}
    with httpx.Client(base_url=platform.url("feedback"), timeout=30) as feedback:
        _checked(feedback.post("/v1/feedback", json=item, headers=headers), "giving feedback with the answer's token")
    console.print(f"[green]✓[/green] feedback: a thumbs-up on {item['call_id']} with its feedback token (no key)")


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def _tool_round_trip(gateway: httpx.Client, headers: dict[str, str], console: Console) -> list[str]:
    """One tool-calling round trip through the gateway to the demo upstream: the model calls ``get_weather``,
    the demo runs it, the model answers with its result. Returns the two calls' ids."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Lisbon?"}]
    request = {"model": TOOLS_MODEL, "messages": messages, "tools": [WEATHER_TOOL], "tool_choice": "auto"}
    first = _checked(gateway.post("/v1/chat/completions", headers=headers, json=request), "the tool-calling request")
    called = first["choices"][0]["message"]
    tool_calls = called.get("tool_calls") or []
    if not tool_calls:
        raise ApiError(f"the demo model called no tool: {called!r}", 500)
    call = tool_calls[0]
    arguments = json.loads(call["function"]["arguments"])
    result = f"18 degrees and sunny in {arguments.get('city', '?')}"  # the demo's stand-in for a weather API
    messages += [called, {"role": "tool", "tool_call_id": call["id"], "content": result}]
    second = _checked(
        gateway.post("/v1/chat/completions", headers=headers, json={**request, "messages": messages}),
        "the request with the tool's result",
    )
    reply = second["choices"][0]["message"]["content"]
    function = call["function"]
    console.print(
        f"[green]✓[/green] tool calling: {TOOLS_MODEL} called {function['name']}({function['arguments']}),"
        f" then answered {reply!r}"
    )
    return [first["id"], second["id"]]


def _show_gateway_calls(platform: LocalPlatform, key: str, call_ids: set[str], console: Console) -> None:
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + QUERYABLE_TIMEOUT_S
    headers = {"Authorization": f"Bearer {key}"}
    with (
        httpx.Client(base_url=platform.url("warehouse"), timeout=30) as warehouse,
        console.status("waiting for the gateway's calls to become queryable in ClickHouse..."),
    ):
        while len(found) < len(call_ids) and time.monotonic() < deadline:
            response = warehouse.get(
                "/v1/calls", params={"app": DEMO_APP, "limit": 1000, "start": "1970-01-01T00:00:00Z"}, headers=headers
            )
            if response.status_code == 200:
                found = {c["call_id"]: c for c in response.json().get("items", []) if c["call_id"] in call_ids}
            if len(found) < len(call_ids):
                time.sleep(0.5)
    if len(found) < len(call_ids):
        console.print(f"[yellow]only {len(found)} of {len(call_ids)} gateway calls queryable[/]")
    groups: Counter[tuple[str, str, str]] = Counter()
    tokens: Counter[tuple[str, str, str]] = Counter()
    for call in found.values():
        prompt = call.get("prompt") or {}
        variant = (call.get("experiment") or {}).get("variant") or "-"
        named = f"{prompt.get('name')} v{prompt.get('version')}" if prompt else "-"
        group = (call.get("model") or "-", variant, named)
        groups[group] += 1
        tokens[group] += int((call.get("usage") or {}).get("total_tokens") or 0)
    rows = [
        {"model": m, "variant": v, "prompt": p, "calls": n, "total_tokens": tokens[(m, v, p)]}
        for (m, v, p), n in sorted(groups.items())
    ]
    columns = ("model", "variant", "prompt", "calls", "total_tokens")
    console.print(table("gateway calls by model and variant", rows, columns))


def _print_tour(platform: LocalPlatform, data_dir: Path, console: Console, *, once: bool) -> None:
    ingest, warehouse = platform.url("ingest"), platform.url("warehouse")
    gateway, model_server = platform.url("inference"), platform.url("model-server")
    models = ", ".join((GATEWAY_MODEL, EMBEDDING_MODEL, JUDGE_MODEL, TOOLS_MODEL))
    when = "after `llmops up` without --once (this run stops now)" if once else "in another terminal while it runs"
    console.print(
        f"""
[bold]Where to look[/bold]
  ingest API     {ingest}/docs   (OpenAPI: {ingest}/openapi.json)
  warehouse API  {warehouse}/docs   (OpenAPI: {warehouse}/openapi.json)
  gateway        {gateway}/v1   (OpenAI-compatible; models {models}; {gateway}/docs)
  feedback API   {platform.url("feedback")}/docs   (thumbs, ratings, labels; docs/feedback.md)
  model server   {model_server}/v2/health/ready   (Triton; gRPC :{platform.ports.model_server_grpc})
  evaluation     {platform.url("evaluation")}/docs   (evaluators: `uv run llmops evals list`; A/B verdicts:
                 `uv run llmops evals verdict EXPERIMENT`, docs/evaluation.md#ab-verdicts)
  cost           {platform.url("cost")}/docs   (prices, spend: `uv run llmops cost report`; docs/cost.md)
  alerting       {platform.url("alerting")}/docs   (`uv run llmops alerts list`, `llmops objectives list`;
                 docs/alerting.md)
  governance     {platform.url("governance-audit")}/docs   (keys, roles, policies, the audit trail; docs/governance.md)
  metrics        {ingest}/metrics  {warehouse}/metrics  {gateway}/metrics
  logs           {data_dir}/logs/ and {data_dir}/kafka/broker.log
  API keys       {data_dir}/credentials.json (tenant 'demo'; services see only hashes)

[bold]Try[/bold] ({when}, from this directory or with the same LLMOPS_DATA_DIR)
  uv run llmops calls --limit 10
  uv run llmops metrics --group-by app
  uv run llmops metrics --timeseries --step 5m
  uv run llmops calls --app {DEMO_APP} --limit 10
  uv run llmops evals list
  uv run llmops evals datasets list
  uv run llmops audit verify --tenant demo
  uv run llmops policies list
  uv run llmops erase --subject-type user_id --value user-8 --reason "GDPR art. 17" --wait
  curl -s -H "Authorization: Bearer $(jq -r .reader {data_dir}/credentials.json)" \\
       "{warehouse}/v1/events/evaluation_scores?app=support-bot&limit=5"
  curl -s -H "Authorization: Bearer $(jq -r .reader {data_dir}/credentials.json)" \\
       "{warehouse}/v1/metrics/summary?group_by=model&start=1970-01-01T00:00:00Z"

[bold]The OpenAI SDK[/bold] (writer key from {data_dir}/credentials.json)
  from openai import OpenAI
  client = OpenAI(base_url="{gateway}/v1", api_key="<writer key>")
  answer = client.chat.completions.create(
      model="{GATEWAY_MODEL}", messages=[{{"role": "user", "content": "Where is my parcel?"}}], max_tokens=32,
      extra_headers={{"X-LLMOps-App": "{DEMO_APP}"}},
  )
  print(answer.choices[0].message.content, answer.usage)
  vectors = client.embeddings.create(model="{EMBEDDING_MODEL}", input=["Where is my parcel?"])
""",
        highlight=False,
    )
