"""The governance-audit service: API keys and roles of every tenant, and the platform's audit trail."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmops-governance-audit")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
