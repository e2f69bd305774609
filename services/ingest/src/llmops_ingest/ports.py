"""What the ingest handlers need from the outside world, as small protocols.

Handlers depend on these, never on aiokafka or on a concrete redactor, so unit tests drive them with
the in-memory fakes in :mod:`llmops_ingest.adapters` and production wires the kit's ``EventProducer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from llmops_schemas.envelope import CloudEvent, EventPayload
from llmops_schemas.v1.calls import CallRecorded

__all__ = ["EventPublisher", "Redactor"]


class EventPublisher(Protocol):
    """Publishes CloudEvents durably.

    ``publish_many`` returns only once every event is acknowledged by the broker and raises if any is
    not, so a caller may tell its client "accepted" exactly when the call returns. Events go to their
    payload's topic (``CallRecorded.topic``) unless ``topic`` overrides it, keyed by tenant. ``encoded``, when
    given, holds each event's ``to_json_bytes()`` already computed (ingest has them from its size check).
    ``llmops_kit.kafka.producer.EventProducer`` satisfies this protocol.
    """

    async def publish_many(
        self,
        events: Sequence[CloudEvent[EventPayload]],
        *,
        topic: str | None = None,
        encoded: Sequence[bytes] | None = None,
    ) -> None: ...


class Redactor(Protocol):
    """The PII-redaction hook: runs on every valid record before it is enveloped and published.

    It returns the record to publish (the same one, or a copy with personal data masked). It must be
    deterministic for a given input, so that a client retry still yields an identical event, and safe to
    call from worker threads (the HTTP path validates batches off the event loop).
    """

    def redact(self, call: CallRecorded, *, tenant_id: str) -> CallRecorded: ...
