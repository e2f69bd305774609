"""Model server settings: ``MODEL_SERVER_*`` (ports, bind address, model folder, batching)."""

from __future__ import annotations

from pathlib import Path

from llmops_kit.infra.paths import cache_dir
from llmops_kit.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

__all__ = ["ModelServerSettings", "default_model_dir"]


def default_model_dir() -> Path:
    """``$LLMOPS_CACHE_DIR/models`` or ``<repo>/.cache/models``; ``.cache/models`` when neither resolves."""
    try:
        return cache_dir() / "models"
    except FileNotFoundError:  # installed as a wheel outside the checkout (container): relative to the cwd
        return Path(".cache/models").resolve()


class ModelServerSettings(ServiceSettings):
    """Where Triton listens, where the checkpoints are, and how requests are batched.

    ``port`` (``MODEL_SERVER_PORT``) is Triton's HTTP/REST port (KServe v2 protocol, health under
    ``/v2/health/*``); ``grpc_port`` and ``metrics_port`` (Prometheus text at ``/metrics``) follow it.
    Defaults are 8100-8102, not Triton's customary 8000-8002, which ingest (8001) and the warehouse (8002) use.
    """

    model_config = SettingsConfigDict(env_prefix="MODEL_SERVER_", extra="ignore", populate_by_name=True)

    port: int = Field(default=8100, ge=0, le=65535, description="HTTP (KServe v2) port")
    grpc_port: int = Field(default=8101, ge=0, le=65535)
    metrics_port: int = Field(default=8102, ge=0, le=65535)
    model_dir: Path = Field(default_factory=default_model_dir, description="Holds llm/ and embedder/")
    build_if_missing: bool = Field(default=True, description="Copy the checkpoints into model_dir at start if absent")
    llm_max_batch_size: int = Field(default=8, ge=1, le=256, description="Most prompts decoded together")
    llm_queue_delay_us: int = Field(default=5000, ge=0, description="How long Triton waits to fill an llm batch")
    llm_max_tokens: int = Field(default=256, ge=1, description="Upper bound on a request's max_tokens")
    embedder_max_batch_size: int = Field(default=32, ge=1, le=1024)
    embedder_queue_delay_us: int = Field(default=2000, ge=0)
    embedder_max_length: int = Field(default=256, ge=8, le=512, description="Tokens per text (longer is cut)")
    admin_token: SecretStr | None = Field(
        default=None,
        description="triton-access-token for Triton's statistics/repository/trace/logging APIs (random if unset)",
    )
    triton_log_verbose: int = Field(default=0, ge=0, le=3)
    startup_timeout_s: float = Field(default=120.0, gt=0)
