"""Wiring: checkpoints on disk -> loaded models -> a configured (not yet started) PyTriton server."""

from __future__ import annotations

import logging
import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from pytriton.triton import Triton, TritonConfig, TritonLifecyclePolicy, TritonSecurityConfig

from llmops_model_server.build import ensure_models
from llmops_model_server.config import ModelServerSettings
from llmops_model_server.models.embedder import Embedder, load_embedder
from llmops_model_server.models.generation import TextGenerator
from llmops_model_server.models.gpt import load_gpt
from llmops_model_server.models.tokenizer import EOS_TOKEN, TextTokenizer

__all__ = ["LoadedModels", "load_models", "new_triton", "python_backend_env"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModels:
    generator: TextGenerator
    embedder: Embedder


def load_models(settings: ModelServerSettings) -> LoadedModels:
    """Load ``llm`` and ``embedder`` from ``settings.model_dir`` (copying them there first if allowed)."""
    if settings.build_if_missing:
        ensure_models(settings.model_dir, log=log.info)
    llm_dir = settings.model_dir / "llm"
    model = load_gpt(llm_dir)
    tokenizer = TextTokenizer.from_dir(llm_dir, eos_token=EOS_TOKEN)
    embedder = load_embedder(settings.model_dir / "embedder", max_length=settings.embedder_max_length)
    log.info(
        "models loaded",
        extra={"llm_layers": model.config.n_layer, "llm_context": model.config.n_positions, "dim": embedder.dimension},
    )
    return LoadedModels(TextGenerator(model, tokenizer), embedder)


def python_backend_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``LD_LIBRARY_PATH`` with this interpreter's LIBDIR first.

    Triton's python-backend stub links ``libpython3.X.so``; the first one the loader finds must be the
    running interpreter's, not a system Python's of the same minor version (a pyenv or uv-managed
    Python next to Debian's python3.11, say), or the stub crashes or loads mismatched modules.
    """
    env = dict(os.environ if environ is None else environ)
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        rest = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p and p != libdir]
        env["LD_LIBRARY_PATH"] = ":".join([libdir, *rest])
    return env


def new_triton(settings: ModelServerSettings, workspace: Path | None = None) -> Triton:
    """A PyTriton server on the configured address and ports (started by ``with`` or ``run``)."""
    config = TritonConfig(
        http_address=settings.host,
        http_port=settings.port,
        grpc_address=settings.host,
        grpc_port=settings.grpc_port,
        metrics_address=settings.host,
        metrics_port=settings.metrics_port,
        allow_metrics=True,
        allow_cpu_metrics=True,
        strict_readiness=True,
        exit_on_error=True,
        log_verbose=settings.triton_log_verbose,
    )
    # Models go into a local model store before tritonserver starts, so it loads them at startup and
    # /v2/health/ready turns true only when every model is ready (PyTriton's default starts an empty
    # server and loads the models afterwards: ready too early for a readiness probe).
    policy = TritonLifecyclePolicy(launch_triton_on_startup=False, local_model_store=True)
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    # Statistics, model-repository, shared-memory, trace and logging APIs need the triton-access-token header.
    return Triton(
        config=config,
        workspace=workspace,
        triton_lifecycle_policy=policy,
        security_config=TritonSecurityConfig(access_token=token),
    )
