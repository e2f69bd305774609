"""Routing: ordered fallbacks, retries of idempotent failures only, and the circuit breaker's state machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.domain import GenerationRequest, Params, UpstreamError
from llmops_inference.errors import GatewayError
from llmops_inference.resilience import BreakerState, CircuitBreaker, backoff_delay
from llmops_inference.router import Router
from llmops_inference.routing_table import RoutingTable, RoutingTableError

from tests.fixtures.clocks import ManualClock
from tests.unit.inference.support import ROUTES, Harness, chat

REQUEST = GenerationRequest(kind="chat", params=Params(max_tokens=8), messages=({"role": "user", "content": "hi"},))


def make_router(retries: int = 2, threshold: int = 3) -> tuple[Router, dict[str, FakeBackend], list[float]]:
    table = RoutingTable.model_validate(ROUTES)
    backends = {u.name: FakeBackend(name=u.name) for u in table.upstreams}
    clock = ManualClock(1000.0)
    breakers = {n: CircuitBreaker(n, failure_threshold=threshold, cooldown_s=30, clock=clock) for n in backends}
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return Router(table, backends, breakers, retries=retries, backoff_s=0.1, sleep=sleep), backends, clock, slept


async def test_the_first_target_answers_when_healthy() -> None:
    router, backends, _, _ = make_router()
    generation, routed = await router.generate("gpt-test", REQUEST)
    assert generation.text == "Hello from the fake backend."
    assert (routed.target.upstream, routed.target.model, routed.attempts) == ("primary", "gpt-up", 1)
    assert backends["secondary"].requests == []


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_retryable_failures_are_retried_with_backoff_on_the_same_target(status: int) -> None:
    router, backends, _, slept = make_router()
    backends["primary"].failures = [UpstreamError("status", "x", status=status), UpstreamError("connect", "refused")]
    _, routed = await router.generate("gpt-test", REQUEST)
    assert routed.target.upstream == "primary" and routed.attempts == 3
    assert len(slept) == 2 and all(s >= 0 for s in slept)


@pytest.mark.parametrize(
    "failure",
    [UpstreamError("timeout", "slow"), UpstreamError("status", "x", status=500), UpstreamError("protocol", "junk")],
)
async def test_non_idempotent_failures_are_not_retried_but_fall_back(failure: UpstreamError) -> None:
    router, backends, _, slept = make_router()
    backends["primary"].failures = [failure]
    _, routed = await router.generate("gpt-test", REQUEST)
    assert (routed.target.upstream, routed.target.model, routed.attempts) == ("secondary", "gpt-fallback", 2)
    assert slept == []
    assert len(backends["primary"].requests) == 1


async def test_a_client_error_from_the_upstream_neither_retries_nor_falls_back() -> None:
    router, backends, _, _ = make_router()
    backends["primary"].failures = [UpstreamError("status", "bad request", status=400)]
    with pytest.raises(GatewayError) as caught:
        await router.generate("gpt-test", REQUEST)
    assert caught.value.status == 400
    assert backends["secondary"].requests == []


async def test_when_every_target_fails_the_last_failure_decides() -> None:
    router, backends, _, _ = make_router(retries=0)
    backends["primary"].failures = [UpstreamError("status", "x", status=500)]
    backends["secondary"].failures = [UpstreamError("timeout", "slow")]
    with pytest.raises(GatewayError) as caught:
        await router.generate("gpt-test", REQUEST)
    assert (caught.value.status, caught.value.code) == (504, "upstream_timeout")


async def test_a_timeout_is_enforced_by_the_router_too() -> None:
    router, backends, _, _ = make_router(retries=0)

    class Slow(FakeBackend):
        async def generate(self, request, target):  # type: ignore[no-untyped-def]
            import asyncio

            await asyncio.sleep(10)
            raise AssertionError("unreachable")

    router.backends = {**backends, "primary": Slow(name="primary")}
    router.table = RoutingTable.model_validate(
        {**ROUTES, "models": {"slow": [{"backend": "openai", "upstream": "primary", "model": "m", "timeout_s": 0.05}]}}
    )
    with pytest.raises(GatewayError) as caught:
        await router.generate("slow", REQUEST)
    assert caught.value.status == 504


def test_breaker_opens_after_consecutive_failures_and_half_opens_after_the_cooldown() -> None:
    clock = ManualClock(1000.0)
    breaker = CircuitBreaker("u", failure_threshold=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()  # consecutive: a success resets the count
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.retry_after() == 30
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() is True  # the one trial
    assert breaker.allow() is False  # everyone else waits for it
    breaker.record_failure()  # the trial failed: open for a whole cool-down again
    assert breaker.state is BreakerState.OPEN and breaker.retry_after() == 30
    clock.advance(31)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


def test_a_released_trial_lets_the_next_caller_try() -> None:
    clock = ManualClock(1000.0)
    breaker = CircuitBreaker("u", failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    clock.advance(5)
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()


async def test_an_open_circuit_skips_the_upstream_without_calling_it() -> None:
    router, backends, clock, _ = make_router(retries=0, threshold=2)
    backends["primary"].failures = [UpstreamError("status", "x", status=500)] * 2
    for _ in range(2):
        await router.generate("gpt-test", REQUEST)  # each falls back to secondary
    assert router.breakers["primary"].state is BreakerState.OPEN
    calls = len(backends["primary"].requests)
    _, routed = await router.generate("gpt-test", REQUEST)
    assert routed.target.upstream == "secondary" and len(backends["primary"].requests) == calls
    with pytest.raises(GatewayError) as caught:
        await router.generate("solo", REQUEST)  # primary only: refused at once
    assert (caught.value.status, caught.value.code) == (503, "upstream_unavailable")
    assert caught.value.headers()["Retry-After"] == "30"
    clock.advance(30)
    _, routed = await router.generate("solo", REQUEST)  # the half-open trial succeeds
    assert routed.target.upstream == "primary"
    assert router.breakers["primary"].state is BreakerState.CLOSED


def test_backoff_grows_and_is_capped() -> None:
    for attempt in range(10):
        assert 0 <= backoff_delay(attempt, 0.1, cap_s=2.0) <= 2.0


async def test_breaker_state_is_in_readyz_and_metrics(gw: Harness, auth: dict[str, str]) -> None:
    gw.backends["primary"].failures = [UpstreamError("status", "x", status=500)] * 20
    for _ in range(5):
        await gw.client.post("/v1/chat/completions", json=chat(), headers=auth)
    ready = (await gw.client.get("/readyz", headers=auth)).json()
    assert ready["upstreams"]["primary"]["circuit"] == "open"
    assert ready["upstreams"]["primary"]["healthy"] is False
    assert ready["ready"] is True  # secondary still serves gpt-test
    metrics = (await gw.client.get("/metrics")).text
    assert 'llmops_inference_circuit_state{upstream="primary"} 2.0' in metrics


async def test_readiness_is_false_when_no_model_has_a_healthy_upstream(make_harness, auth: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    routes = {
        "upstreams": [{"name": "triton", "base_url": "grpc://127.0.0.1:1"}],
        "models": {"llm": [{"backend": "triton", "upstream": "triton", "model": "llm"}]},
    }
    down = FakeBackend(name="triton", healthy=False, failures=[UpstreamError("connect", "refused")] * 10)
    async with make_harness(routes=routes, backends={"triton": down}) as gw:
        response = await gw.client.get("/readyz")
        assert response.status_code == 503 and response.json()["ready"] is False
        call = await gw.client.post("/v1/chat/completions", json=chat(model="llm"), headers=auth)
        assert call.status_code == 503
        (event,) = await gw.events()
        assert event.status == "error" and event.error.code == "upstream_unavailable"


def test_the_routes_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(
        "upstreams:\n  - {name: a, base_url: 'http://a/v1', api_key_env: A_KEY}\n"
        "models:\n  m: [{backend: openai, upstream: a, model: x, timeout_s: 3}]\n"
    )
    table = RoutingTable.load(path)
    assert table.targets("m")[0].timeout_s == 3  # type: ignore[index]
    assert table.targets("other") is None
    for bad, message in [
        ("models:\n  m: [{backend: openai, upstream: nowhere, model: x}]\n", "unknown upstream"),
        (
            "upstreams:\n  - {name: a, base_url: 'ftp://a'}\n"
            "models:\n  m: [{backend: openai, upstream: a, model: x}]\n",
            "not a openai address",
        ),
        ("upstreams:\n  - {name: a, base_url: 'http://a', api_key: sk-123}\n", "api_key"),
        ("upstreams: [\n", "cannot read"),
    ]:
        path.write_text(bad)
        with pytest.raises(RoutingTableError, match=message):
            RoutingTable.load(path)
