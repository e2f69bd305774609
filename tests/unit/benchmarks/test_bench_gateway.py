"""bench_gateway's pure parts: percentiles, added latency, the verdicts, the --write path, and its HTTP client."""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from pathlib import Path

import bench_gateway as bench
import pytest
from bench_gateway import Results, Run, Sample
from benchkit import CpuWindow, percentile, replace_section
from loopback_upstream import CHAT_TEXT, Upstream

INGEST_SECTION = (
    "<!-- bench-ingest:begin (written by benchmarks/bench_ingest.py --write; edits here are lost) -->\n"
    "ingest figures\n<!-- bench-ingest:end -->\n"
)


def sample(latencies_ms: list[float], seconds: float = 10.0, failures: int = 0) -> Sample:
    return Sample(
        latencies_s=[ms / 1000 for ms in latencies_ms],
        failures=Counter({"HTTP 500": failures}) if failures else Counter(),
        measured_s=seconds,
        cpu=CpuWindow(seconds, {"gateway": 1.0, "litellm": 2.0, "benchmark client": 0.1, "machine": 4.0}),
    )


def results(
    gateway_ms: float,
    litellm_ms: float,
    gateway_n: int = 400,
    litellm_n: int = 100,
    failures: int = 0,
    portkey: tuple[float, int] | None = None,
) -> Results:
    """100 latencies per target and concurrency: i/100 of the base value spread over 1..100 plus the base.
    ``portkey`` (added ms, answers) adds that target.
    """
    out = Results()
    targets = [("gateway", gateway_ms, gateway_n), ("litellm", litellm_ms, litellm_n)]
    if portkey is not None:
        targets.append(("portkey", *portkey))
    for concurrency in (1, 16):
        out.samples[("direct", concurrency)] = sample([1.0 + i / 100 for i in range(1, 101)])
        for name, base, count in targets:
            out.samples[(name, concurrency)] = sample(
                [1.0 + base + i / 100 for i in range(1, 101)] * (count // 100),
                failures=failures if name == "litellm" else 0,
            )
    return out


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert [percentile(values, q) for q in (1, 50, 90, 99, 100)] == [1, 50, 90, 99, 100]
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0


def test_added_latency_is_the_proxy_percentile_minus_the_direct_one() -> None:
    r = results(gateway_ms=2.0, litellm_ms=10.0)
    assert r.added("gateway", 1, 50) == pytest.approx(0.002)
    assert r.added("litellm", 16, 99) == pytest.approx(0.010)
    assert r.samples[("gateway", 16)].rps == 40.0  # 400 answers in 10 s
    assert r.added("nobody", 1, 50) != r.added("nobody", 1, 50)  # NaN when a target is missing


def test_verdicts_are_met_when_the_gateway_adds_at_most_half_and_serves_twice_the_requests() -> None:
    checks = bench.verdicts(results(gateway_ms=2.0, litellm_ms=10.0, gateway_n=400, litellm_n=100))
    assert [v.ok for v in checks] == [True, True, True]
    assert [round(v.gateway, 2) for v in checks] == [2.0, 2.0, 40.0]
    assert [round(v.other, 2) for v in checks] == [10.0, 10.0, 10.0]
    assert {v.peer for v in checks} == {"LiteLLM"}  # Portkey did not run: no verdict against it
    assert checks[2].ratio == pytest.approx(4.0)


def test_verdicts_are_not_met_just_past_the_thresholds() -> None:
    checks = bench.verdicts(results(gateway_ms=5.5, litellm_ms=10.0, gateway_n=100, litellm_n=100))
    assert [v.ok for v in checks] == [False, False, False]
    just_inside = bench.verdicts(results(gateway_ms=4.9, litellm_ms=10.0, gateway_n=200, litellm_n=100))
    assert [v.ok for v in just_inside] == [True, True, True]  # twice the requests/s exactly: "at least twice"


def test_against_portkey_the_gateway_must_be_at_least_as_fast_and_serve_as_many_requests() -> None:
    even = bench.verdicts(results(gateway_ms=2.0, litellm_ms=10.0, gateway_n=300, portkey=(2.0, 300)))
    assert [(v.peer, v.ok) for v in even[:3]] == [("Portkey", True)] * 3
    assert [round(v.other, 2) for v in even[:3]] == [2.0, 2.0, 30.0]
    behind = bench.verdicts(results(gateway_ms=2.1, litellm_ms=10.0, gateway_n=300, portkey=(2.0, 400)))
    assert [v.ok for v in behind[:3]] == [False, False, False]
    assert [v.peer for v in behind[3:]] == ["LiteLLM"] * 3


def test_a_target_that_failed_requests_gets_no_verdict() -> None:
    checks = bench.verdicts(results(gateway_ms=2.0, litellm_ms=10.0, failures=3))
    assert [v.ok for v in checks] == [None, None, None]
    assert bench.verdict_text(None).startswith("n/a")
    partial = results(gateway_ms=2.0, litellm_ms=10.0)
    del partial.samples[("litellm", 16)]
    assert [v.ok for v in bench.verdicts(partial)] == [True, None, None]


def test_an_answer_counts_only_when_it_is_the_upstreams_chat_completion() -> None:
    good = b'{"choices":[{"message":{"content":"' + CHAT_TEXT.encode() + b'"}}]}'
    assert bench.answer_problem(200, good, full=True) is None
    assert bench.answer_problem(200, good, full=False) is None
    assert bench.answer_problem(429, good, full=False) == "HTTP 429"
    assert bench.answer_problem(200, b'{"choices":[{"message":{"content":"other"}}]}', full=True) == (
        "not the upstream's answer"
    )
    assert bench.answer_problem(200, b"not json", full=True) == "not a chat completion"
    assert bench.answer_problem(200, b'{"error":{}}', full=False) == "no choices"


def test_the_section_between_the_markers_is_replaced_and_everything_else_kept() -> None:
    begin, end = bench.SECTION_BEGIN, bench.SECTION_END
    text = f"# Benchmarks\n\n{INGEST_SECTION}\n## Gateway added latency\n\nmethod\n\n{begin}\nold\n{end}\n\nafter\n"
    new = f"{begin}\nnew\n{end}\n"
    replaced = replace_section(text, new, begin, end)
    assert replaced == f"# Benchmarks\n\n{INGEST_SECTION}\n## Gateway added latency\n\nmethod\n\n{new}\nafter\n"
    assert replace_section(replaced, new, begin, end) == replaced
    appended = replace_section(f"# Benchmarks\n\n{INGEST_SECTION}", new, begin, end)
    assert appended == f"# Benchmarks\n\n{INGEST_SECTION}\n{new}"
    # an end marker before the begin marker (or a lone begin) is not a section: append rather than cut text
    assert replace_section(f"{end}\nkeep\n{begin}\n", new, begin, end).startswith(f"{end}\nkeep\n{begin}\n")


def test_write_keeps_the_ingest_section_and_appends_one_history_row_per_run(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\n{INGEST_SECTION}\n## Gateway added latency\n\nhand-written method\n")
    args = bench.parse_args(["--quick"])
    env = {"date": "2026-01-01 00:00 UTC", "revision": "abc1234", "litellm": "1.0.0", "portkey (node)": "1.15.2 (v20)"}
    measured = Run(scenarios={"chat": results(gateway_ms=2.0, litellm_ms=10.0, portkey=(1.0, 400))})
    for _ in range(2):
        history = [*bench.previous_history(doc), bench.history_row(env, measured, args)]
        bench.write_doc(doc, bench.render_section(env, measured, args, history))
    text = doc.read_text()
    assert text.startswith(f"# Benchmarks\n\n{INGEST_SECTION}\n## Gateway added latency\n\nhand-written method\n")
    assert text.count(bench.SECTION_BEGIN) == 1 and text.rstrip().endswith(bench.SECTION_END)
    assert len(bench.previous_history(doc)) == 2
    assert "| p50 added latency at c=1 <= 1/2 LiteLLM's | 2.00 ms | LiteLLM: 10.00 ms | 0.20 | met |" in text
    assert "| p50 added latency at c=1 <= Portkey's | 2.00 ms | Portkey: 1.00 ms | 2.00 | NOT met |" in text
    row = "| 2026-01-01 00:00 UTC | abc1234 | 1.0.0 / 1.15.2 | duration=6.0, rounds=2, warmup=1.0, prime=2.0 | 2.00 /"
    assert row in text


def test_knobs_name_only_what_differs_from_the_defaults() -> None:
    assert bench.knobs_of(bench.parse_args([])) == "defaults"
    assert bench.knobs_of(bench.parse_args(["--client", "httpx", "--write", "x.md"])) == "client=httpx"
    assert bench.parse_args(["--targets", "litellm"]).targets == ["direct", "litellm"]
    pii_off = bench.parse_args(["--env", "LLMOPS_PII_ENABLED=false", "--env", "INFERENCE_RECORD_BATCH=50"])
    assert bench.knobs_of(pii_off) == "env=LLMOPS_PII_ENABLED=false,INFERENCE_RECORD_BATCH=50"
    with pytest.raises(SystemExit):
        bench.parse_args(["--env", "pii off"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--targets", "nginx"])


async def test_the_raw_client_gets_the_loopback_upstreams_answer_on_one_connection() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    session = bench.RawSession(bench.Endpoint("direct", port, "/v1/chat/completions", "sk-test"))
    try:
        for _ in range(3):
            status, body = await asyncio.wait_for(session.send(), 5)
            assert bench.answer_problem(status, body, full=True) is None
        first = session.connection
        await asyncio.wait_for(session.send(), 5)
        assert session.connection is first  # kept alive
    finally:
        session.close()
        server.close()
        await server.wait_closed()


async def test_a_segment_counts_only_answers_after_its_warm_up() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    segment = bench.Segment(bench.Endpoint("direct", port, "/v1/chat/completions", "k"), 2, 0.05, 0.1)
    try:
        measured = await segment.run({})
    finally:
        server.close()
        await server.wait_closed()
    assert measured.requests > 0 and not measured.failures
    assert segment.sent > measured.requests  # the warm-up's requests were sent but not counted
    assert measured.cpu is not None and measured.cpu.wall_s == pytest.approx(0.1, abs=0.05)


def test_parse_args_quick_shortens_the_run() -> None:
    quick = bench.parse_args(["--quick"])
    assert (quick.duration, quick.rounds, quick.warmup, quick.prime) == (6.0, 2, 1.0, 2.0)
    assert isinstance(bench.parse_args([]), argparse.Namespace)
    assert bench.parse_args(["--concurrency", "16,1,16"]).concurrency == [1, 16]


def test_portkey_is_installed_from_its_lock_once_per_change_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``npm ci`` runs in the target with the pinned files copied in, and again only when they change."""
    lock, target = tmp_path / "lock", tmp_path / "cache" / "portkey"
    lock.mkdir()
    (lock / "package.json").write_text('{"dependencies": {"@portkey-ai/gateway": "1.15.2"}}')
    (lock / "package-lock.json").write_text('{"lockfileVersion": 3}')
    runs: list[tuple[list[str], Path]] = []

    def npm_ci(argv: list[str], *, cwd: Path, check: bool) -> None:
        runs.append((argv[1:3], cwd))
        assert (cwd / "package-lock.json").read_text() == (lock / "package-lock.json").read_text()
        (cwd / bench.PORTKEY_SERVER).parent.mkdir(parents=True, exist_ok=True)
        (cwd / bench.PORTKEY_SERVER).write_text("// server")

    monkeypatch.setattr(bench.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(bench.subprocess, "run", npm_ci)
    server = bench.ensure_portkey(target, lock)
    assert server == target / bench.PORTKEY_SERVER and runs == [(["ci", "--ignore-scripts"], target)]
    bench.ensure_portkey(target, lock)
    assert len(runs) == 1
    (lock / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    bench.ensure_portkey(target, lock)
    assert len(runs) == 2
