"""``llmops-model-server``: load the checkpoints, bind them to PyTriton and serve until SIGTERM/SIGINT.

Health is Triton's own: ``GET /v2/health/live`` and ``/v2/health/ready`` on the HTTP port (ready once
every model is loaded), ``GET /metrics`` on the metrics port. SIGTERM and SIGINT stop tritonserver
and the model proxies, then the process exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from llmops_kit.logging import configure_logging

from llmops_model_server.bootstrap import load_models, new_triton, python_backend_env
from llmops_model_server.config import ModelServerSettings
from llmops_model_server.serving import bind_models

__all__ = ["main"]

log = logging.getLogger("llmops_model_server")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C: PyTriton's serve loop stops Triton on KeyboardInterrupt."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    settings = ModelServerSettings()
    configure_logging("model-server", settings.log_level)
    os.environ.update(python_backend_env())  # inherited by tritonserver and its python-backend stubs
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        models = load_models(settings)
        with (
            tempfile.TemporaryDirectory(prefix="llmops-pytriton-") as workspace,
            new_triton(settings, Path(workspace) / "pytriton") as triton,
        ):
            bind_models(triton, models.generator, models.embedder, settings)
            log.info(
                "starting triton",
                extra={"http": settings.port, "grpc": settings.grpc_port, "metrics": settings.metrics_port},
            )
            triton.serve()  # starts tritonserver with the bound models, blocks until stopped
    except KeyboardInterrupt:
        log.info("stopping on signal")
    log.info("stopped")
    sys.exit(0)


if __name__ == "__main__":
    main()
