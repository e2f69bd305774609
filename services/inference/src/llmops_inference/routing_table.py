"""The routing table: which upstreams exist and, per public model name, the ordered targets to try.

It is read once at start from ``INFERENCE_ROUTES_FILE`` (YAML) and is the only place upstream addresses
come from; nothing in a request can name or change one::

    upstreams:
      - name: openai                 # referred to by targets
        base_url: https://api.openai.com/v1
        api_key_env: OPENAI_API_KEY  # the env var holding the key; the key itself is never in a file
      - name: triton
        base_url: grpc://127.0.0.1:8001
    models:
      gpt-4o-mini:                   # the name clients send as `model`
        - {backend: openai, upstream: openai, model: gpt-4o-mini, timeout_s: 30}
        - {backend: triton, upstream: triton, model: llm, timeout_s: 60}   # fallback, in order
      text-embedding:
        - {backend: triton, upstream: triton, model: embedder}

Native upstreams (ADR 0018) are targets with ``backend: anthropic``, ``gemini`` or ``azure``: the gateway speaks
their protocol and translates to and from OpenAI's; ``api_version`` is Azure's ``api-version`` (required),
Anthropic's ``anthropic-version`` header or Gemini's path version (both optional).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

__all__ = ["NATIVE_BACKENDS", "BackendKind", "RoutingTable", "RoutingTableError", "Target", "Upstream"]

BackendKind = Literal["triton", "openai", "anthropic", "gemini", "azure"]
NATIVE_BACKENDS = frozenset({"anthropic", "gemini", "azure"})
"""Backends that speak a provider's own protocol (translated to and from OpenAI's: ADR 0018)."""
UpstreamName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RoutingTableError(ValueError):
    """The routes file is missing, not YAML, or inconsistent."""


class Upstream(BaseModel):
    """One server the gateway may call: an OpenAI-compatible HTTP API or a Triton gRPC endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: UpstreamName
    base_url: str = Field(min_length=1, max_length=2048)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_connections: int = Field(
        default=100, ge=1, le=10_000, description="Pooled connections (OpenAI); inference requests in flight (Triton)"
    )
    health_path: str | None = Field(
        default=None, description="OpenAI upstreams: a GET path probed for readiness (e.g. /models); none = passive"
    )
    api_version: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Azure: api-version (required); Anthropic: anthropic-version header; Gemini: path version",
    )

    def api_key(self) -> str | None:
        """The key from the environment, read when a client is built (so it is never stored in the table)."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class Target(BaseModel):
    """One place a model's calls can go, with the upstream's own name for the model."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    backend: BackendKind
    upstream: UpstreamName
    model: ModelName = Field(description="The model name the upstream knows")
    timeout_s: float = Field(default=60.0, gt=0, le=3600)


class RoutingTable(BaseModel):
    """Upstreams and, per public model name, its targets in fallback order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    upstreams: list[Upstream] = Field(default_factory=list)
    models: dict[ModelName, Annotated[list[Target], Field(min_length=1, max_length=16)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> RoutingTable:
        names = [u.name for u in self.upstreams]
        if len(set(names)) != len(names):
            raise ValueError("upstream names must be unique")
        kinds: dict[str, str] = {}
        for model, targets in self.models.items():
            for target in targets:
                if target.upstream not in names:
                    raise ValueError(f"model {model!r}: unknown upstream {target.upstream!r}")
                if kinds.setdefault(target.upstream, target.backend) != target.backend:
                    raise ValueError(f"upstream {target.upstream!r} is used as two kinds of backend")
        for upstream in self.upstreams:
            _check_url(upstream, kinds.get(upstream.name))
        return self

    def backend_of(self, upstream: str) -> BackendKind:
        """The kind of backend an upstream is used as (``openai`` for one no route uses yet)."""
        for targets in self.models.values():
            for target in targets:
                if target.upstream == upstream:
                    return target.backend
        return "openai"

    def targets(self, model: str) -> list[Target] | None:
        """The targets of a public model name, or None if the gateway does not serve it."""
        return self.models.get(model)

    @classmethod
    def load(cls, path: Path) -> RoutingTable:
        """Read and validate a routes file; errors name the file and the field."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingTableError(f"cannot read routes file {path}: {exc}") from exc
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise RoutingTableError(f"invalid routes file {path}: {details}") from None


def _check_url(upstream: Upstream, kind: str | None) -> None:
    """An HTTP upstream needs http(s)://host, a triton one host:port or grpc://host:port (unused: either)."""
    parts = urlsplit(upstream.base_url if "//" in upstream.base_url else "//" + upstream.base_url)
    if kind == "azure" and not upstream.api_version:
        raise ValueError(f"upstream {upstream.name!r}: an azure upstream needs its api_version")
    http = {"http", "https"}
    schemes = {"triton": {"", "grpc"}, None: {"http", "https", "", "grpc"}}.get(kind, http)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(
            f"upstream {upstream.name!r}: base_url {upstream.base_url!r} is not a {kind or 'valid'} address"
        )
