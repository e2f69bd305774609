"""The gateway's recorded calls, redacted before they reach the buffer, Kafka or the spool (docs/pii.md).

The same engine as ingest's (``llmops_pii``) applies the tenant's policy to the call's texts; a type the policy
blocks raises :class:`~llmops_pii.redact.PiiBlocked`, and the recorder refuses the event (counted, logged by
id). The caller's answer is not affected: redaction changes what is stored, never what the client receives.
"""

from __future__ import annotations

from typing import Any

from llmops_pii.calls import CallRedactor
from llmops_pii.policy import PolicyBook
from llmops_schemas.envelope import CloudEvent
from llmops_schemas.v2 import CallRecorded

__all__ = ["EventRedactor"]


def _copy(model: Any, **changes: Any) -> Any:
    return model.model_copy(update=changes)


class EventRedactor:
    """A call event with its tenant's policy applied (the same object when nothing changed)."""

    def __init__(self, book: PolicyBook) -> None:
        self._book = book
        self._calls = CallRedactor(_copy)

    def __call__(self, event: CloudEvent[CallRecorded]) -> CloudEvent[CallRecorded]:
        data = self._calls.redact(event.data, self._book.for_tenant(event.tenant_id))
        return event if data is event.data else event.model_copy(update={"data": data})
