"""``llmops-drift-detection``: JSON logs, then serve the app (and its faust worker) until SIGTERM/SIGINT."""

from __future__ import annotations

from llmops_kit.http.app import serve
from llmops_kit.logging import configure_logging

from llmops_drift_detection.bootstrap import SERVICE, create_app
from llmops_drift_detection.config import DriftDetectionSettings

__all__ = ["main"]


def main() -> None:
    """Read settings from the environment and run the service."""
    settings = DriftDetectionSettings()
    configure_logging(SERVICE, settings.log_level)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
