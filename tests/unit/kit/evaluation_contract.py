"""What the kit's EvaluationClient relies on from the evaluation service's run routes, as one suite run against the
fake (tests/unit/kit/fake_evaluation.py) and the real evaluation app (test_evaluation_client.py).

Subclass :class:`EvaluationContract` and provide ``evaluation`` (a started EvaluationClient acting with a service
key) and ``seed`` (``await seed(tenant, dataset, example_ids)`` makes version 1 of the dataset exist).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from llmops_kit.platform_client import EvaluationClient, PlatformCallError

Seed = Callable[[str, str, list[str]], Awaitable[None]]
JUDGE = {"name": "probe", "kind": "probe", "params": {}}


def tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def spec(dataset: str) -> dict[str, Any]:
    return {"dataset": dataset, "dataset_version": 1, "variant": {"model": "model-a"}, "inline": [JUDGE]}


async def settled(evaluation: EvaluationClient, tenant_id: str, run_id: str) -> dict[str, Any]:
    """The run once it is no longer running (background tasks get the loop; bounded, no fixed sleep)."""
    for _ in range(10_000):
        run = await evaluation.run(tenant_id, run_id)
        if run["status"] != "running":
            return run
        await asyncio.sleep(0)
    raise AssertionError(f"run {run_id} still running")


class EvaluationContract:
    async def test_a_run_starts_completes_and_compares_per_example(
        self, evaluation: EvaluationClient, seed: Seed
    ) -> None:
        mine = tenant()
        await seed(mine, "anchors", ["a1", "a2", "a3"])
        first = await evaluation.start_run(mine, spec("anchors"))
        assert (first["status"], first["dataset_version"], first["total"]) == ("running", 1, 3)
        second = await evaluation.start_run(mine, spec("anchors"))
        done = [await settled(evaluation, mine, run["run_id"]) for run in (first, second)]
        assert [run["status"] for run in done] == ["completed", "completed"]
        assert all(run["created_at"] <= run["updated_at"] for run in done)
        compared = await evaluation.compare(mine, first["run_id"], second["run_id"], examples=100)
        assert sorted({row["example_id"] for row in compared["examples"]}) == ["a1", "a2", "a3"]
        for row in compared["examples"]:
            assert row["evaluator"] == "probe"
            assert isinstance(row["metric"], str)
            assert isinstance(row["baseline"], float) and isinstance(row["candidate"], float)

    async def test_an_unknown_dataset_is_a_404(self, evaluation: EvaluationClient) -> None:
        with pytest.raises(PlatformCallError) as refused:
            await evaluation.start_run(tenant(), spec("never-uploaded"))
        assert refused.value.status == 404

    async def test_an_unknown_run_is_a_404_and_runs_are_the_tenants(
        self, evaluation: EvaluationClient, seed: Seed
    ) -> None:
        mine = tenant()
        await seed(mine, "anchors", ["a1"])
        run = await evaluation.start_run(mine, spec("anchors"))
        for who, run_id in ((mine, "run-unknown"), (tenant(), run["run_id"])):
            with pytest.raises(PlatformCallError) as refused:
                await evaluation.run(who, run_id)
            assert refused.value.status == 404
        await settled(evaluation, mine, run["run_id"])
