"""One real Triton (PyTriton) model server for the session, started through the service's entrypoint.

The checkpoints are put in place first (``ensure_models`` into ``.cache/models``; a no-op once built),
then ``python -m llmops_model_server.entrypoints.main`` runs on free ports as its own process group
and is stopped with SIGTERM at the end, which must exit 0.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from llmops_kit.infra import free_port
from llmops_kit.infra.process import ManagedProcess
from llmops_model_server.build import ensure_models
from llmops_model_server.config import default_model_dir
from llmops_model_server.models.tokenizer import TextTokenizer

STARTUP_TIMEOUT_S = 180.0
ADMIN_TOKEN = "integration-admin-token"


@dataclass(frozen=True)
class ModelServer:
    http: str
    grpc: str
    metrics_url: str
    process: ManagedProcess


@pytest.fixture(scope="session")
def model_dir() -> Path:
    folder = default_model_dir()
    ensure_models(folder)  # the first build of a fresh checkout happens here
    return folder


@pytest.fixture(scope="session")
def llm_tokenizer(model_dir: Path) -> TextTokenizer:
    return TextTokenizer.from_dir(model_dir / "llm", eos_token="<|endoftext|>")


@pytest.fixture(scope="session")
def model_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    with serve_models(model_dir, tmp_path_factory.mktemp("model-server")) as server:
        yield server


@contextmanager
def serve_models(
    model_dir: Path, folder: Path, module: str = "llmops_model_server.entrypoints.main", **env: str
) -> Iterator[ModelServer]:
    """``python -m <module>`` (the service's entrypoint, or a test's wrapper of it) on free ports, until ready;
    stopped with SIGTERM afterwards, which must exit 0."""
    http, grpc, metrics = free_port(), free_port(), free_port()
    process = ManagedProcess(
        "model-server",
        [sys.executable, "-m", module],
        log_path=folder / "model-server.log",
        env={
            "MODEL_SERVER_HOST": "127.0.0.1",
            "MODEL_SERVER_PORT": str(http),
            "MODEL_SERVER_GRPC_PORT": str(grpc),
            "MODEL_SERVER_METRICS_PORT": str(metrics),
            "MODEL_SERVER_MODEL_DIR": str(model_dir),
            "MODEL_SERVER_BUILD_IF_MISSING": "false",
            "MODEL_SERVER_ADMIN_TOKEN": ADMIN_TOKEN,
            **env,
        },
        ready_url=f"http://127.0.0.1:{http}/v2/health/ready",
    )
    process.start()
    try:
        process.wait_ready(STARTUP_TIMEOUT_S)
        yield ModelServer(f"127.0.0.1:{http}", f"127.0.0.1:{grpc}", f"http://127.0.0.1:{metrics}/metrics", process)
    finally:
        code = process.stop(timeout_s=60)
    if code != 0:
        pytest.fail(f"model server exited with {code} on SIGTERM:\n{process.log_tail(40)}")
