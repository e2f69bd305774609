"""The prompt registry and experiments inside the gateway: stores, materialisers, registries and their routes.

The stores are plain in-memory objects fed by one :class:`~llmops_inference.prompts.CompactedTopicMaterializer`
per compacted topic (lifespan components, started after the producer). The registries publish through an
:class:`~llmops_inference.prompts.AuditTrail` over the gateway's producer, so every change is audited; they
sit on ``app.state`` where the routers find them. The routers answer RFC 9457 problem documents (as they
document); the OpenAI-compatible routes keep OpenAI's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from llmops_kit.http.problems import ProblemError, install_problem_handlers
from llmops_kit.kafka.publisher import EventPublisher
from llmops_kit.settings import KafkaSecurity
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from llmops_inference.adapters.experiment_chooser import ExperimentChooser
from llmops_inference.adapters.registry_resolver import RegistryResolver
from llmops_inference.experiments import (
    ExperimentMaterializer,
    ExperimentPublisher,
    ExperimentRegistry,
    ExperimentStore,
)
from llmops_inference.prompts import (
    AuditTrail,
    CompactedTopicMaterializer,
    PromptMaterializer,
    PromptPublisher,
    PromptRegistry,
    PromptStore,
)
from llmops_inference.prompts.rendering import RenderPool
from llmops_inference.prompts.resolve import MAX_CHAIN_STEPS

__all__ = ["REGISTRY_PATHS", "Registries", "install_registries"]

REGISTRY_PATHS = ("/v1/prompts", "/v1/experiments")
Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


@dataclass
class Registries:
    """The materialised registry state of one gateway replica; ``materializers`` by name (empty in tests)."""

    prompts: PromptStore = field(default_factory=PromptStore)
    experiments: ExperimentStore = field(default_factory=ExperimentStore)
    materializers: Mapping[str, CompactedTopicMaterializer] = field(default_factory=dict)
    renderer: RenderPool = field(default_factory=RenderPool)
    """Where prompts are rendered, for the gateway's calls and the registry's dry runs alike."""

    @classmethod
    def from_kafka(cls, bootstrap_servers: str, security: KafkaSecurity | None = None) -> Registries:
        prompts, experiments = PromptStore(), ExperimentStore()
        materializers = {
            "prompts": PromptMaterializer(bootstrap_servers, prompts, security),
            "experiments": ExperimentMaterializer(bootstrap_servers, experiments, security),
        }
        return cls(prompts, experiments, materializers)

    def resolver(self, *, max_chain_steps: int = MAX_CHAIN_STEPS) -> RegistryResolver:
        return RegistryResolver(self.prompts, max_chain_steps=max_chain_steps, renderer=self.renderer)

    def chooser(self) -> ExperimentChooser:
        return ExperimentChooser(self.experiments)

    async def details(self) -> dict[str, bool]:
        """Each materialiser's ``check`` (for readiness details; it does not decide readiness)."""
        if not self.materializers:
            return {"prompts": self.prompts.caught_up, "experiments": self.experiments.caught_up}
        return {name: await materializer.check() for name, materializer in self.materializers.items()}


def install_registries(app: FastAPI, registries: Registries, sink: EventPublisher, *, source: str) -> None:
    """Put both registries on ``app.state``; their routes answer problem documents (call after the OpenAI
    error handlers are installed: every other route keeps those)."""
    audit = AuditTrail(sink, source=source)
    app.state.prompt_registry = PromptRegistry(registries.prompts, PromptPublisher(audit), renderer=registries.renderer)
    app.state.experiment_registry = ExperimentRegistry(
        registries.experiments, ExperimentPublisher(audit), prompts=registries.prompts
    )
    app.state.registries = registries
    kit = FastAPI()
    install_problem_handlers(kit)
    app.add_exception_handler(ProblemError, kit.exception_handlers[ProblemError])
    for kind in (StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(kind, _by_path(kit.exception_handlers[kind], app.exception_handlers[kind]))


def _by_path(registry: Handler, gateway: Handler) -> Handler:
    """The registry routes' handler for their paths, the gateway's (OpenAI-shaped) for every other."""

    async def handle(request: Request, exc: Exception) -> Response:
        chosen = registry if request.url.path.startswith(REGISTRY_PATHS) else gateway
        response = chosen(request, exc)
        return await response if isinstance(response, Awaitable) else response

    return handle
