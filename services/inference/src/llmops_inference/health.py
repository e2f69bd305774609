"""Upstream health for ``/readyz``: a background probe per upstream, combined with its circuit breaker.

The gateway is ready when at least one model has a healthy target: it can serve without Kafka (events are
spooled), so Kafka is reported but does not decide readiness. An upstream is healthy when its last probe
answered and its circuit is not open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from llmops_inference.ports import Backend
from llmops_inference.resilience import BreakerState, CircuitBreaker
from llmops_inference.routing_table import RoutingTable

__all__ = ["HealthMonitor"]


class HealthMonitor:
    """A component: probes every ``interval_s`` in the background; readiness reads the cached results."""

    def __init__(
        self,
        table: RoutingTable,
        backends: Mapping[str, Backend],
        breakers: Mapping[str, CircuitBreaker],
        *,
        interval_s: float = 10.0,
    ) -> None:
        self._table = table
        self._backends = backends
        self._breakers = breakers
        self._interval = interval_s
        self.probed: dict[str, bool] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.probe_all()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def probe_all(self) -> None:
        names = list(self._backends)
        results = await asyncio.gather(*(self._probe(self._backends[n]) for n in names))
        self.probed = dict(zip(names, results, strict=True))

    def healthy(self, upstream: str) -> bool:
        breaker = self._breakers.get(upstream)
        circuit_ok = breaker is None or breaker.state is not BreakerState.OPEN
        return self.probed.get(upstream, False) and circuit_ok

    def ready(self) -> bool:
        """At least one model can be served by a healthy upstream."""
        return any(self.healthy(t.upstream) for targets in self._table.models.values() for t in targets)

    def details(self) -> dict[str, Any]:
        """Per upstream: backend kind, probe result and circuit state (for ``/readyz``)."""
        return {
            name: {
                "backend": self._table.backend_of(name),
                "probe": self.probed.get(name, False),
                "circuit": self._breakers[name].state.name.lower() if name in self._breakers else "closed",
                "healthy": self.healthy(name),
            }
            for name in self._backends
        }

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.probe_all()

    @staticmethod
    async def _probe(backend: Backend) -> bool:
        try:
            async with asyncio.timeout(5.0):
                return await backend.probe()
        except Exception:
            return False
