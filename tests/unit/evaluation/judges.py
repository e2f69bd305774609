"""Fakes of the judges' ports (the gateway and the warehouse's calls) for the model stage's unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llmops_kit.platform_client import PlatformCallError
from llmops_schemas.v2 import CallRecorded

Answerer = Callable[[dict[str, Any]], str | None]


def rubric_score(variables: dict[str, Any]) -> str:
    """A deterministic judge: 5 when the answer mentions the question's last word, else 2."""
    word = str(variables.get("question", "")).rstrip("?").split()[-1:] or [""]
    return f"Score: {5 if word[0] and word[0] in variables.get('answer', '') else 2}/5\nReason: checked."


@dataclass
class FakeGateway:
    """The gateway's judge route and prompt registry: answers come from ``answer`` (of the prompt variables)."""

    answer: Answerer = rubric_score
    models_served: list[str] = field(default_factory=lambda: ["judge"])
    prompts: dict[str, dict[str, int]] = field(default_factory=lambda: {"rubric": {"production": 2}})
    versions: dict[str, list[int]] = field(default_factory=lambda: {"rubric": [1, 2]})
    usage: dict[str, Any] = field(default_factory=dict)
    delay_s: float = 0.0
    fail: PlatformCallError | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def chat(self, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.bodies.append(dict(body))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail is not None:
                raise self.fail
            text = self.answer(dict(body["prompt"]["variables"]))
        finally:
            self.in_flight -= 1
        return {"choices": [{"message": {"role": "assistant", "content": text}}], "usage": self.usage}

    async def prompt_version(self, tenant: str, name: str, label: str) -> int | None:
        found = self.prompts.get(name, {}).get(label)
        if found is None and label == "latest" and self.versions.get(name):
            return max(self.versions[name])
        return found

    async def has_version(self, tenant: str, name: str, version: int) -> bool:
        return version in self.versions.get(name, [])

    async def models(self, tenant: str) -> list[str]:
        if self.fail is not None:
            raise self.fail
        return list(self.models_served)


@dataclass
class FakeHistory:
    """Stored calls by (tenant, call id)."""

    calls: dict[tuple[str, str], CallRecorded] = field(default_factory=dict)
    reads: int = 0

    async def call(self, tenant: str, call_id: str) -> CallRecorded | None:
        self.reads += 1
        return self.calls.get((tenant, call_id))
