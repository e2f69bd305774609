"""The ingest service: validates LLM call records (HTTP batches, the raw Kafka topic) and publishes them as events."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmops-ingest")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
