"""The drift part of `llmops up`'s demo: the engine of `llmops drift check` on demo calls with a drift injected."""

from __future__ import annotations

import random
import time

import httpx
from rich.console import Console

from llmops_cli.demo import demo_calls

REFERENCE_CALLS, CURRENT_CALLS = 1000, 500
SLOWDOWN = 1.5
"""The injected drift: every current call takes 1.5 times as long (a slower upstream)."""
SCORE = "score:relevance@1/relevance"
"""A score feature as drift-detection joins it at a window's close (docs/drift.md): on half the calls here."""


def _scores(count: int, mean: float, seed: int) -> list[object]:
    rng = random.Random(seed)
    return [min(1.0, max(0.0, rng.gauss(mean, 0.1))) if i % 2 else None for i in range(count)]


def run_drift_demo(console: Console) -> None:
    """Check demo calls against demo calls, once as drawn and once with latency inflated; print both verdicts."""
    from llmops_drift import check, columns_of  # scipy and scikit-learn: imported only when the demo runs

    reference = columns_of(demo_calls(REFERENCE_CALLS, seed=11))
    same = check(reference, columns_of(demo_calls(CURRENT_CALLS, seed=12)))
    slow = [call | {"latency_ms": call["latency_ms"] * SLOWDOWN} for call in demo_calls(CURRENT_CALLS, seed=12)]
    drifted = check(reference, columns_of(slow))
    latency = drifted.features["latency_ms"]
    console.print(
        f"[green]✓[/green] drift check ({REFERENCE_CALLS:,} reference vs {CURRENT_CALLS:,} current demo calls, "
        f"{len(same.features)} features): as drawn dataset_drift={same.dataset_drift}; latency x{SLOWDOWN} injected "
        f"dataset_drift={drifted.dataset_drift} on {', '.join(drifted.drifted)} ({latency.test} "
        f"{latency.statistic:.3f}, adjusted p {latency.p_value_adjusted:.1e}); `llmops drift check` does this on files",
        highlight=False,
    )
    current = columns_of(demo_calls(CURRENT_CALLS, seed=12)) | {SCORE: _scores(CURRENT_CALLS, 0.65, 12)}
    scored = check(reference | {SCORE: _scores(REFERENCE_CALLS, 0.8, 11)}, current)
    console.print(
        f"[green]✓[/green] scores in drift checks: relevance 0.15 lower on the scored half of the current calls, "
        f"dataset_drift={scored.dataset_drift} on {', '.join(scored.drifted)}; drift-detection joins each closed "
        "window's scores and feedback from the warehouse the same way",
        highlight=False,
    )


def show_drift_windows(url: str, key: str, console: Console, timeout_s: float = 60.0) -> None:
    """The drift-detection service's open windows of the demo tenant, once it holds the demo calls."""
    windows: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=url, timeout=10) as client:
        while not windows and time.monotonic() < deadline:
            answer = client.get("/v1/drift/windows", headers={"Authorization": f"Bearer {key}"}, params={"limit": 1000})
            windows = answer.json() if answer.status_code == 200 else []
            if not windows:
                time.sleep(0.5)  # polling the service until its faust worker has folded the demo calls
    calls = sum(int(str(w["calls"])) for w in windows)
    console.print(
        f"[green]✓[/green] drift-detection at {url}: {calls:,} demo calls in {len(windows)} open 10-minute windows "
        "(per app, model and prompt version); each closed window is checked against the previous one and reported "
        "on llmops.drift.reports (`curl -H 'Authorization: Bearer ...' " + url + "/v1/drift/windows`)",
        highlight=False,
    )
