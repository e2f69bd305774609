"""A shadow copy never changes the caller's answer, nor makes the caller wait for it.

The real gateway app (fake backends, in-memory publisher, the experiment registry driven over its HTTP
API) runs twice with the same routes and backends: once with a running shadow experiment whose copy goes
to an upstream that is slow (answers after ``SHADOW_DELAY_S``), answers 5xx after that delay, hangs until
its timeout (``SHADOW_DELAY_S``), or raises a bug-like exception after that delay; once with no
experiment. The same requests (plain and ``stream: true``, alternating) go to both.

What is checked is behaviour, not speed (speed targets live in benchmarks/): the caller's answer is
byte-for-byte the one it gets without the shadow (but for the per-call ``id`` and the ``created`` second),
and its latency shows that the shadow is not awaited on the request path. An awaited shadow would add at
least ``SHADOW_DELAY_S`` (2 s) to every shadowed request; the bounds below are 20 and 4 times smaller than
that, and far above the few milliseconds an in-process request takes, so they hold on a loaded 2-core
machine and fail at once if the copy joins the request path. The copies are then waited for: each reached
its upstream and is recorded (``experiment.shadow``), so the test cannot pass because the shadow never ran.
The circuit breaker is set out of reach so that every copy reaches its failing upstream, however slowly the
requests go.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.adapters.registries import Registries
from llmops_inference.config import InferenceSettings
from llmops_inference.domain import Delta, Generation, GenerationRequest, UpstreamError
from llmops_inference.experiments.model import bucket
from llmops_inference.routing_table import Target
from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.support import KEYS, Harness

# Slow (each case waits out SHADOW_DELAY_S copies): `make test` runs it, `make test-unit` leaves it out.
pytestmark = pytest.mark.slow

ADMIN = {"Authorization": f"Bearer {KEYS['admin'][0]}"}
WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}

SHADOW_DELAY_S = 2.0
# The behavioural bounds: far below SHADOW_DELAY_S, far above an in-process request's latency.
MEDIAN_SLOWDOWN_BOUND_S = SHADOW_DELAY_S / 20  # median latency with the shadow minus without it
P90_BOUND_S = SHADOW_DELAY_S / 4  # p90 latency with the shadow, absolute
REQUESTS = 16  # per kind (plain, streamed): 32 per configuration
COPY_WEIGHT = 0.9  # the share of users that get a shadow copy; the users below are picked from it

MODES = ("slow", "status_500", "timeout", "raises")
ROUTES: dict[str, Any] = {
    "upstreams": [{"name": "answers", "base_url": "http://answers.internal/v1"}]
    + [{"name": f"shadow-{mode}", "base_url": f"http://{mode}.internal/v1"} for mode in MODES],
    "models": {
        "answer": [{"backend": "openai", "upstream": "answers", "model": "answer-up", "timeout_s": 30}],
        **{
            f"shadow-{mode}": [
                # The hanging upstream's timeout is the delay: its copy ends (as an error) SHADOW_DELAY_S later.
                {
                    "backend": "openai",
                    "upstream": f"shadow-{mode}",
                    "model": f"{mode}-up",
                    "timeout_s": SHADOW_DELAY_S if mode == "timeout" else 30,
                }
            ]
            for mode in MODES
        },
    },
}
CALL_ID = re.compile(rb"chatcmpl-[0-9a-f]{32}")
CREATED = re.compile(rb'"created":([0-9]+)')


@dataclass
class ShadowUpstream(FakeBackend):
    """The shadow arm's upstream: waits ``delay_s`` (or hangs), then answers, fails or raises; counts the ends."""

    mode: str = "slow"
    delay_s: float = SHADOW_DELAY_S
    ended: int = 0

    async def _misbehave(self, request: GenerationRequest, target: Target) -> None:
        self.requests.append((request, target))
        try:
            if self.mode == "timeout":
                await asyncio.Event().wait()  # never set: the target's timeout_s ends it
            await asyncio.sleep(self.delay_s)
            if self.mode == "status_500":
                raise UpstreamError("status", "upstream answered 500", status=500)
            if self.mode == "raises":
                raise RuntimeError("a bug in the shadow's upstream adapter")
        finally:
            self.ended += 1

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        await self._misbehave(request, target)
        return Generation(text="the shadow's answer, never returned", finish_reason="stop", usage=self.usage)

    async def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        await self._misbehave(request, target)
        yield Delta(text="the shadow's answer, never returned")
        yield Delta(finish_reason="stop", usage=self.usage)


def backends() -> dict[str, FakeBackend]:
    """Fresh, deterministic backends: the control's answer is the same text, in the same chunks, every time."""
    control = FakeBackend(name="answers", reply="Your parcel left the depot this morning.", chunks=4)
    return {
        "answers": control,
        **{f"shadow-{mode}": ShadowUpstream(name=f"shadow-{mode}", mode=mode) for mode in MODES},
    }


def shadowed_users(experiment_id: str, count: int) -> list[str]:
    """Users whose fixed bucket falls in the copy's slice, so each of their calls gets a shadow copy."""
    users = (f"user-{n}" for n in range(10_000))
    picked = [u for u in users if bucket(experiment_id, f"user:{u}") < COPY_WEIGHT][:count]
    assert len(picked) == count
    return picked


@dataclass
class Run:
    latencies: list[float]
    bodies: list[bytes]  # per request, in order, with the call id and the `created` second replaced


async def drive(gw: Harness, users: list[str]) -> Run:
    """The same sequence of requests, alternating plain and streamed; the caller's view of each."""
    latencies, bodies = [], []
    for n, user in enumerate(users):
        stream = n % 2 == 1
        body: dict[str, Any] = {
            "model": "answer",
            "messages": [{"role": "user", "content": f"Where is parcel {n}?"}],
            "user": user,
            "max_tokens": 32,
            "seed": 7,
        }
        if stream:
            body |= {"stream": True, "stream_options": {"include_usage": True}}
        # Until the whole body is in: for a stream, its last event (httpx's ASGI transport hands it over whole).
        started = time.perf_counter()
        response = await gw.client.post("/v1/chat/completions", json=body, headers=WRITER)
        content = await response.aread()
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream" if stream else "application/json")
        assert len(set(CALL_ID.findall(content))) == 1, content  # one call, one id
        assert all(abs(int(c) - time.time()) < 60 for c in CREATED.findall(content)), content  # the wall clock
        bodies.append(CREATED.sub(b'"created":0', CALL_ID.sub(b"chatcmpl-<id>", content)))
    return Run(latencies, bodies)


async def recorded(gw: Harness, *, shadow: bool) -> list[CallRecorded]:
    return [
        e
        for e in await gw.events()
        if isinstance(e, CallRecorded) and bool(e.experiment and e.experiment.shadow) is shadow
    ]


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def shadow_experiment(experiment_id: str, mode: str) -> dict[str, Any]:
    """Calls for `answer` are answered by it (`main`); 90% of the users' calls also go to the mode's upstream."""
    return {
        "experiment_id": experiment_id,
        "name": f"a {mode} shadow",
        "app": "default",
        "kind": "shadow",
        "control": "main",
        "variants": [
            {"name": "main", "weight": round(1 - COPY_WEIGHT, 6), "model": "answer"},
            {"name": "copy", "weight": COPY_WEIGHT, "model": f"shadow-{mode}"},
        ],
    }


def wired(make_harness: Callable[..., Any], upstreams: dict[str, FakeBackend] | None = None) -> Any:
    """A gateway over these routes with its prompt and experiment registries (read up to date, no Kafka)."""
    registries = Registries()
    registries.prompts.mark_caught_up()
    registries.experiments.mark_caught_up()
    # Every copy reaches its upstream: no circuit opens on the failing ones, however slow the machine.
    settings = InferenceSettings(replay_interval_s=0.05, breaker_failures=1_000_000)
    return make_harness(settings=settings, routes=ROUTES, backends=upstreams or backends(), registries=registries)


async def eventually(condition: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not await condition() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", MODES)
async def test_a_shadow_never_changes_the_callers_answer_nor_makes_it_wait(
    make_harness: Callable[..., Any], mode: str
) -> None:
    experiment_id = f"shadow-{mode.replace('_', '-')}"
    users = shadowed_users(experiment_id, 2 * REQUESTS)

    # Without the shadow.
    async with wired(make_harness) as plain:
        without = await drive(plain, users)
        assert not await recorded(plain, shadow=True)

    # The same gateway and requests with a shadow experiment: every one of these users gets a copy.
    async with wired(make_harness) as gw:
        created = await gw.client.post("/v1/experiments", json=shadow_experiment(experiment_id, mode), headers=ADMIN)
        assert created.status_code == 201, created.text
        shadowed = await drive(gw, users)

        # The shadow did run, once per call (plain and streamed), and ended...
        upstream = gw.backends[f"shadow-{mode}"]
        assert isinstance(upstream, ShadowUpstream)

        async def copies_ended() -> bool:
            return upstream.ended == len(users)

        await eventually(copies_ended, SHADOW_DELAY_S + 15)
        assert (len(upstream.requests), upstream.ended) == (len(users), len(users))
        # ... and each copy is recorded as a shadow, with the upstream's outcome (an adapter's bug too).

        async def all_recorded() -> bool:
            return len(await recorded(gw, shadow=True)) == len(users)

        await eventually(all_recorded, 15)
        copies = await recorded(gw, shadow=True)
        assert len(copies) == len(users), f"{len(copies)} of {len(users)} shadow copies recorded"
        for copy in copies:
            assert copy.experiment is not None and copy.experiment.experiment_id == experiment_id
            assert (copy.experiment.variant, copy.model, copy.tags) == ("copy", f"shadow-{mode}", ["shadow"])
            assert copy.status == ("ok" if mode == "slow" else "error"), copy.error
        # The callers' own calls are recorded as the control's, not as shadows.
        primaries = await recorded(gw, shadow=False)
        assert len(primaries) == len(users)
        assert all(c.experiment and c.experiment.variant == "main" and c.status == "ok" for c in primaries)

    # The caller's answer is exactly the one it gets without the shadow, plain and streamed.
    assert shadowed.bodies == without.bodies
    assert b"never returned" not in b"".join(shadowed.bodies)

    # The caller never waits for the copy (behavioural bounds, see the module docstring).
    slowdown = statistics.median(shadowed.latencies) - statistics.median(without.latencies)
    timings = (
        f"median {statistics.median(without.latencies) * 1000:.1f} ms without the shadow, "
        f"{statistics.median(shadowed.latencies) * 1000:.1f} ms with it; p90 with it "
        f"{p90(shadowed.latencies) * 1000:.1f} ms; the shadow takes {SHADOW_DELAY_S:g} s"
    )
    assert slowdown < MEDIAN_SLOWDOWN_BOUND_S, timings
    assert p90(shadowed.latencies) < P90_BOUND_S, timings


async def test_a_shadow_whose_upstream_adapter_raises_is_still_recorded(make_harness: Callable[..., Any]) -> None:
    """An exception of another kind than UpstreamError from the copy's adapter is a 502 like any upstream
    failure: the copy is recorded as such, its task ends cleanly, and the caller gets the control's answer."""
    upstreams = backends()
    upstreams["shadow-raises"] = ShadowUpstream(name="shadow-raises", mode="raises", delay_s=0)
    experiment_id = "shadow-raises"
    (user,) = shadowed_users(experiment_id, 1)
    async with wired(make_harness, upstreams) as gw:
        created = await gw.client.post(
            "/v1/experiments", json=shadow_experiment(experiment_id, "raises"), headers=ADMIN
        )
        assert created.status_code == 201, created.text
        # What each shadow task ends with: None, or the exception that escaped it.
        ends: list[BaseException | None] = []
        send = gw.wiring.gateway._shadow

        async def watched(*args: Any) -> None:
            try:
                await send(*args)
            except BaseException as exc:
                ends.append(exc)
                raise
            ends.append(None)

        gw.wiring.gateway._shadow = watched
        body = {"model": "answer", "messages": [{"role": "user", "content": "Hi"}], "user": user}
        response = await gw.client.post("/v1/chat/completions", json=body, headers=WRITER)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "Your parcel left the depot this morning."

        async def one_recorded() -> bool:
            return len(await recorded(gw, shadow=True)) == 1

        await eventually(one_recorded, 5)
        (copy,) = await recorded(gw, shadow=True)
        assert copy.experiment is not None and (copy.experiment.shadow, copy.experiment.variant) == (True, "copy")
        assert (copy.status, copy.model, copy.tags, copy.provider) == ("error", "shadow-raises", ["shadow"], "gateway")
        assert copy.error is not None
        assert (copy.error.type, copy.error.code) == ("server_error", "bad_gateway")
        assert copy.error.message == "'shadow-raises': upstream 'shadow-raises' failed unexpectedly (RuntimeError)"
        assert copy.metadata["http_status"] == "502"
        assert ends == [None]  # the copy's task ended without raising
        (primary,) = await recorded(gw, shadow=False)
        assert (primary.status, primary.output) == ("ok", "Your parcel left the depot this morning.")
