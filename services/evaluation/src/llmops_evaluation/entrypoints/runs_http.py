"""HTTP API of offline runs: ``/v1/runs`` (start, progress, comparison, gate, bias check).

Starting a run needs ``runs:start`` (admins, operators, and the drift-detection service's service key), reading
``calls:read``; the tenant is always the caller's. Comparisons read the
runs' scores from the warehouse: while a run is still running they answer 409, while the warehouse has not
stored all its scores yet 503 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from llmops_kit.audit import Actor
from llmops_kit.auth import Principal, requires
from llmops_kit.http.problems import ProblemError, problem_response
from llmops_schemas.v1.runs import RunUpdated
from pydantic import BaseModel

from llmops_evaluation.entrypoints.http import PROBLEMS, Reader
from llmops_evaluation.runs.service import RunRegistry, RunSpec
from llmops_evaluation.runs.stats import BiasGap, Delta, RunScores, bias_gaps, compare, gate

__all__ = ["RUNS_KEY", "runs_router"]

RUNS_KEY = "run_registry"


def _registry(request: Request) -> RunRegistry:
    registry = getattr(request.app.state, RUNS_KEY, None)
    if not isinstance(registry, RunRegistry):
        raise ProblemError(503, "Service Unavailable", "the run registry is starting")
    return registry


Registry = Annotated[RunRegistry, Depends(_registry)]
Starter = Annotated[Principal, Depends(requires("runs:start"))]
"""Who may start a run: the tenant's admins and operators, and the drift-detection service (judge drift)."""
RunId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
RunParam = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Confidence = Annotated[float, Query(gt=0.5, lt=1.0, description="Confidence of the intervals")]

runs_router = APIRouter(tags=["runs"], responses=PROBLEMS)


class RunList(BaseModel):
    """The tenant's runs, newest first."""

    items: list[RunUpdated]


class ExampleRow(BaseModel):
    """One example's score in each run (None: not scored there), on one metric."""

    example_id: str
    evaluator: str
    metric: str
    baseline: float | None
    candidate: float | None


class Comparison(BaseModel):
    """Two runs side by side: per evaluator metric, and per example (the first ``examples`` rows)."""

    baseline: RunUpdated
    candidate: RunUpdated
    metrics: list[Delta]
    examples: list[ExampleRow]


class GateVerdict(BaseModel):
    """Whether the candidate passes: no metric of the evaluator dropped by more than ``max_drop`` (its pass rate,
    or its mean score for a metric without pass/fail)."""

    passed: bool
    evaluator: str
    max_drop: float
    metrics: list[Delta]


class BiasReport(BaseModel):
    """The score gap within the run's counterfactual pair groups, per metric."""

    run: RunUpdated
    gaps: list[BiasGap]


@runs_router.post(
    "/v1/runs",
    status_code=202,
    response_model=RunUpdated,
    summary="Start a run",
    responses={
        400: {"description": "The body is not JSON", "content": {"application/problem+json": {}}},
        429: {
            "description": "As many runs as the service executes are under way",
            "content": {"application/problem+json": {}},
        },
    },
)
async def start_run(spec: RunSpec, registry: Registry, caller: Starter, request: Request) -> RunUpdated:
    """Run every example of the dataset version with the variant through the gateway (platform traffic) and
    score the answers; poll ``GET /v1/runs/{run_id}`` for progress. 429 when enough runs are under way. Audited."""
    return await registry.start(caller.tenant_id, spec, Actor.of(caller, request))


@runs_router.get("/v1/runs", response_model=RunList, summary="List runs")
async def list_runs(registry: Registry, caller: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> RunList:
    """The tenant's runs, newest first."""
    return RunList(items=registry.recent(caller.tenant_id, limit))


def _rows(baseline: RunScores, candidate: RunScores, limit: int) -> list[ExampleRow]:
    rows: list[ExampleRow] = []
    for example in sorted(baseline.scores.keys() | candidate.scores.keys()):
        a, b = baseline.scores.get(example, {}), candidate.scores.get(example, {})
        for key in sorted(a.keys() | b.keys()):
            if len(rows) >= limit:
                return rows
            before, after = a.get(key), b.get(key)
            rows.append(ExampleRow(example_id=example, evaluator=key[0], metric=key[1],
                                   baseline=before.score if before else None,
                                   candidate=after.score if after else None))  # fmt: skip
    return rows


@runs_router.get("/v1/runs/compare", response_model=Comparison, summary="Compare two runs")
async def compare_runs(
    baseline: RunParam,
    candidate: RunParam,
    registry: Registry,
    caller: Reader,
    confidence: Confidence = 0.95,
    examples: Annotated[int, Query(ge=0, le=10_000, description="Most per-example rows")] = 200,
) -> Comparison:
    """Per evaluator metric: mean, pass rate and the candidate's delta with its t interval (paired on shared
    examples); then the examples side by side."""
    base_run, base = await registry.scores(caller.tenant_id, baseline)
    cand_run, cand = await registry.scores(caller.tenant_id, candidate)
    return Comparison(baseline=base_run, candidate=cand_run, metrics=compare(base, cand, confidence=confidence),
                      examples=_rows(base, cand, examples))  # fmt: skip


@runs_router.get("/v1/runs/gate", response_model=GateVerdict, summary="Gate a candidate run against a baseline")
async def gate_runs(
    baseline: RunParam,
    candidate: RunParam,
    evaluator: Annotated[str, Query(min_length=1, max_length=128)],
    max_drop: Annotated[float, Query(ge=0, description="Largest drop of a metric's pass rate (else mean) allowed")],
    registry: Registry,
    caller: Reader,
    confidence: Confidence = 0.95,
) -> GateVerdict:
    """``passed`` is false when a metric of ``evaluator`` dropped by more than ``max_drop`` (its pass rate, baseline
    minus candidate; for a metric without pass/fail its mean score) or is missing from either run; 404 when neither
    run has the evaluator."""
    _, base = await registry.scores(caller.tenant_id, baseline)
    _, cand = await registry.scores(caller.tenant_id, candidate)
    passed, mine = gate(compare(base, cand, confidence=confidence), evaluator, max_drop)
    if not mine:
        raise ProblemError(404, "Not Found", f"neither run has scores of evaluator {evaluator!r}")
    return GateVerdict(passed=passed, evaluator=evaluator, max_drop=max_drop, metrics=mine)


@runs_router.get("/v1/runs/{run_id}", response_model=RunUpdated, summary="One run")
async def get_run(run_id: RunId, registry: Registry, caller: Reader) -> RunUpdated:
    """The run's status and progress (``completed`` of ``total`` examples, ``failed`` and the first failures)."""
    return registry.get(caller.tenant_id, run_id)


@runs_router.get("/v1/runs/{run_id}/bias", response_model=BiasReport, summary="Counterfactual bias check")
async def run_bias(run_id: RunId, registry: Registry, caller: Reader) -> BiasReport:
    """Per metric, the mean absolute score gap within the dataset's counterfactual pair groups and the worst
    group (with the labels of its highest and lowest scored examples)."""
    run, scores = await registry.scores(caller.tenant_id, run_id)
    return BiasReport(run=run, gaps=bias_gaps(scores, registry.pair_groups(caller.tenant_id, run)))


@runs_router.api_route("/v1/runs", methods=["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"], include_in_schema=False)
async def other_methods() -> Response:
    """405 naming both methods of the path (Starlette's own would name only the first route's)."""
    return problem_response(405, "Method Not Allowed", "Method Not Allowed", headers={"Allow": "GET, POST"})
