"""The FastAPI app every service starts from: lifespan-managed clients, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmops_kit.auth import caller
from llmops_kit.http.body_limit import DEFAULT_MAX_BODY_BYTES, BodyLimit, Refusal, problem_refusal
from llmops_kit.http.gc_tuning import THRESHOLDS, tune_after_startup
from llmops_kit.http.problems import install_problem_handlers
from llmops_kit.metrics import HTTP_REQUESTS

__all__ = ["Component", "Liveness", "Readiness", "ReadinessCheck", "Runtime", "create_service_app", "serve"]

ReadinessCheck = Callable[[], Awaitable[bool]]
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
"""A service's own readiness: whether it is ready, and the body ``/readyz`` answers."""
Liveness = Callable[[], str | None]
"""A service's own liveness beyond serving HTTP: None while it works, else why it is stuck (``/healthz`` answers
503, so an orchestrator restarts the process). Only for a state a restart ends; a dependency that is down is
readiness, and restarting for it would only add restarts to the outage."""
log = logging.getLogger(__name__)


class Component(Protocol):
    """Something with a lifetime: a Kafka client, a consumer loop, a database client."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Runtime:
    """What a service wires at start: components (started in order, stopped in reverse) and checks.

    ``/readyz`` is ready when every check passes; a service whose readiness is something else (the
    gateway: "some model has a healthy upstream", Kafka reported but not deciding) gives ``readiness``.
    ``/healthz`` is alive while the process serves and ``liveness`` (if any) reports nothing stuck.
    """

    components: list[Component] = field(default_factory=list)
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    readiness: Readiness | None = None
    liveness: Liveness | None = None


RuntimeFactory = Callable[[FastAPI], Awaitable[Runtime]]


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    version: str,
    build_runtime: RuntimeFactory,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_refusal: Refusal = problem_refusal,
) -> FastAPI:
    """An app whose clients are created and started in the lifespan, never at import time.

    Every route's request body is bounded by ``max_body_bytes`` before anything parses it (413, see
    :mod:`llmops_kit.http.body_limit`); ``body_refusal`` shapes that answer for a service with its own
    error format.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(app)
        started: list[Component] = []
        try:
            for component in [*_key_source(app), *runtime.components]:
                await component.start()
                started.append(component)
            app.state.runtime = runtime
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:  # keep stopping the others: each holds connections or uncommitted work
                    log.exception("stopping %s failed", type(component).__name__)

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.service_name = service
    install_problem_handlers(app)
    _add_probes(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, refusal=body_refusal)
    app.add_middleware(_RequestMetrics, service=service)  # outermost: it counts the refusals too
    return app


def _key_source(app: FastAPI) -> list[Component]:
    """What keeps the installed key store current (``llmops_kit.bootstrap.install_api_keys``): started before the
    service's components, so that its keys are being read while they start, and stopped after them."""
    source = getattr(getattr(app.state, "api_keys", None), "source", None)
    return [source] if source is not None else []


def _add_probes(app: FastAPI) -> None:
    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness: the process is serving and nothing in it is stuck (the reason with a key)",
        responses={503: {"description": "Stuck: a restart is what ends it"}},
    )
    async def healthz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        stuck = runtime.liveness() if runtime is not None and runtime.liveness is not None else None
        if stuck is None:
            return JSONResponse({"status": "ok"})
        known = await caller(request) is not None
        return JSONResponse({"status": "stuck", "reason": stuck} if known else {"status": "stuck"}, status_code=503)

    @app.get(
        "/readyz", tags=["operations"], summary="Readiness: Kafka and the service's stores answer (details with a key)"
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is None:
            ready, body = False, {"ready": False, "checks": {"started": False}}
        elif runtime.readiness is not None:
            ready, body = await runtime.readiness()
        else:
            ready, body = await _run_checks(runtime.checks)
        return JSONResponse(await _shown_to(request, body), status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _shown_to(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """All of ``body`` for a caller with a valid API key (any tenant, any role); only ``ready`` for anyone else.

    Which dependency is down, and how the service is built, is no business of an anonymous prober.
    """
    return body if await caller(request) is not None else {"ready": body["ready"]}


async def _run_checks(checks: dict[str, ReadinessCheck]) -> tuple[bool, dict[str, Any]]:
    results = await asyncio.gather(*(_bounded(check) for check in checks.values()))
    ready = all(results)
    return ready, {"ready": ready, "checks": dict(zip(checks, results, strict=True))}


async def _bounded(check: ReadinessCheck, timeout_s: float = 3.0) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout_s)
    except Exception:
        return False


class _RequestMetrics:
    """Records request latency by route template (not raw path, to bound label cardinality)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


def serve(
    app: FastAPI,
    host: str,
    port: int,
    *,
    gc_thresholds: tuple[int, int, int] = THRESHOLDS,
    switch_interval_s: float | None = None,
) -> None:
    """Run ``app`` under uvicorn; SIGTERM/SIGINT drain requests, run the lifespan shutdown, and exit 0.

    ``gc_thresholds`` are the collector's once the app has started (see ``gc_tuning``). ``switch_interval_s``,
    when given, is how long a thread may hold the interpreter lock while another waits for it
    (``sys.setswitchinterval``; CPython's default is 5 ms), set once the app has started: a service whose
    event loop shares the lock with a busy worker thread hands it over less often (docs/adr/0071).

    uvicorn re-raises the signal it caught once it has shut down, so that the process dies of it. A
    graceful stop is a success here, so the handlers in place when uvicorn restores them only note it.
    """
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: log.info("stopped by signal %d", signum))
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=15)
    _Server(config, gc_thresholds, switch_interval_s).run()


class _Server(uvicorn.Server):
    """uvicorn's server, tuning the garbage collector (see ``gc_tuning``) and, when given, the interpreter's switch
    interval once the app has started."""

    def __init__(
        self, config: uvicorn.Config, gc_thresholds: tuple[int, int, int], switch_interval_s: float | None = None
    ) -> None:
        super().__init__(config)
        self._gc_thresholds = gc_thresholds
        self._switch_interval_s = switch_interval_s

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            tune_after_startup(self._gc_thresholds)
            if self._switch_interval_s is not None:
                sys.setswitchinterval(self._switch_interval_s)
                log.info("interpreter switch interval set", extra={"switch_interval_s": self._switch_interval_s})
