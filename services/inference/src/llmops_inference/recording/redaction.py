"""The gateway's recorded calls, redacted before they reach Kafka or the spool (docs/pii.md).

The same engine as ingest's (``llmops_pii``) applies the tenant's policy to the call's texts; a type the policy
blocks yields :class:`~llmops_pii.redact.PiiBlocked` in the event's place, and the recorder refuses the event
(counted, logged by id). The caller's answer is not affected: redaction changes what is stored, never what the
client receives.

A batch is redacted and serialised off the event loop, by one of two :class:`BatchRedaction` implementations
(``INFERENCE_REDACT_IN``): :class:`InThreadRedaction`, a worker thread of the gateway's process, or
:class:`~llmops_inference.recording.redaction_process.ProcessRedaction`, a process of its own (the default, ADR
0068), which keeps the scan off the interpreter lock that serves requests. Both pass one contract suite
(``tests/unit/inference/redaction_contract.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from llmops_kit.kafka.publisher import EncodedEvent
from llmops_pii.calls import CallRedactor
from llmops_pii.policy import PiiPolicy
from llmops_pii.redact import PiiBlocked
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

__all__ = ["BatchRedaction", "EventRedactor", "InThreadRedaction", "Redacted"]

Event = CloudEvent[CallRecorded]
Redacted = EncodedEvent | PiiBlocked
"""One event of a batch: serialised with its tenant's policy applied, or refused by that policy."""
PolicyOf = Callable[[str], PiiPolicy]
"""The policy in force for a tenant (``PolicyBook.for_tenant``)."""


def _copy(model: Any, **changes: Any) -> Any:
    return model.model_copy(update=changes)


class EventRedactor:
    """A call event with its tenant's policy applied (the same object when nothing changed); raises
    ``PiiBlocked`` for a type the policy blocks."""

    def __init__(self, policy_of: PolicyOf) -> None:
        self._policy_of = policy_of
        self._calls = CallRedactor(_copy)

    def __call__(self, event: Event) -> Event:
        data = self._calls.redact(event.data, self._policy_of(event.tenant_id))
        return event if data is event.data else event.model_copy(update={"data": data})

    def encode(self, events: Sequence[Event]) -> list[Redacted]:
        """Each event redacted and serialised for Kafka, or the policy's refusal, in order."""
        out: list[Redacted] = []
        for event in events:
            try:
                out.append(EncodedEvent.of(self(event)))
            except PiiBlocked as exc:
                out.append(exc)
        return out


class BatchRedaction(Protocol):
    """Applies the tenants' PII policies to batches of call events and serialises them, off the event loop.

    A component: ``start`` and ``stop`` with the recorder. ``redact`` returns one :data:`Redacted` per event, in
    order, with the policies in force when it was called; it never loses an event (an implementation whose
    helper fails redacts the batch another way).
    """

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def redact(self, events: Sequence[Event]) -> list[Redacted]: ...


class InThreadRedaction:
    """Redaction in a worker thread of the gateway's own process: no helper to start, one interpreter lock."""

    def __init__(self, policy_of: PolicyOf) -> None:
        self._redactor = EventRedactor(policy_of)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def redact(self, events: Sequence[Event]) -> list[Redacted]:
        # Off the event loop: a long prompt takes milliseconds to scan.
        return await asyncio.to_thread(self._redactor.encode, events)
