"""What the ingest handlers need from the outside world, as small protocols.

Handlers depend on these, never on aiokafka or on a concrete redactor. Events go out through the kit's
:class:`~llmops_kit.kafka.publisher.EventPublisher` (production wires ``EventProducer``, unit tests the
kit's ``InMemoryPublisher``).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["CallStruct", "Redactor"]

CallStruct = Any
"""A validated call record as the struct derived from ``CallRecorded``
(:data:`llmops_ingest.call_structs.CALL_STRUCT`): the model's attribute names and values, frozen. The type is
built at run time from the model, hence ``Any`` here."""


class Redactor(Protocol):
    """The PII-redaction hook: runs on every valid record before it is enveloped and published.

    It returns the record to publish: the same one, or a copy with personal data masked
    (``msgspec.structs.replace(call, ...)``, whose values must stay valid: the result is published as it is),
    or raises :class:`~llmops_pii.redact.PiiBlocked` when the tenant's policy refuses such records.
    It must be deterministic for a given input, so that a client retry still yields an identical event, and
    safe to call from worker threads (the HTTP path validates batches off the event loop).
    """

    def redact(self, call: CallStruct, *, tenant_id: str) -> CallStruct: ...

    def protect_dead_letter(self, value: bytes, *, tenant_id: str) -> bytes:
        """The bytes of a refused raw record as the dead-letter topic may keep them (ADR 0035)."""
        ...
