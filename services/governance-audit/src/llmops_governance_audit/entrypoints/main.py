"""``llmops-governance-audit``: JSON logs, then serve the app until SIGTERM/SIGINT."""

from __future__ import annotations

from llmops_kit.http.app import serve
from llmops_kit.logging import configure_logging

from llmops_governance_audit.bootstrap import SERVICE, create_app
from llmops_governance_audit.config import GovernanceAuditSettings

__all__ = ["main"]


def main() -> None:
    """Read settings from the environment and run the service."""
    settings = GovernanceAuditSettings()
    configure_logging(SERVICE, settings.log_level)
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
