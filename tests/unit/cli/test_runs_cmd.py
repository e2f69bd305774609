"""`llmops evals gate` exit codes (what CI reads) and `llmops evals datasets upload` against the real app.

The gate's answers come from a scripted transport (the service's side of the gate is tested in
tests/unit/evaluation/test_runs_api.py and end to end in tests/integration/evaluation/test_runs.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from llmops_cli import runs_cmd
from llmops_cli.context import CliContext
from llmops_cli.evals_cmd import evals_app
from llmops_cli.runs_cmd import GATE_ERROR, GATE_PASSED, GATE_REGRESSION, GATE_UNDECIDED, register
from llmops_evaluation.bootstrap import EvaluationPorts, create_app
from llmops_evaluation.config import EvaluationSettings
from llmops_evaluation.runs.stores import DatasetStore, RunStore
from llmops_evaluation.store import EvaluatorStore
from llmops_kit.auth import ApiKeyRecord, ApiKeyStore, hash_key
from llmops_kit.kafka.publisher import InMemoryPublisher
from rich.console import Console
from typer.testing import CliRunner, Result

from tests.unit.cli.test_evals_cmd import ENV_VARS, SyncAsgi

ADMIN = "dev-admin-key"
root = typer.Typer()
register(evals_app)
root.add_typer(evals_app, name="evals")

METRIC = {
    "evaluator": "probe",
    "metric": "matches_reference",
    "baseline": {"n": 4, "mean": 1.0, "pass_rate": 1.0},
    "candidate": {"n": 4, "mean": 0.25, "pass_rate": 0.25},
    "delta": -0.75,
    "low": -1.5,
    "high": 0.0,
    "paired": True,
    "pass_rate_delta": -0.75,
}


def invoker(tmp_path: Path, transport: httpx.BaseTransport) -> Callable[..., Result]:
    (tmp_path / "credentials.json").write_text(json.dumps({"admin": ADMIN}))

    def run(*args: str) -> Result:
        context = CliContext(
            transport=transport,
            out=Console(width=200, color_system=None, force_terminal=False),
            err=Console(width=200, color_system=None, force_terminal=False, stderr=True),
        )
        env: dict[str, str | None] = dict.fromkeys(ENV_VARS)
        env["LLMOPS_DATA_DIR"] = str(tmp_path)
        return CliRunner().invoke(root, list(args), obj=context, env=env)

    return run


def scripted(*answers: tuple[int, Any]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A transport answering each request with the next of ``answers`` (the last one repeats)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answers[min(len(seen), len(answers)) - 1]
        return httpx.Response(status, json=body)

    return httpx.MockTransport(answer), seen


GATE = ("evals", "gate", "--baseline", "run-a", "--candidate", "run-b", "--evaluator", "probe", "--max-drop", "0.5")


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_cmd, "_POLL_S", 0.0)


@pytest.mark.parametrize(
    ("answers", "code", "said"),
    [
        ([(200, {"passed": True, "evaluator": "probe", "max_drop": 0.5, "metrics": [METRIC]})], GATE_PASSED, "passed"),
        ([(200, {"passed": False, "evaluator": "probe", "max_drop": 0.5, "metrics": [METRIC]})], GATE_REGRESSION,
         "REGRESSION"),
        ([(404, {"detail": "neither run has scores of evaluator 'probe'"})], GATE_ERROR, "neither run has"),
        ([(503, {"detail": "the warehouse holds scores of 1 of 4 examples yet"})], GATE_UNDECIDED, "1 of 4"),
        ([(409, {"detail": "run run-b is still running (2/4)"})], GATE_UNDECIDED, "still running"),
    ],
)  # fmt: skip
def test_gate_exit_codes(tmp_path: Path, answers: list[tuple[int, Any]], code: int, said: str) -> None:
    transport, seen = scripted(*answers)
    result = invoker(tmp_path, transport)(*GATE, "--wait", "0")
    assert result.exit_code == code, result.output
    assert said in result.output
    assert dict(seen[0].url.params) == {"baseline": "run-a", "candidate": "run-b", "evaluator": "probe",
                                        "max_drop": "0.5"}  # fmt: skip


def test_gate_waits_for_the_scores_then_decides(tmp_path: Path) -> None:
    verdict = {"passed": False, "evaluator": "probe", "max_drop": 0.5, "metrics": [METRIC]}
    transport, seen = scripted((409, {"detail": "running"}), (503, {"detail": "storing"}), (200, verdict))
    result = invoker(tmp_path, transport)(*GATE, "--wait", "60")
    assert result.exit_code == GATE_REGRESSION and len(seen) == 3
    assert "-0.7500" in result.stdout and "[-1.5000, +0.0000]" in result.stdout


def test_upload_lists_the_refused_lines(tmp_path: Path) -> None:
    stores = EvaluatorStore(), DatasetStore(), RunStore()
    for store in stores:
        store.mark_caught_up()
    keys = ApiKeyStore([ApiKeyRecord(id="dev-admin", tenant_id="demo", role="admin", sha256=hash_key(ADMIN))])
    ports = EvaluationPorts(InMemoryPublisher(), keys, stores[0], datasets=stores[1], runs=stores[2])
    invoke = invoker(tmp_path, SyncAsgi(create_app(EvaluationSettings(), ports=ports)))
    data = tmp_path / "faq.jsonl"
    data.write_text('{"input": "Where is my parcel?", "expected": "In transit."}\n{broken\n{"input": "Refund?"}\n')
    uploaded = invoke("evals", "datasets", "upload", "faq", str(data))
    assert uploaded.exit_code == 0, uploaded.output
    assert uploaded.stdout.startswith("faq@1: 2 examples imported, 1 refused")
    assert "line 2: Invalid JSON" in uploaded.stderr
    again = invoke("evals", "datasets", "upload", "faq", str(data))
    assert again.stdout.startswith("faq@2:")
    assert "faq" in invoke("evals", "datasets", "list").stdout
    shown = invoke("evals", "datasets", "show", "faq@1")
    assert shown.exit_code == 0 and "Where is my parcel?" in shown.stdout
    assert invoke("evals", "datasets", "show", "faq@x").exit_code == 2


def test_run_follows_the_progress_until_done_then_compare_prints_the_table(tmp_path: Path) -> None:
    state = {"run_id": "run-a", "status": "running", "total": 4, "completed": 0, "failed": 0}
    transport, seen = scripted(
        (202, state),
        (200, {**state, "completed": 2}),
        (200, {**state, "status": "completed", "completed": 4, "failed": 1}),
    )
    invoke = invoker(tmp_path, transport)
    args = ("evals", "run", "--dataset", "faq@2", "--prompt", "support@3", "--model", "m", "--evaluator", "probe",
            "--param", "temperature=0", "--param", "stop=end")  # fmt: skip
    ran = invoke(*args)
    assert ran.exit_code == 0, ran.output
    assert "run-a completed: 4/4 examples, 1 failed" in ran.stdout
    assert json.loads(seen[0].content) == {
        "dataset": "faq", "dataset_version": 2, "evaluators": ["probe"],
        "variant": {"model": "m", "input_variable": "input", "parameters": {"temperature": 0, "stop": "end"},
                    "prompt_name": "support", "prompt_version": 3},
    }  # fmt: skip
    assert [r.url.path for r in seen[1:]] == ["/v1/runs/run-a", "/v1/runs/run-a"]

    comparison = {"metrics": [METRIC], "examples": [{"example_id": "q1", "evaluator": "probe",
                  "metric": "matches_reference", "baseline": 1.0, "candidate": 0.0}]}  # fmt: skip
    compared = invoker(tmp_path, scripted((200, comparison))[0])("evals", "compare", "run-a", "run-b")
    assert compared.exit_code == 0, compared.output
    assert "matches_reference" in compared.stdout and "1.0000 -> 0.2500" in compared.stdout
    assert "q1" in compared.stdout
