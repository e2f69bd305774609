"""Concrete implementations of :mod:`llmops_ingest.ports` (the Kafka producer itself comes from the kit)."""

from llmops_ingest.adapters.memory import InMemoryPublisher
from llmops_ingest.adapters.redaction import NoopRedactor

__all__ = ["InMemoryPublisher", "NoopRedactor"]
