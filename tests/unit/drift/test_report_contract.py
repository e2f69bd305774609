"""A check of the engine fits ``llmops.drift.reported.v2`` field for field: the event the service will publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from llmops_drift import check
from llmops_schemas.v2 import DriftReported

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_check_with_every_kind_and_a_missing_verdict_is_a_valid_v2_report() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(80)]
    reference = {
        "latency_ms": [*rng.normal(500, 50, 300).tolist(), float("nan")],
        "model": rng.choice(["a", "b"], 301).tolist(),
        "prompt": [" ".join(rng.choice(words, 6)) for _ in range(301)],
        "rare": [1.0] * 10 + [None] * 291,
    }
    current = {name: values[:200] for name, values in reference.items()} | {"model": ["c"] * 200}
    report = check(reference, current)

    event = DriftReported.model_validate(
        {
            "report_id": "r-1",
            "app": "support-bot",
            "window": {"start": START, "end": START + timedelta(hours=1)},
            "reference": {"kind": "previous_window", "window": {"start": START - timedelta(hours=1), "end": START}},
            "dataset_drift": report.dataset_drift,
            "reason": report.reason,
            "fdr": report.fdr,
            "features": [
                {
                    "feature": name,
                    **{k: v for k, v in result.as_json().items() if k not in {"drift", "effect", "sample_size"}},
                    "effect": result.effect,
                    "effect_size": result.effect_size,
                    "effect_threshold": result.effect_threshold,
                    "drifted": result.drift,
                    "sample_size": result.sample_size[1],
                    "baseline_sample_size": result.sample_size[0],
                }
                for name, result in report.features.items()
            ],
            "sample_size": 200,
            "baseline_sample_size": 301,
            "computed_at": START + timedelta(hours=1),
        }
    )

    assert event.dataset_drift is True
    assert {f.feature: f.drifted for f in event.features} == {
        "latency_ms": False,
        "model": True,
        "prompt": False,
        "rare": None,
    }
