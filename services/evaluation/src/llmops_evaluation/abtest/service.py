"""Verdicts on demand: read the experiment's history, decide off the event loop, bounded in number."""

from __future__ import annotations

import asyncio
from typing import Protocol

from llmops_kit.http.problems import ProblemError
from llmops_kit.platform_client import PlatformCallError

from llmops_evaluation.abtest.compare import Design
from llmops_evaluation.abtest.history import ExperimentData, UnknownExperiment
from llmops_evaluation.abtest.verdict import ExperimentVerdict, decide, with_overrides

__all__ = ["ExperimentHistory", "VerdictService"]


class ExperimentHistory(Protocol):
    """Where a verdict's data comes from: the warehouse (``WarehouseHistory``) or a test's own."""

    async def load(self, tenant: str, experiment_id: str) -> ExperimentData:
        """The experiment and its gateway-recorded application calls' facts; ``UnknownExperiment`` if none."""
        ...


class VerdictService:
    """Computes verdicts, at most ``concurrency`` at once (the next caller gets a 429 at once, before any read)."""

    def __init__(
        self, history: ExperimentHistory | None, design: Design, *, concurrency: int, retry_after_s: int = 5
    ) -> None:
        self._history = history
        self.design = design
        self._slots = asyncio.Semaphore(concurrency)
        self._retry_after_s = retry_after_s

    async def verdict(
        self,
        tenant: str,
        experiment_id: str,
        *,
        metric: str | None = None,
        alpha: float | None = None,
        minimum_effect: float | None = None,
    ) -> ExperimentVerdict:
        """The verdict now; problems: 404 unknown experiment, 429 busy, 503 warehouse unavailable."""
        if self._history is None:
            detail = "history reads are not configured (LLMOPS_WAREHOUSE_URL and LLMOPS_SERVICE_KEY)"
            raise ProblemError(503, "Service Unavailable", detail)
        if self._slots.locked():
            raise ProblemError(429, "Too Many Requests", "verdicts are being computed; retry shortly", retry_after=1)
        async with self._slots:
            data = await self._load(tenant, experiment_id)
            design = with_overrides(self.design, alpha, minimum_effect)
            return await asyncio.to_thread(decide, data, design, metric)

    async def _load(self, tenant: str, experiment_id: str) -> ExperimentData:
        assert self._history is not None
        try:
            return await self._history.load(tenant, experiment_id)
        except UnknownExperiment as exc:
            raise ProblemError(404, "Not Found", str(exc)) from exc
        except PlatformCallError as exc:
            if exc.retryable:  # no answer, 429 or 502-504 (the kit's client already retried)
                detail = "the warehouse is unavailable or busy; retry later"
                raise ProblemError(503, "Service Unavailable", detail, retry_after=self._retry_after_s) from exc
            raise ProblemError(502, "Bad Gateway", f"the warehouse refused the history read ({exc.status})") from exc
