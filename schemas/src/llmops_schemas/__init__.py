"""Event contracts of the LLMOps platform: the CloudEvents envelope and the versioned payloads."""

from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.ids import deterministic_uuid7, new_uuid7

__all__ = ["CloudEvent", "EventPayload", "deterministic_uuid7", "new_uuid7"]
