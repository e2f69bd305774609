"""Shared by the prompt-chain tests: a backend that echoes, registered prompts, and a gateway that has them.

:class:`EchoBackend` answers ``[<the last message it was sent>]``, so what each chain step was given shows in
its answer and in the answers built on it. The prompts (each labelled ``production``):

* ``summarise`` -- ``user: Summarise: {{ ticket }}``
* ``reply`` -- ``system: Tone: {{ tone }}`` (default ``warm``), ``user: Reply to {{ summary }}``
* ``polish`` -- ``user: Polish {{ draft }} for {{ customer }}``
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from llmops_inference.adapters.memory import FakeBackend
from llmops_inference.adapters.registries import Registries
from llmops_inference.domain import Delta, Generation, GenerationRequest
from llmops_inference.routing_table import RoutingTable, Target
from llmops_schemas.v2 import CallRecorded

from tests.unit.inference.support import KEYS, ROUTES, Harness

ADMIN = {"Authorization": f"Bearer {KEYS['admin'][0]}"}
WRITER = {"Authorization": f"Bearer {KEYS['writer'][0]}"}
PROMPTS: dict[str, dict[str, Any]] = {
    "summarise": {
        "template": [{"role": "user", "content": "Summarise: {{ ticket }}"}],
        "variables": [{"name": "ticket"}],
    },
    "reply": {
        "template": [
            {"role": "system", "content": "Tone: {{ tone }}"},
            {"role": "user", "content": "Reply to {{ summary }}"},
        ],
        "variables": [{"name": "summary"}, {"name": "tone", "default": "warm"}],
    },
    "polish": {
        "template": [{"role": "user", "content": "Polish {{ draft }} for {{ customer }}"}],
        "variables": [{"name": "draft"}, {"name": "customer"}],
    },
}
SUMMARY = "[Summarise: parcel late]"
REPLY = f"[Reply to {SUMMARY}]"


@dataclass
class EchoBackend(FakeBackend):
    """A :class:`FakeBackend` answering ``[<last message>]``; ``methods`` says how each call was made."""

    methods: list[str] = field(default_factory=list)

    async def generate(self, request: GenerationRequest, target: Target) -> Generation:
        self.reply = _echo(request)
        self.methods.append("generate")
        return await super().generate(request, target)

    def stream(self, request: GenerationRequest, target: Target) -> AsyncIterator[Delta]:
        self.reply = _echo(request)
        self.methods.append("stream")
        return super().stream(request, target)

    def sent(self) -> list[list[str]]:
        """The message texts of every call, in order."""
        return [[m["content"] for m in r.messages] for r, _ in self.requests if isinstance(r, GenerationRequest)]


def _echo(request: GenerationRequest) -> str:
    return f"[{request.messages[-1]['content']}]"


@asynccontextmanager
async def chain_gateway(make_harness: Callable[..., Any], *args: Any, **ports: Any) -> AsyncIterator[Harness]:
    """A started gateway over echo backends, with the registries loaded and the prompts above published."""
    registries = Registries()
    registries.prompts.mark_caught_up()
    registries.experiments.mark_caught_up()
    table = RoutingTable.model_validate(ROUTES)
    backends = {u.name: EchoBackend(name=u.name) for u in table.upstreams}
    async with make_harness(*args, registries=registries, backends=backends, **ports) as gw:
        for name, version in PROMPTS.items():
            await publish(gw, name, {**version, "labels": ["production"]})
        yield gw


async def publish(gw: Harness, name: str, version: dict[str, Any]) -> None:
    response = await gw.client.post(f"/v1/prompts/{name}/versions", json=version, headers=ADMIN)
    assert response.status_code == 201, response.text


async def shadow_reply_v2(gw: Harness) -> None:
    """Publish ``reply`` version 2 (``v2 answers {{ summary }}``) and run it as a shadow of version 1 for 90% of
    the users."""
    v2 = {"template": [{"role": "user", "content": "v2 answers {{ summary }}"}], "variables": [{"name": "summary"}]}
    await publish(gw, "reply", v2)
    experiment = {
        "experiment_id": "reply-v2-shadow",
        "name": "reply v2 in the shadow",
        "app": "default",
        "kind": "shadow",
        "control": "v1",
        "variants": [
            {"name": "v1", "weight": 0.1, "prompt": {"name": "reply", "version": 1}},
            {"name": "v2", "weight": 0.9, "prompt": {"name": "reply", "version": 2}},
        ],
    }
    created = await gw.client.post("/v1/experiments", json=experiment, headers=ADMIN)
    assert created.status_code == 201, created.text


def step(output: str, name: str, **selector: Any) -> dict[str, Any]:
    return {"output": output, "prompt": {"name": name, **selector}}


def chain_body(*steps: dict[str, Any], variables: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A chat request running ``steps`` on the model ``solo`` (one upstream, ``primary``)."""
    chain = {"steps": list(steps), "variables": variables or {"ticket": "parcel late"}}
    return {"model": "solo", "messages": [], "chain": chain, **extra}


def echo_backend(gw: Harness) -> EchoBackend:
    backend = gw.backends["primary"]
    assert isinstance(backend, EchoBackend)
    return backend


async def calls(gw: Harness) -> list[CallRecorded]:
    """The recorded calls, in the order they ended (registry audit events left out)."""
    return [e for e in await gw.events() if isinstance(e, CallRecorded)]
