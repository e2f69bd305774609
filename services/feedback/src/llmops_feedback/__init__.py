"""The feedback service: accepts feedback on calls from reviewers (API keys) and end users (feedback tokens)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmops-feedback")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
