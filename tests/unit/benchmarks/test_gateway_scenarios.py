"""bench_gateway's scenarios: the loopback upstream's three answers, the answer checks, the proxies' routes, the
requests each target gets, the per-scenario report rows and the ``--scenarios`` option."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic.types
import bench_gateway as bench
import httpx
import openai.types.chat
import pytest
from bench_gateway import Results, Run, Sample
from benchkit import CpuWindow
from gateway_scenarios import (
    ANTHROPIC_ANSWER,
    CHAT_ANSWER,
    CLAUDE,
    MODEL,
    SCENARIOS,
    TOOL_ANSWER,
    TRANSLATED_ANSWER,
    Endpoint,
    answer_problem,
    gateway_routes,
    litellm_models,
)
from llmops_inference.adapters.native.anthropic import AnthropicDialect
from llmops_inference.routing_table import RoutingTable
from llmops_kit.infra import free_port
from llmops_kit.infra.process import ManagedProcess
from loopback_upstream import CHAT_TEXT, CLAUDE_MODEL, CLAUDE_TEXT, MESSAGE, TOOL_CALL

SCRIPT = Path(bench.__file__).with_name("loopback_upstream.py")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The loopback upstream as the benchmark runs it: its own process on a free port."""
    port = free_port()
    process = ManagedProcess(
        "upstream",
        [sys.executable, str(SCRIPT), str(port)],
        log_path=tmp_path_factory.mktemp("upstream") / "upstream.log",
        ready_url=f"http://127.0.0.1:{port}/health",
    )
    process.start()
    try:
        process.wait_ready(30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def call(base: str, endpoint: Endpoint) -> httpx.Response:
    """What a target is sent in the benchmark: the scenario's body, path and headers."""
    return httpx.post(base + endpoint.path, content=endpoint.body, headers=endpoint.headers, timeout=10)


def direct(scenario: str) -> Endpoint:
    return SCENARIOS[scenario].endpoint(Endpoint("direct", 0, "/v1/chat/completions", "sk-test"))


# ------------------------------------------------------------------------------------------- the upstream


def test_the_upstream_answers_a_chat_request_with_its_text(upstream: str) -> None:
    answer = call(upstream, direct("chat"))
    assert answer.status_code == 200
    completion = openai.types.chat.ChatCompletion.model_validate(answer.json())  # the SDK's own shape
    assert completion.choices[0].message.content == CHAT_TEXT and completion.choices[0].finish_reason == "stop"
    assert answer_problem(200, answer.content, full=True, expect=CHAT_ANSWER) is None


def test_the_upstream_answers_a_request_with_tools_with_a_tool_call(upstream: str) -> None:
    answer = call(upstream, direct("tools"))
    completion = openai.types.chat.ChatCompletion.model_validate(answer.json())
    (tool_call,) = completion.choices[0].message.tool_calls or []
    assert isinstance(tool_call, openai.types.chat.ChatCompletionMessageFunctionToolCall)
    assert tool_call.function.name == TOOL_CALL["name"]
    assert json.loads(tool_call.function.arguments) == TOOL_CALL["arguments"]
    assert completion.choices[0].finish_reason == "tool_calls" and completion.choices[0].message.content is None
    assert answer_problem(200, answer.content, full=True, expect=TOOL_ANSWER) is None
    # the same conversation without tools gets text: the body decides, not the path
    without = call(upstream, direct("chat"))
    assert answer_problem(200, without.content, full=True, expect=TOOL_ANSWER) == "no tool call"


def test_the_upstream_answers_the_messages_api_with_an_anthropic_message(upstream: str) -> None:
    endpoint = direct("anthropic")
    assert endpoint.path == "/v1/messages" and endpoint.headers["anthropic-version"] == "2023-06-01"
    answer = call(upstream, endpoint)
    message = anthropic.types.Message.model_validate(answer.json())  # the SDK's own shape
    assert [block.model_dump(exclude_none=True) for block in message.content] == [{"type": "text", "text": CLAUDE_TEXT}]
    assert message.model == CLAUDE_MODEL and message.stop_reason == "end_turn"
    assert message.usage.cache_read_input_tokens and message.usage.cache_creation_input_tokens  # both reported
    assert answer_problem(200, answer.content, full=True, expect=ANTHROPIC_ANSWER) is None


def test_the_upstream_answers_readiness_and_refuses_other_paths(upstream: str) -> None:
    assert httpx.get(f"{upstream}/health").json() == {"ok": True}
    assert httpx.post(f"{upstream}/v1/embeddings", content=b"{}").status_code == 404


# ------------------------------------------------------------------------------------------- answer checks


def completion(message: dict[str, Any], finish_reason: str = "stop") -> bytes:
    return json.dumps({"choices": [{"message": message, "finish_reason": finish_reason}]}).encode()


def tool_calls(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": function}]}


def test_a_tools_answer_counts_only_with_the_upstreams_tool_call() -> None:
    good = completion(tool_calls(TOOL_CALL["name"], TOOL_CALL["arguments"]), "tool_calls")
    assert answer_problem(200, good, full=True, expect=TOOL_ANSWER) is None
    assert answer_problem(200, good, full=False, expect=TOOL_ANSWER) is None
    text = completion({"content": CHAT_TEXT})
    assert answer_problem(200, text, full=True, expect=TOOL_ANSWER) == "no tool call"
    unfinished = completion(tool_calls(TOOL_CALL["name"], TOOL_CALL["arguments"]), "stop")
    assert answer_problem(200, unfinished, full=True, expect=TOOL_ANSWER) == "no tool call"
    other = completion(tool_calls(TOOL_CALL["name"], {"city": "Lyon"}), "tool_calls")
    assert answer_problem(200, other, full=True, expect=TOOL_ANSWER) == "not the upstream's tool call"
    broken = completion({"tool_calls": [{"function": {"name": "get_weather", "arguments": "{"}}]}, "tool_calls")
    assert answer_problem(200, broken, full=True, expect=TOOL_ANSWER) == "not a chat completion"


def test_a_translated_answer_counts_only_with_the_anthropic_upstreams_text_as_openai_text() -> None:
    good = completion({"role": "assistant", "content": CLAUDE_TEXT})
    assert answer_problem(200, good, full=True, expect=TRANSLATED_ANSWER) is None
    assert answer_problem(200, completion({"content": CHAT_TEXT}), full=True, expect=TRANSLATED_ANSWER) == (
        "not the upstream's answer translated"
    )
    cut = completion({"content": CLAUDE_TEXT}, "length")
    assert answer_problem(200, cut, full=True, expect=TRANSLATED_ANSWER) == "not the upstream's answer translated"
    untranslated = json.dumps({"type": "message", "content": [{"type": "text", "text": CLAUDE_TEXT}]}).encode()
    assert answer_problem(200, untranslated, full=False, expect=TRANSLATED_ANSWER) == "no choices"
    assert answer_problem(200, untranslated, full=True, expect=TRANSLATED_ANSWER) == "not a chat completion"
    assert answer_problem(502, good, full=True, expect=TRANSLATED_ANSWER) == "HTTP 502"


def test_a_native_answer_counts_only_as_the_anthropic_message_with_the_upstreams_text() -> None:
    good = json.dumps({"type": "message", "content": [{"type": "text", "text": CLAUDE_TEXT}]}).encode()
    assert answer_problem(200, good, full=True, expect=ANTHROPIC_ANSWER) is None
    other = json.dumps({"type": "message", "content": [{"type": "text", "text": "no"}]}).encode()
    assert answer_problem(200, other, full=True, expect=ANTHROPIC_ANSWER) == "not the upstream's message"
    assert answer_problem(200, b'{"type":"error"}', full=False, expect=ANTHROPIC_ANSWER) == "no content"
    assert answer_problem(200, b'{"type":"error"}', full=True, expect=ANTHROPIC_ANSWER) == "not a Messages answer"


# ------------------------------------------------------------------------------------------- requests and routes


def test_each_target_gets_its_scenarios_request_with_its_own_address_and_headers() -> None:
    portkey = Endpoint("portkey", 7, "/v1/chat/completions", "sk-p", {"x-portkey-provider": "openai"})
    tools = SCENARIOS["tools"].endpoint(portkey)
    assert (tools.port, tools.key, tools.extra_headers) == (7, "sk-p", {"x-portkey-provider": "openai"})
    sent = json.loads(tools.body)
    assert sent["tools"][0]["function"]["name"] == TOOL_CALL["name"] and sent["tool_choice"] == "auto"
    gateway = SCENARIOS["anthropic"].endpoint(Endpoint("gateway", 8, "/v1/chat/completions", "sk-g"))
    assert gateway.path == "/v1/chat/completions" and json.loads(gateway.body)["model"] == CLAUDE
    assert gateway.expect is TRANSLATED_ANSWER
    assert direct("anthropic").raw_request().startswith(b"POST /v1/messages HTTP/1.1\r\n")
    assert "portkey" not in SCENARIOS["anthropic"].targets and "portkey" in SCENARIOS["tools"].targets


def test_direct_gets_what_the_gateway_sends_upstream_and_the_check_takes_what_it_answers() -> None:
    """The gateway's own Anthropic dialect: the native call is the one it makes, so "added" is its own cost."""
    dialect = AnthropicDialect()
    sent = {**SCENARIOS["anthropic"].request, "model": CLAUDE_MODEL}  # the route's target model
    call = dialect.call("http://127.0.0.1:1", "chat/completions", sent)
    assert call.url == "http://127.0.0.1:1/v1/messages" and call.body == json.loads(direct("anthropic").body)
    translated = dialect.answer(json.loads(MESSAGE), sent)
    assert answer_problem(200, json.dumps(translated).encode(), full=True, expect=TRANSLATED_ANSWER) is None


def test_the_gateways_routes_send_bench_claude_to_the_upstream_as_an_anthropic_backend() -> None:
    table = RoutingTable.model_validate(gateway_routes(4321))  # the gateway's own validation of the file
    (chat,) = table.targets(MODEL) or []
    (claude,) = table.targets(CLAUDE) or []
    assert (chat.backend, claude.backend, claude.model) == ("openai", "anthropic", CLAUDE_MODEL)
    bases = {u.name: u.base_url for u in table.upstreams}
    assert bases[chat.upstream] == "http://127.0.0.1:4321/v1"
    assert bases[claude.upstream] == "http://127.0.0.1:4321"  # the gateway adds /v1/messages


def test_litellm_maps_the_same_models_to_openai_and_anthropic_at_the_upstream() -> None:
    models = {m["model_name"]: m["litellm_params"] for m in litellm_models(4321)}
    assert models[MODEL]["model"] == "openai/loopback" and models[MODEL]["api_base"] == "http://127.0.0.1:4321/v1"
    assert models[CLAUDE]["model"] == f"anthropic/{CLAUDE_MODEL}"
    assert models[CLAUDE]["api_base"] == "http://127.0.0.1:4321"  # LiteLLM appends /v1/messages


# ------------------------------------------------------------------------------------------- report and options


def sample(ms: float, requests: int = 100, cpu_s: float = 1.0) -> Sample:
    cpu = CpuWindow(10.0, {"gateway": cpu_s, "litellm": 2 * cpu_s, "benchmark client": 0.1, "machine": 4 * cpu_s})
    return Sample(latencies_s=[ms / 1000] * requests, measured_s=10.0, cpu=cpu)


def scenario_results(gateway_ms: float, litellm_ms: float) -> Results:
    out = Results()
    for c in (1, 16):
        out.samples.update({("direct", c): sample(1.0), ("gateway", c): sample(1.0 + gateway_ms)})
        out.samples[("litellm", c)] = sample(1.0 + litellm_ms, requests=50, cpu_s=2.0)
    return out


def three_scenarios() -> Run:
    scenarios = {
        "chat": scenario_results(2.0, 10.0),
        "tools": scenario_results(3.0, 12.0),
        "anthropic": scenario_results(9.0, 14.0),  # would not meet the LiteLLM targets: no verdict looks at it
    }
    return Run(scenarios=scenarios, sent=Counter({"gateway": 1_200}), recorded=1_200, spooled=0)


def test_rows_name_their_scenario_and_the_verdicts_stay_plain_chats() -> None:
    run = three_scenarios()
    latency = bench.latency_rows(run)
    assert [r[:3] for r in latency[:3]] == [("chat", "1", "direct"), ("chat", "1", "gateway"), ("chat", "1", "litellm")]
    anthropic_c1 = [r for r in latency if r[0] == "anthropic" and r[1] == "1"]
    assert [(r[2], r[-2]) for r in anthropic_c1] == [("direct", "-"), ("gateway", "9.00"), ("litellm", "14.00")]
    cpu = {(r[0], r[1], r[2]): r for r in bench.cpu_rows(run)}
    assert cpu[("tools", "16", "litellm")][bench.CPU_HEADER.index("litellm us/req")] == "80,000"  # 4 cpu-s / 50
    assert [v.ok for v in bench.verdicts(run.chat)] == [True, True, True]
    assert bench.recording_rows(run)[0] == ("gateway calls made (chat, tools, anthropic; warm-ups included)", "1,200")
    assert bench.recording_rows(run)[1][1] == "1,200 (one per call)"


def test_the_section_and_the_history_carry_every_scenario(tmp_path: Path) -> None:
    run, args = three_scenarios(), bench.parse_args([])
    env = {"date": "2026-01-01 00:00 UTC", "revision": "abc1234", "litellm": "1.0.0", "portkey (node)": "-"}
    row = bench.history_row(env, run, args)
    assert row.count("|") == len(bench.HISTORY_HEADER) + 1
    assert row.endswith("| 3.00 / 12.00 ; 9.00 / 14.00 |")
    section = bench.render_section(env, run, args, [row])
    assert "| anthropic | 16 | gateway | 100 | 0 | 10 | 10.00 |" in section
    assert "| scenario tools | the chat offering one function tool" in section
    assert "tools 12s per target as 3 interleaved rounds of 4s" in section
    only_tools = Run(scenarios={"tools": scenario_results(3.0, 12.0)})
    assert bench.history_row(env, only_tools, bench.parse_args(["--scenarios", "tools"])).count("| - / - / - |") == 2


def test_scenarios_are_chosen_on_the_command_line_in_their_own_order() -> None:
    assert bench.parse_args([]).scenarios == ["chat", "tools", "anthropic"]
    chosen = bench.parse_args(["--scenarios", "anthropic", "chat"])
    assert chosen.scenarios == ["chat", "anthropic"]
    assert bench.knobs_of(chosen) == "scenarios=chat,anthropic"
    with pytest.raises(SystemExit):
        bench.parse_args(["--scenarios", "images"])
    # Portkey starts only for a scenario that has it
    assert bench.used_targets(bench.parse_args(["--scenarios", "anthropic"])) == ["direct", "gateway", "litellm"]
    assert "portkey" in bench.used_targets(bench.parse_args(["--scenarios", "tools"]))


# ------------------------------------------------------------------------------------------- segments and the run


async def test_a_wrong_answer_is_a_failure_of_the_measured_window_even_after_a_warm_up(upstream: str) -> None:
    """The chat answer where a tool call is expected: each sender parses its first measured answer."""
    port = int(upstream.rpartition(":")[2])
    wrong = SCENARIOS["chat"].endpoint(Endpoint("gateway", port, "/v1/chat/completions", "k"))
    segment = bench.Segment(replace(wrong, expect=TOOL_ANSWER), 2, warmup_s=0.05, measure_s=0.3)
    measured = await segment.run({})
    assert set(measured.failures) == {"no tool call"}
    assert measured.failures["no tool call"] <= 2  # one per sender that answered in the window, then the marker check
    assert measured.requests > 0  # later answers have choices: counted, as before


async def test_every_scenario_runs_its_own_request_and_the_sent_calls_add_up(upstream: str) -> None:
    """Two targets at the upstream: direct, and a stand-in "gateway" that answers untranslated (so fails there)."""
    port = int(upstream.rpartition(":")[2])
    stack = bench.Stack(Path("/nonexistent"), ["direct", "gateway"])
    stack.endpoints = {name: Endpoint(name, port, "/v1/chat/completions", "k") for name in ("direct", "gateway")}
    args = bench.parse_args(["--duration", "0.2", "--rounds", "1", "--warmup", "0.02", "--prime", "0.05"])
    args.concurrency = [1, 2]
    run = await bench.run_all(stack, args)
    assert list(run.scenarios) == ["chat", "tools", "anthropic"] and run.recorded is None  # no broker, no check
    for name in ("chat", "tools"):
        assert {key: not s.failures for key, s in run.scenarios[name].samples.items()} == {
            (t, c): True for t in ("direct", "gateway") for c in (1, 2)
        }
    anthropic = run.scenarios["anthropic"].samples
    assert not anthropic[("direct", 1)].failures and anthropic[("direct", 1)].requests  # the native call
    assert set(anthropic[("gateway", 1)].failures) == {"not the upstream's answer translated"}
    counted = sum(s.requests + s.failures.total() for r in run.scenarios.values() for s in r.samples.values())
    assert run.sent["gateway"] + run.sent["direct"] > counted  # the primes' and warm-ups' requests count too
    assert run.scenarios["tools"].samples[("direct", 2)].measured_s == pytest.approx(0.1)  # half of --duration
