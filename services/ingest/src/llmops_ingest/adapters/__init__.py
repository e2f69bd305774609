"""Concrete implementations of :mod:`llmops_ingest.ports` (the Kafka producer and its fake come from the kit)."""

from llmops_ingest.adapters.redaction import NoopRedactor, PolicyRedactor

__all__ = ["NoopRedactor", "PolicyRedactor"]
