"""Per-model routing: ordered targets, retries with backoff, a circuit breaker per upstream, fallbacks.

For each target of the model, in order: skip it while its upstream's circuit is open; otherwise try it,
retrying idempotent failures (connect errors, 502/503/504 before any byte was streamed) with backoff; on any
other upstream failure (an unexpected exception of the adapter included, see :func:`adapter_failure`) move on
to the next target. A request the upstream judged invalid (400/413/422) is answered at once: another upstream
would judge it the same. When every target failed, the last failure decides the answer (503 unavailable, 504
timeout, 502 bad gateway, 429 upstream rate limit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from llmops_kit.logging import log_unexpected

from llmops_inference.domain import Delta, Embeddings, Generation, GenerationRequest, UpstreamError
from llmops_inference.errors import GatewayError, from_upstream
from llmops_inference.metrics import UPSTREAM_ATTEMPTS, UPSTREAM_LATENCY
from llmops_inference.ports import Backend
from llmops_inference.resilience import CircuitBreaker, backoff_delay
from llmops_inference.routing_table import RoutingTable, Target

__all__ = ["OpenedStream", "Routed", "Router", "adapter_failure"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Attempt = Callable[[Backend, Target], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Routed:
    """Which target answered and after how many attempts in all (retries and fallbacks included)."""

    target: Target
    attempts: int


@dataclass(slots=True)
class OpenedStream:
    """A stream whose first delta has arrived (so the answer's status is known to be 200)."""

    routed: Routed
    first: Delta
    rest: AsyncIterator[Delta]


class Router:
    """Sends each call to the right upstream; owns nothing but the breakers' state."""

    def __init__(
        self,
        table: RoutingTable,
        backends: Mapping[str, Backend],
        breakers: Mapping[str, CircuitBreaker],
        *,
        retries: int = 2,
        backoff_s: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.table = table
        self.backends = backends
        self.breakers = breakers
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep

    def models(self) -> list[str]:
        return sorted(self.table.models)

    def targets(self, model: str) -> list[Target]:
        """The model's targets, or 404 ``model_not_found`` like OpenAI."""
        targets = self.table.targets(model)
        if not targets:
            raise GatewayError(
                404,
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return targets

    async def generate(self, model: str, request: GenerationRequest) -> tuple[Generation, Routed]:
        async def attempt(backend: Backend, target: Target) -> Generation:
            return await backend.generate(request, target)

        return await self._run(model, attempt)

    async def embed(self, model: str, texts: list[str], dimensions: int | None) -> tuple[Embeddings, Routed]:
        async def attempt(backend: Backend, target: Target) -> Embeddings:
            return await backend.embed(texts, target, dimensions)

        return await self._run(model, attempt)

    async def open_stream(self, model: str, request: GenerationRequest) -> OpenedStream:
        """Retries and fallbacks apply until the first delta; after it, a failure ends the stream."""

        async def attempt(backend: Backend, target: Target) -> tuple[Delta, AsyncIterator[Delta]]:
            iterator = aiter(backend.stream(request, target))
            try:
                first = await anext(iterator, Delta(finish_reason="stop"))
            except BaseException:
                await _close(iterator)
                raise
            return first, iterator

        (first, rest), routed = await self._run(model, attempt)
        return OpenedStream(routed, first, rest)

    def report_stream_failure(self, target: Target, error: UpstreamError) -> None:
        """A stream that had started broke off: count it against the upstream."""
        UPSTREAM_ATTEMPTS.labels(target.upstream, error.kind).inc()
        if error.upstream_fault:
            self.breakers[target.upstream].record_failure()

    async def _run(self, model: str, attempt: Attempt[T]) -> tuple[T, Routed]:
        last: UpstreamError | None = None
        attempts = 0
        for target in self.targets(model):
            for retry in range(self._retries + 1):
                attempts += 1
                try:
                    value = await self._once(target, attempt)
                except UpstreamError as error:
                    last = error
                    if not error.falls_back:
                        raise from_upstream(error, model) from None
                    if not error.retryable or retry == self._retries or error.kind == "unavailable":
                        break
                    await self._sleep(backoff_delay(retry, self._backoff_s))
                else:
                    return value, Routed(target, attempts)
        assert last is not None  # targets() never returns an empty list
        raise from_upstream(last, model)

    async def _once(self, target: Target, attempt: Attempt[T]) -> T:
        """One attempt on one target, through its breaker and within its timeout."""
        name = target.upstream
        breaker = self.breakers[name]
        if not breaker.allow():
            UPSTREAM_ATTEMPTS.labels(name, "circuit_open").inc()
            raise UpstreamError(
                "unavailable", f"upstream {name!r} is unavailable (circuit open)", retry_after=breaker.retry_after()
            )
        started = time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that races completion.
            async with asyncio.timeout(target.timeout_s):
                value = await attempt(self.backends[name], target)
        except TimeoutError:
            error = UpstreamError("timeout", f"upstream {name!r} did not answer within {target.timeout_s:g}s")
            self._failed(breaker, name, error)
            raise error from None
        except UpstreamError as error:
            self._failed(breaker, name, error)
            raise
        except Exception as exc:
            failure = adapter_failure(target, exc)
            self._failed(breaker, name, failure)
            raise failure from exc
        except BaseException:  # cancelled (the client left, shutdown): says nothing about the upstream
            breaker.release()
            raise
        breaker.record_success()
        UPSTREAM_ATTEMPTS.labels(name, "ok").inc()
        UPSTREAM_LATENCY.labels(name).observe(time.perf_counter() - started)
        return value

    @staticmethod
    def _failed(breaker: CircuitBreaker, name: str, error: UpstreamError) -> None:
        UPSTREAM_ATTEMPTS.labels(name, error.kind if error.kind != "status" else f"status_{error.status}").inc()
        if error.upstream_fault:
            breaker.record_failure()
        else:
            breaker.record_success()  # it answered: alive, even if it refused this request


def adapter_failure(target: Target, exc: Exception) -> UpstreamError:
    """An exception of the backend adapter that is not an :class:`UpstreamError` (a bug in it, or a client
    library's exception it let through), logged once and turned into an ``adapter`` failure.

    It is treated like an upstream's 500: the gateway cannot tell whether the upstream started on the request,
    so it is not retried (not known to be idempotent); the request was not judged invalid, so the next target
    is tried (it may be another adapter or another upstream); and it counts against the upstream's circuit
    breaker, because calls through that adapter to that upstream are failing, so a persistent bug fails fast
    to the fallbacks instead of on every call. The client sees 502 ``bad_gateway`` naming only the class.
    """
    log_unexpected(log, f"upstream {target.upstream!r} ({target.backend} adapter, model {target.model!r}) raised", exc)
    return UpstreamError("adapter", f"upstream {target.upstream!r} failed unexpectedly ({type(exc).__name__})")


async def _close(iterator: AsyncIterator[Delta]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
