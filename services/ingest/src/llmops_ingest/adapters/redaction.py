"""The PII-redaction hook's adapters: the tenant's policy applied to every valid record, or nothing.

Ingest calls a :class:`~llmops_ingest.ports.Redactor` on every valid record before publishing it.
:class:`PolicyRedactor` applies the tenant's policy from the shared engine (``llmops_pii``, docs/pii.md) to
the record's texts, copying only the parts that change (``msgspec.structs.replace``); a type the policy blocks
raises :class:`~llmops_pii.redact.PiiBlocked` and the record is refused. :class:`NoopRedactor` keeps records as
they are (``LLMOPS_PII_ENABLED=false``, and tests that are not about redaction).
"""

from __future__ import annotations

import msgspec
from llmops_pii.calls import CallRedactor
from llmops_pii.dead_letters import redact_dead_letter
from llmops_pii.policy import PolicyBook

from llmops_ingest.ports import CallStruct

__all__ = ["NoopRedactor", "PolicyRedactor"]


class NoopRedactor:
    """Publishes records unchanged."""

    def redact(self, call: CallStruct, *, tenant_id: str) -> CallStruct:
        return call

    def protect_dead_letter(self, value: bytes, *, tenant_id: str) -> bytes:
        return value


class PolicyRedactor:
    """Redacts, masks, hashes or blocks personal data and secrets as the tenant's policy says."""

    def __init__(self, book: PolicyBook) -> None:
        self.book = book
        """Its tenants' entries follow their policy records (bootstrap wires the materialiser)."""
        self._calls = CallRedactor(msgspec.structs.replace)

    def redact(self, call: CallStruct, *, tenant_id: str) -> CallStruct:
        return self._calls.redact(call, self.book.for_tenant(tenant_id))

    def protect_dead_letter(self, value: bytes, *, tenant_id: str) -> bytes:
        return redact_dead_letter(value, self.book.for_tenant(tenant_id))
