"""Fakes and builders shared by the prompt-registry and experiments unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from fastapi import FastAPI
from llmops_inference.prompts.publisher import PromptPublisher
from llmops_inference.prompts.service import PromptRegistry
from llmops_inference.prompts.store import PromptStore
from llmops_kit.audit import Actor, AuditTrail
from llmops_kit.auth import ApiKeyStore, hash_key
from llmops_kit.http.problems import install_problem_handlers
from llmops_kit.kafka.publisher import InMemoryPublisher
from llmops_schemas import EventPayload

P = TypeVar("P", bound=EventPayload)
TENANT = "acme"
ACTOR = Actor(key_id="alice-admin")
KEYS = {
    "admin": ("acme", "admin"),
    "reader": ("acme", "reader"),
    "writer": ("acme", "writer"),
    "ingest": ("acme", "ingest"),
    "other-admin": ("globex", "admin"),
    "evaluation": ("*", "service"),
}
"""key id -> (tenant, role); the key itself is ``key-<id>``."""


class Clock:
    """A clock that moves one second per reading, so every change has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def prompt_registry(sink: InMemoryPublisher, clock: Clock | None = None) -> PromptRegistry:
    store = PromptStore()
    store.mark_caught_up()
    return PromptRegistry(
        store, PromptPublisher(AuditTrail(sink, source="/services/inference")), clock=clock or Clock()
    )


def write_keys(path: Path) -> Path:
    records = [
        {"id": key_id, "tenant_id": tenant, "role": role, "sha256": hash_key(f"key-{key_id}")}
        for key_id, (tenant, role) in KEYS.items()
    ]
    path.write_text(yaml.safe_dump({"keys": records}))
    return path


def auth(key_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer key-{key_id}"}


def app_with(keys_file: Path, **state: Any) -> FastAPI:
    """A bare app with problem handlers, the keys store and ``state`` on ``app.state``."""
    app = FastAPI()
    install_problem_handlers(app)
    app.state.api_keys = ApiKeyStore.from_file(keys_file)
    for name, value in state.items():
        setattr(app.state, name, value)
    return app


def draft(*messages: tuple[str, str], variables: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """A version draft as JSON: ``draft(("system", "Hi {{ name }}"), variables=[{"name": "name"}])``."""
    return {
        "template": [{"role": role, "content": content} for role, content in messages],
        "variables": variables or [],
        **fields,
    }
