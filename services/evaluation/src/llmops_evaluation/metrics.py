"""The evaluation service's own Prometheus metrics (the kit's cover consuming and HTTP)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from llmops_evaluation.kind_seconds import KindSeconds

__all__ = [
    "CONFIGS_REJECTED",
    "EVALUATOR_FAILURES",
    "EVALUATOR_SECONDS",
    "JUDGES_IN_FLIGHT",
    "REPLAYS",
    "REPLAY_CALLS",
    "SCORES",
]

# Labelled by kind, not by the tenant-chosen evaluator name, so the series stay few.
SCORES = Counter("llmops_evaluation_scores_total", "Scores published", ["kind"])
EVALUATOR_FAILURES = Counter(
    "llmops_evaluation_evaluator_failures_total",
    "Evaluator runs that produced no score: 'error' (it raised), 'timeout' (it overran its budget) or 'malformed'"
    " (a judge answered without a score)",
    ["kind", "reason"],
)
EVALUATOR_SECONDS = KindSeconds(
    "llmops_evaluation_evaluator_seconds",
    "Time one evaluator took on one call",
    buckets=(0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
CONFIGS_REJECTED = Counter(
    "llmops_evaluation_configs_rejected_total", "Evaluator configurations read from the topic that cannot run"
)
JUDGES_IN_FLIGHT = Gauge(
    "llmops_evaluation_judges_in_flight",
    "Model-backed evaluator runs holding a slot (at most EVALUATION_JUDGE_MAX_IN_FLIGHT)",
)
REPLAY_CALLS = Counter(
    "llmops_evaluation_replay_calls_total",
    "Calls a replay read: 'judged' by its evaluators, or 'skipped' (failed calls, the platform's own)",
    ["outcome"],
)
REPLAYS = Counter("llmops_evaluation_replays_total", "Replays that ended, by status", ["status"])
